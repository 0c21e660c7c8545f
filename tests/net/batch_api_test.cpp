#include "net/batch_api.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "personagen/error.h"
#include "support/serve_in_background.h"
#include "support/unit_support.h"

namespace personagen {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A key no message may contain; long and odd, so a match is never by chance.
constexpr const char* kKey = "sk-test-Zq8vN3distinctive-KEY-0xBEEF";

// What the stub saw of one request.
struct Seen {
  std::string method, path, body, authorization;
  std::map<std::string, std::string> params;
  std::map<std::string, httplib::MultipartFormData> files;
};

// What the stub answers.
struct Reply {
  Reply() = default;
  Reply(int status_, std::string body_, std::string retry_after_ = "", bool hang_ = false)
      : status(status_),
        body(std::move(body_)),
        retry_after(std::move(retry_after_)),
        hang(hang_) {}

  int status = 200;
  std::string body;
  std::string retry_after;  // the Retry-After header, when not empty
  bool hang = false;        // hold the request until the test ends
};

// A batch object as the Batches API returns one.
json batch_json(const std::string& id, const std::string& status = "validating") {
  return {{"id", id},
          {"object", "batch"},
          {"endpoint", "/v1/chat/completions"},
          {"status", status},
          {"input_file_id", "file-in"},
          {"output_file_id", nullptr},
          {"error_file_id", nullptr},
          {"errors", nullptr},
          {"request_counts", {{"total", 0}, {"completed", 0}, {"failed", 0}}},
          {"metadata", {{"run", "r1"}}}};
}

std::string error_json(const std::string& message) {
  return json{{"error", {{"message", message}, {"type", "invalid_request_error"}}}}.dump();
}

// A stub of the Files and Batches endpoints under /v1 on 127.0.0.1 and an ephemeral port; each
// test sets what it answers with respond() and reads what it was sent with seen().
class BatchApiTest : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      handle(req, res);
    };
    server_.Get(R"(/v1/.*)", handler);
    server_.Post(R"(/v1/.*)", handler);
    server_.set_tcp_nodelay(true);  // else each reply waits for a delayed ACK (~40 ms)
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    ASSERT_TRUE(serve_in_background(server_, thread_));
  }

  void TearDown() override {
    {
      std::lock_guard lock(mutex_);
      released_ = true;
    }
    released_cv_.notify_all();
    server_.stop();
    if (thread_.joinable()) thread_.join();
    TempDirTest::TearDown();
  }

  // Answers every request with `answer(request, n)`, n counting requests from 1.
  void respond(std::function<Reply(const Seen&, size_t)> answer) {
    std::lock_guard lock(mutex_);
    answer_ = std::move(answer);
  }

  std::vector<Seen> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

  BatchApiOptions options(const std::string& key = kKey) const {
    BatchApiOptions options;
    options.base_url = "http://127.0.0.1:" + std::to_string(port_) + "/v1";
    options.api_key = key;
    options.timeout_seconds = 5;
    return options;
  }

 private:
  void handle(const httplib::Request& req, httplib::Response& res) {
    Reply reply;
    {
      std::unique_lock lock(mutex_);
      Seen seen{req.method, req.path, req.body, req.get_header_value("Authorization"), {}, {}};
      for (const auto& [name, value] : req.params) seen.params[name] = value;
      for (const auto& [name, file] : req.files) seen.files[name] = file;
      seen_.push_back(seen);
      if (answer_) {
        reply = answer_(seen, seen_.size());
      } else {
        reply = Reply(404, error_json("stub: nothing set up"));
      }
      if (reply.hang) {
        released_cv_.wait_for(lock, std::chrono::seconds(10), [this] { return released_; });
      }
    }
    res.status = reply.status;
    if (!reply.retry_after.empty()) res.set_header("Retry-After", reply.retry_after);
    // With a charset the type is not on httplib's list to compress (with brotli at its slowest).
    res.set_content(reply.body, "application/json; charset=utf-8");
  }

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  std::condition_variable released_cv_;
  bool released_ = false;
  std::function<Reply(const Seen&, size_t)> answer_;
  std::vector<Seen> seen_;
};

TEST_F(BatchApiTest, UploadSendsMultipartWithPurposeBatchAndTheFileBytes) {
  std::string bytes = "{\"custom_id\":\"a\"}\n{\"custom_id\":\"b\"}\r\n";
  bytes += std::string("\0\xff tail", 7);
  write_file(path("on-disk.jsonl"), bytes);
  // The first attempt fails, so the file must be streamed whole a second time.
  respond([&](const Seen&, size_t n) {
    if (n == 1) return Reply{502, error_json("bad gateway"), "0"};
    return Reply{200, json{{"id", "file-abc"},
                           {"object", "file"},
                           {"bytes", bytes.size()},
                           {"filename", "batch-1.jsonl"},
                           {"purpose", "batch"}}
                          .dump()};
  });
  RemoteFile file = BatchApi(options()).upload(path("on-disk.jsonl"), "batch-1.jsonl");
  EXPECT_EQ(file.id, "file-abc");
  EXPECT_EQ(file.filename, "batch-1.jsonl");
  EXPECT_EQ(file.purpose, "batch");
  EXPECT_EQ(file.bytes, bytes.size());

  auto requests = seen();
  ASSERT_EQ(requests.size(), 2u);
  for (const Seen& request : requests) {
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.path, "/v1/files");
    EXPECT_EQ(request.authorization, std::string("Bearer ") + kKey);
    ASSERT_EQ(request.files.count("purpose"), 1u);
    EXPECT_EQ(request.files.at("purpose").content, "batch");
    ASSERT_EQ(request.files.count("file"), 1u);
    EXPECT_EQ(request.files.at("file").content, bytes);
    EXPECT_EQ(request.files.at("file").filename, "batch-1.jsonl");
  }
}

TEST_F(BatchApiTest, UploadOfAMissingFileThrowsNamingItAndSendsNothing) {
  std::string missing = path("nope.jsonl");
  std::string message = error_of([&] { BatchApi(options()).upload(missing, "nope.jsonl"); });
  EXPECT_NE(message.find(missing), std::string::npos) << message;
  EXPECT_TRUE(seen().empty());
}

TEST_F(BatchApiTest, CreateSendsTheDocumentedJsonAndParsesTheBatch) {
  respond([](const Seen&, size_t) { return Reply{200, batch_json("batch_1").dump()}; });
  RemoteBatch batch = BatchApi(options()).create("file-in", {{"run", "r1"}, {"part", "3"}});
  EXPECT_EQ(batch.id, "batch_1");
  EXPECT_EQ(batch.status, "validating");
  EXPECT_EQ(batch.input_file_id, "file-in");
  EXPECT_EQ(batch.metadata.at("run"), "r1");
  EXPECT_FALSE(batch.terminal());

  auto requests = seen();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].path, "/v1/batches");
  json body = json::parse(requests[0].body);
  EXPECT_EQ(body, (json{{"input_file_id", "file-in"},
                        {"endpoint", "/v1/chat/completions"},
                        {"completion_window", "24h"},
                        {"metadata", {{"run", "r1"}, {"part", "3"}}}}));
}

TEST_F(BatchApiTest, GetParsesCountsAndIdsWithNullAsEmpty) {
  respond([](const Seen& request, size_t) {
    json batch = batch_json("batch_7", "completed");
    batch["output_file_id"] = "file-out";
    batch["request_counts"] = {{"total", 10}, {"completed", 8}, {"failed", 2}};
    return Reply{request.path == "/v1/batches/batch_7" ? 200 : 404, batch.dump()};
  });
  // A trailing slash on the base URL is tolerated.
  BatchApiOptions given = options();
  given.base_url += "/";
  RemoteBatch batch = BatchApi(given).get("batch_7");
  EXPECT_EQ(batch.output_file_id, "file-out");
  EXPECT_EQ(batch.error_file_id, "");
  EXPECT_EQ(batch.total, 10u);
  EXPECT_EQ(batch.completed, 8u);
  EXPECT_EQ(batch.failed, 2u);
  EXPECT_EQ(batch.errors, "");
  EXPECT_TRUE(batch.terminal());
  EXPECT_EQ(seen().at(0).method, "GET");
}

TEST(BatchApiParse, TerminalOnlyForTheFourFinalStatuses) {
  for (const char* status : {"completed", "failed", "expired", "cancelled"}) {
    EXPECT_TRUE(parse_batch(batch_json("b", status).dump()).terminal()) << status;
  }
  for (const char* status : {"validating", "in_progress", "finalizing", "cancelling"}) {
    EXPECT_FALSE(parse_batch(batch_json("b", status).dump()).terminal()) << status;
  }
}

TEST(BatchApiParse, ErrorsDataBecomeOneLine) {
  json batch = batch_json("b", "failed");
  batch["errors"] = {{"object", "list"},
                     {"data",
                      {{{"code", "invalid_request"}, {"message", "bad\nmodel"}, {"line", 3}},
                       {{"code", "too_large"}, {"message", "file too large"}, {"line", nullptr}}}}};
  EXPECT_EQ(parse_batch(batch.dump()).errors,
            "line 3: invalid_request: bad model; too_large: file too large");
}

TEST(BatchApiParse, NamesWhatIsMissingOrWrong) {
  json no_id = batch_json("b");
  no_id.erase("id");
  EXPECT_NE(error_of([&] { parse_batch(no_id.dump()); }).find("\"id\""), std::string::npos);
  json bad_counts = batch_json("b");
  bad_counts["request_counts"]["total"] = "ten";
  EXPECT_NE(error_of([&] { parse_batch(bad_counts.dump()); }).find("\"total\""), std::string::npos);
  EXPECT_NE(error_of([] { parse_batch("[1]"); }), "");
  EXPECT_NE(error_of([] { parse_batch("{"); }), "");
}

TEST_F(BatchApiTest, ListBatchesFollowsAfterWhileHasMoreUpToMax) {
  // Three pages of two; each page names its last id, as OpenAI's do.
  respond([](const Seen& request, size_t) {
    std::string after = request.params.count("after") ? request.params.at("after") : "";
    int page = after.empty() ? 0 : after == "b1" ? 1 : after == "b3" ? 2 : -1;
    if (page < 0) return Reply{400, error_json("bad cursor " + after)};
    json data = json::array({batch_json("b" + std::to_string(2 * page)),
                             batch_json("b" + std::to_string(2 * page + 1))});
    return Reply{200, json{{"object", "list"},
                           {"data", data},
                           {"last_id", "b" + std::to_string(2 * page + 1)},
                           {"has_more", page < 2}}
                          .dump()};
  });
  BatchApi api(options());
  std::vector<RemoteBatch> all = api.list_batches();
  ASSERT_EQ(all.size(), 6u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].id, "b" + std::to_string(i));
  auto requests = seen();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].params.count("after"), 0u);
  EXPECT_EQ(requests[0].params.at("limit"), "100");
  EXPECT_EQ(requests[1].params.at("after"), "b1");
  EXPECT_EQ(requests[2].params.at("after"), "b3");

  std::vector<RemoteBatch> three = api.list_batches(3);
  ASSERT_EQ(three.size(), 3u);
  EXPECT_EQ(three[2].id, "b2");
  EXPECT_EQ(seen().size(), 5u);  // two more pages, not a third
}

TEST_F(BatchApiTest, ListFilesAsksForBatchFiles) {
  respond([](const Seen&, size_t) {
    json file = {{"id", "file-1"}, {"filename", "a.jsonl"}, {"purpose", "batch"}, {"bytes", 12}};
    return Reply{200, json{{"object", "list"}, {"data", {file}}, {"has_more", false}}.dump()};
  });
  std::vector<RemoteFile> files = BatchApi(options()).list_files();
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].id, "file-1");
  EXPECT_EQ(files[0].bytes, 12u);
  EXPECT_EQ(seen().at(0).path, "/v1/files");
  EXPECT_EQ(seen().at(0).params.at("purpose"), "batch");
}

TEST_F(BatchApiTest, CancelPostsToTheBatchsCancel) {
  respond([](const Seen&, size_t) {
    return Reply{200, batch_json("batch_9", "cancelling").dump()};
  });
  RemoteBatch batch = BatchApi(options()).cancel("batch_9");
  EXPECT_EQ(batch.status, "cancelling");
  EXPECT_FALSE(batch.terminal());
  EXPECT_EQ(seen().at(0).method, "POST");
  EXPECT_EQ(seen().at(0).path, "/v1/batches/batch_9/cancel");
}

TEST_F(BatchApiTest, DownloadWritesExactlyTheBytesAndLeavesNoTmp) {
  std::string bytes;
  for (int i = 0; i < 50000; ++i) bytes += "{\"i\":" + std::to_string(i) + "}\n";
  bytes += std::string("\0\x01\xfe", 3);
  respond([&](const Seen& request, size_t) {
    return request.path == "/v1/files/file-out/content" ? Reply{200, bytes}
                                                        : Reply{404, error_json("no such file")};
  });
  std::string out = path("out.jsonl");
  BatchApi(options()).download("file-out", out);
  EXPECT_EQ(read_file(out), bytes);
  EXPECT_FALSE(std::filesystem::exists(out + ".tmp"));
}

TEST_F(BatchApiTest, DownloadOf404LeavesNoFileAndNamesTheFileId) {
  respond([](const Seen&, size_t) { return Reply{404, error_json("No such File object")}; });
  std::string out = path("out.jsonl");
  std::string message = error_of([&] { BatchApi(options()).download("file-gone", out); });
  EXPECT_NE(message.find("file-gone"), std::string::npos) << message;
  EXPECT_NE(message.find("404: No such File object"), std::string::npos) << message;
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_FALSE(std::filesystem::exists(out + ".tmp"));
  EXPECT_EQ(seen().size(), 1u);  // a 404 is not retried
}

TEST_F(BatchApiTest, CreateRetriesA500AndThenSucceeds) {
  respond([](const Seen&, size_t n) {
    return n == 1 ? Reply{500, error_json("boom")} : Reply{200, batch_json("batch_2").dump()};
  });
  EXPECT_EQ(BatchApi(options()).create("file-in", {}).id, "batch_2");
  EXPECT_EQ(seen().size(), 2u);
}

TEST_F(BatchApiTest, RetriesA429WithRetryAfterZero) {
  respond([](const Seen&, size_t n) {
    return n <= 2 ? Reply{429, error_json("slow down"), "0"}
                  : Reply{200, batch_json("batch_3").dump()};
  });
  EXPECT_EQ(BatchApi(options()).get("batch_3").id, "batch_3");
  EXPECT_EQ(seen().size(), 3u);
}

TEST_F(BatchApiTest, ThrowsTheLastErrorAfterMaxRetries) {
  respond([](const Seen&, size_t n) {
    return Reply{503, error_json("overloaded " + std::to_string(n)), "0"};
  });
  BatchApiOptions given = options();
  given.max_retries = 2;
  std::string message = error_of([&] { BatchApi(given).get("batch_4"); });
  EXPECT_EQ(message, "GET /v1/batches/batch_4: 503: overloaded 3");
  EXPECT_EQ(seen().size(), 3u);
}

TEST_F(BatchApiTest, UnauthorizedThrowsTheAuthCodeWithoutTheKey) {
  respond([](const Seen& request, size_t) {
    // Servers quote the key they refused; the error must not.
    return Reply{401, error_json("Incorrect API key provided: " + request.authorization)};
  });
  ExitCode code = ExitCode::ok;
  std::string message = error_of([&] { BatchApi(options()).list_files(); }, &code);
  EXPECT_EQ(code, ExitCode::error);
  EXPECT_NE(message.find("GET /v1/files"), std::string::npos) << message;
  EXPECT_NE(message.find("401: Incorrect API key provided"), std::string::npos) << message;
  EXPECT_EQ(message.find(kKey), std::string::npos) << message;
  EXPECT_EQ(seen().size(), 1u);
  EXPECT_EQ(seen().at(0).authorization, std::string("Bearer ") + kKey);  // it was sent
}

TEST_F(BatchApiTest, BadRequestThrowsOneLineWithTheServersMessage) {
  respond([](const Seen&, size_t) {
    return Reply{400, error_json("endpoint must be /v1/chat/completions")};
  });
  std::string message = error_of([&] { BatchApi(options()).create("file-in", {}); });
  EXPECT_EQ(message, "POST /v1/batches: 400: endpoint must be /v1/chat/completions");
  EXPECT_EQ(seen().size(), 1u);
}

TEST_F(BatchApiTest, CreateIsNotSentAgainAfterATimeoutButAGetIs) {
  // The first two requests are held past the client's timeout; the third is answered.
  respond([](const Seen&, size_t n) { return Reply{200, batch_json("b").dump(), "", n <= 2}; });
  BatchApiOptions given = options();
  given.timeout_seconds = 0.2;
  given.max_retries = 1;
  BatchApi api(given);
  std::string message = error_of([&] { api.create("file-in", {}); });
  EXPECT_NE(message.find("POST /v1/batches: Timeout"), std::string::npos) << message;
  EXPECT_NE(message.find("not sent again"), std::string::npos) << message;
  EXPECT_EQ(seen().size(), 1u);
  EXPECT_EQ(api.get("b").id, "b");
  EXPECT_EQ(seen().size(), 3u);
}

TEST_F(BatchApiTest, AnEmptyIdIsRefusedBeforeAnythingIsSent) {
  BatchApi api(options());
  EXPECT_NE(error_of([&] { api.get(""); }), "");
  EXPECT_NE(error_of([&] { api.cancel(""); }), "");
  EXPECT_NE(error_of([&] { api.download("", path("out")); }), "");
  EXPECT_TRUE(seen().empty());
  EXPECT_FALSE(std::filesystem::exists(path("out.tmp")));
}

TEST(BatchApiConnect, ATransportErrorNamesCurlsMessage) {
  // A port that was just free: nothing listens there.
  int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  ASSERT_EQ(::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(sock, reinterpret_cast<sockaddr*>(&addr), &length), 0);
  ::close(sock);
  BatchApiOptions given;
  given.base_url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/v1";
  given.api_key = kKey;
  given.max_retries = 0;
  std::string message = error_of([&] { BatchApi(given).create("file-in", {}); });
  EXPECT_NE(message.find("POST /v1/batches: Couldn't connect"), std::string::npos) << message;
  EXPECT_EQ(message.find(kKey), std::string::npos) << message;
}

}  // namespace
}  // namespace personagen
