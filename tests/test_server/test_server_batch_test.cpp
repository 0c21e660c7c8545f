#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_server/test_server.h"
#include "test_server/test_server_client.h"

// The test server's Batch API: files, batches and their workers, the results a batch writes,
// and its faults (delays, expiry, failed validation, cancel).

namespace personagen::testing {
namespace {

constexpr milliseconds kWait(5000);

// A batch input line for the chat endpoint whose user message is `prompt`.
std::string input_line(const std::string& custom_id, const std::string& prompt) {
  Json line = {{"custom_id", custom_id},
               {"method", "POST"},
               {"url", kChatPath},
               {"body", Json::parse(chat_body(prompt))}};
  return line.dump() + "\n";
}

// An input file of `n` lines with custom_ids "req-0".. and prompts "prompt 0"..
std::string input_file(size_t n) {
  std::string text;
  for (size_t i = 0; i < n; ++i) {
    text += input_line("req-" + std::to_string(i), "prompt " + std::to_string(i));
  }
  return text;
}

Json parsed(const httplib::Result& result, int status) {
  EXPECT_EQ(status_of(result), status) << (result ? result->body : "no reply");
  return result ? Json::parse(result->body, nullptr, false) : Json();
}

Json upload(httplib::Client& client, const std::string& content,
            const std::string& filename = "input.jsonl") {
  httplib::MultipartFormDataItems items = {{"purpose", "batch", "", ""},
                                           {"file", content, filename, "application/jsonl"}};
  return parsed(client.Post("/v1/files", items), 200);
}

Json create_batch(httplib::Client& client, const std::string& file_id) {
  Json body = {{"input_file_id", file_id},
               {"endpoint", kChatPath},
               {"completion_window", "24h"},
               {"metadata", {{"run", "test"}}}};
  return parsed(client.Post("/v1/batches", body.dump(), "application/json"), 200);
}

// Uploads `content`, creates a batch of it and waits for the batch to reach `status`.
Json run_batch(TestServer& server, httplib::Client& client, const std::string& content,
               const std::string& status = "completed") {
  Json batch = create_batch(client, upload(client, content)["id"]);
  EXPECT_TRUE(server.wait_for_batch_status(batch["id"], status, kWait)) << batch.dump();
  return parsed(client.Get("/v1/batches/" + batch["id"].get<std::string>()), 200);
}

// The lines of a file, parsed, in the order the file holds them.
std::vector<Json> file_lines(httplib::Client& client, const Json& file_id) {
  if (!file_id.is_string()) return {};
  auto result = client.Get("/v1/files/" + file_id.get<std::string>() + "/content");
  EXPECT_EQ(status_of(result), 200);
  std::vector<Json> lines;
  for (size_t at = 0; result && at < result->body.size();) {
    size_t end = result->body.find('\n', at);
    lines.push_back(Json::parse(result->body.substr(at, end - at)));
    at = end + 1;
  }
  return lines;
}

std::vector<std::string> custom_ids(const std::vector<Json>& lines) {
  std::vector<std::string> ids;
  for (const Json& line : lines) ids.push_back(line["custom_id"]);
  return ids;
}

std::vector<std::string> sorted(std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

TEST(TestServerBatchTest, FilesRoundTripThroughUploadListAndContent) {
  // Given a server and two uploaded files
  TestServer server;
  httplib::Client client = client_for(server);
  Json first = upload(client, "one\n", "a.jsonl");
  Json second = upload(client, "two lines\n", "b.jsonl");

  // When the files are listed, one is fetched and its content read
  Json list = parsed(client.Get("/v1/files"), 200);
  Json fetched = parsed(client.Get("/v1/files/" + first["id"].get<std::string>()), 200);
  auto content = client.Get("/v1/files/" + second["id"].get<std::string>() + "/content");

  // Then the objects describe the uploads, newest first, and the bytes come back as sent
  EXPECT_EQ(first["object"], "file");
  EXPECT_EQ(first["purpose"], "batch");
  EXPECT_EQ(first["filename"], "a.jsonl");
  EXPECT_EQ(first["bytes"], 4);
  EXPECT_TRUE(first["created_at"].is_number_integer());
  EXPECT_NE(first["id"], second["id"]);
  EXPECT_EQ(list["object"], "list");
  ASSERT_EQ(list["data"].size(), 2u);
  EXPECT_EQ(list["data"][0], second);
  EXPECT_EQ(list["data"][1], first);
  EXPECT_EQ(fetched, first);
  ASSERT_EQ(status_of(content), 200);
  EXPECT_EQ(content->body, "two lines\n");
  EXPECT_EQ(server.file_uploads(), 2u);
  EXPECT_EQ(server.uploaded_filenames(), (std::vector<std::string>{"a.jsonl", "b.jsonl"}));
}

TEST(TestServerBatchTest, UploadsWithoutBatchPurposeOrFileAreRefused) {
  // Given a server
  TestServer server;
  httplib::Client client = client_for(server);

  // When uploads lack the purpose, have another purpose, or lack the file
  auto no_purpose = client.Post("/v1/files", {{"file", "x", "a.jsonl", ""}});
  auto fine_tune =
      client.Post("/v1/files", {{"purpose", "fine-tune", "", ""}, {"file", "x", "a.jsonl", ""}});
  auto no_file = client.Post("/v1/files", {{"purpose", "batch", "", ""}});

  // Then each is a 400 with an error body, and nothing is stored
  for (const auto* result : {&no_purpose, &fine_tune, &no_file}) {
    EXPECT_TRUE(parsed(*result, 400)["error"]["message"].is_string());
  }
  EXPECT_EQ(server.file_uploads(), 0u);
  EXPECT_EQ(parsed(client.Get("/v1/files"), 200)["data"].size(), 0u);
}

TEST(TestServerBatchTest, BatchRunsEveryLineThroughTheChatPath) {
  // Given an uploaded file of three requests
  TestServer server;
  httplib::Client client = client_for(server);
  Json file = upload(client, input_file(3));

  // When a batch of it is created and has completed
  Json created = create_batch(client, file["id"]);
  ASSERT_TRUE(server.wait_for_batch_status(created["id"], "completed", kWait));
  Json batch = parsed(client.Get("/v1/batches/" + created["id"].get<std::string>()), 200);

  // Then the batch was created validating, and ends completed with every line in the output
  EXPECT_EQ(created["object"], "batch");
  EXPECT_EQ(created["status"], "validating");
  EXPECT_EQ(created["endpoint"], kChatPath);
  EXPECT_EQ(created["input_file_id"], file["id"]);
  EXPECT_EQ(created["completion_window"], "24h");
  EXPECT_TRUE(created["errors"].is_null());
  EXPECT_TRUE(created["output_file_id"].is_null());
  EXPECT_EQ(created["metadata"], (Json{{"run", "test"}}));
  EXPECT_EQ(batch["status"], "completed");
  EXPECT_EQ(batch["request_counts"], (Json{{"total", 3}, {"completed", 3}, {"failed", 0}}));
  EXPECT_TRUE(batch["error_file_id"].is_null());
  EXPECT_TRUE(batch["completed_at"].is_number_integer());
  EXPECT_TRUE(batch["in_progress_at"].is_number_integer());
  Json output = parsed(client.Get("/v1/files/" + batch["output_file_id"].get<std::string>()), 200);
  EXPECT_EQ(output["purpose"], "batch_output");
  std::vector<Json> lines = file_lines(client, batch["output_file_id"]);
  EXPECT_EQ(sorted(custom_ids(lines)), (std::vector<std::string>{"req-0", "req-1", "req-2"}));
  std::set<std::string> request_ids;
  for (const Json& line : lines) {
    EXPECT_TRUE(line["error"].is_null());
    EXPECT_EQ(line["response"]["status_code"], 200);
    request_ids.insert(line["id"].get<std::string>());
    std::string prompt = "prompt " + line["custom_id"].get<std::string>().substr(4);
    EXPECT_EQ(content_of(line["response"]["body"].dump())["prompt"], prompt);
  }
  EXPECT_EQ(request_ids.size(), 3u);

  // And the server counted the batch and the poll, and the lines apart from chat requests
  EXPECT_EQ(server.batches_created(), 1u);
  EXPECT_EQ(server.batch_polls(), 1u);
  EXPECT_EQ(server.batch_line_requests().size(), 3u);
  EXPECT_EQ(server.chat_request_count(), 0u);
}

TEST(TestServerBatchTest, FaultedLinesGoToTheErrorFileAndSucceedWhenResubmitted) {
  // Given a file with a good line, a line marked for one 500 and one marked for a dropped reply
  TestServer server;
  httplib::Client client = client_for(server);
  std::string faulted = input_line("bad", "p [[fault:500]]");
  std::string content = input_line("good", "p") + faulted + input_line("drop", "q [[fault:drop]]");

  // When it runs as a batch
  Json batch = run_batch(server, client, content);

  // Then the faulted lines land in the error file with status 500 and an error body
  EXPECT_EQ(batch["request_counts"], (Json{{"total", 3}, {"completed", 1}, {"failed", 2}}));
  EXPECT_EQ(custom_ids(file_lines(client, batch["output_file_id"])),
            std::vector<std::string>{"good"});
  std::vector<Json> errors = file_lines(client, batch["error_file_id"]);
  EXPECT_EQ(sorted(custom_ids(errors)), (std::vector<std::string>{"bad", "drop"}));
  for (const Json& line : errors) {
    EXPECT_EQ(line["response"]["status_code"], 500) << line.dump();
    EXPECT_TRUE(line["response"]["body"]["error"]["message"].is_string()) << line.dump();
  }

  // And the same 500 line, resubmitted, has used up its fault and succeeds
  Json again = run_batch(server, client, faulted);
  EXPECT_EQ(again["request_counts"]["completed"], 1);
  EXPECT_EQ(custom_ids(file_lines(client, again["output_file_id"])),
            std::vector<std::string>{"bad"});
}

TEST(TestServerBatchTest, FirstBatchesExpireAfterSomeLinesAndLaterOnesRunFully) {
  // Given a server whose first batch expires after two lines
  TestServer server({.batch_expire_after = 2, .expire_batches = 1});
  httplib::Client client = client_for(server);

  // When two batches of five lines run
  Json expired = run_batch(server, client, input_file(5), "expired");
  Json second = run_batch(server, client, input_file(5));

  // Then the first expired with two results and three batch_expired lines
  EXPECT_EQ(expired["status"], "expired");
  EXPECT_TRUE(expired["expired_at"].is_number_integer());
  EXPECT_EQ(expired["request_counts"], (Json{{"total", 5}, {"completed", 2}, {"failed", 0}}));
  EXPECT_EQ(sorted(custom_ids(file_lines(client, expired["output_file_id"]))),
            (std::vector<std::string>{"req-0", "req-1"}));
  std::vector<Json> unrun = file_lines(client, expired["error_file_id"]);
  EXPECT_EQ(sorted(custom_ids(unrun)), (std::vector<std::string>{"req-2", "req-3", "req-4"}));
  for (const Json& line : unrun) {
    EXPECT_TRUE(line["response"].is_null());
    EXPECT_EQ(line["error"]["code"], "batch_expired");
  }

  // And the second ran every line
  EXPECT_EQ(second["status"], "completed");
  EXPECT_EQ(file_lines(client, second["output_file_id"]).size(), 5u);
  EXPECT_TRUE(second["error_file_id"].is_null());
}

TEST(TestServerBatchTest, InjectedValidationFailureFailsEveryBatch) {
  // Given a server that fails every batch's validation
  TestServer server({.batch_fail_validation = true});
  httplib::Client client = client_for(server);

  // When a good file runs as a batch
  Json batch = run_batch(server, client, input_file(2), "failed");

  // Then it failed with one error naming line 1, and nothing ran
  EXPECT_TRUE(batch["failed_at"].is_number_integer());
  ASSERT_EQ(batch["errors"]["data"].size(), 1u);
  EXPECT_EQ(batch["errors"]["object"], "list");
  EXPECT_EQ(batch["errors"]["data"][0]["line"], 1);
  EXPECT_EQ(batch["errors"]["data"][0]["code"], "invalid_request");
  EXPECT_TRUE(batch["output_file_id"].is_null());
  EXPECT_TRUE(batch["error_file_id"].is_null());
  EXPECT_TRUE(server.batch_line_requests().empty());
}

TEST(TestServerBatchTest, BadLinesFailValidationNamingEachLine) {
  // Given a file whose line 2 repeats a custom_id and line 3 is for another endpoint, and one
  // whose only line is not an object
  TestServer server;
  httplib::Client client = client_for(server);
  std::string other_url = R"({"custom_id":"c","method":"POST","url":"/v1/embeddings","body":{}})";
  std::string content = input_line("a", "x") + input_line("a", "y") + other_url + "\n";

  // When each runs as a batch
  Json batch = run_batch(server, client, content, "failed");
  Json not_object = run_batch(server, client, "[1]\n", "failed");

  // Then each bad line is listed with its code and number, and nothing ran
  Json errors = batch["errors"]["data"];
  ASSERT_EQ(errors.size(), 2u) << errors.dump();
  EXPECT_EQ(errors[0]["code"], "duplicate_custom_id");
  EXPECT_EQ(errors[0]["line"], 2);
  EXPECT_EQ(errors[1]["code"], "invalid_request");
  EXPECT_EQ(errors[1]["line"], 3);
  EXPECT_EQ(not_object["errors"]["data"][0]["line"], 1);
  EXPECT_TRUE(server.batch_line_requests().empty());
}

TEST(TestServerBatchTest, CancelMidRunLeavesTheUnrunLinesCancelled) {
  // Given a batch of ten slow lines, two of which have run
  TestServer server({.batch_line_delay_ms = 50});
  httplib::Client client = client_for(server);
  Json batch = create_batch(client, upload(client, input_file(10))["id"]);
  std::string path = "/v1/batches/" + batch["id"].get<std::string>();
  ASSERT_TRUE(server.wait_for_batch_lines(2, kWait));

  // When it is cancelled, and cancelled again once it has stopped
  Json cancelling = parsed(client.Post(path + "/cancel"), 200);
  ASSERT_TRUE(server.wait_for_batch_status(batch["id"], "cancelled", kWait));
  Json cancelled = parsed(client.Post(path + "/cancel"), 200);

  // Then it went cancelling, then cancelled, and the lines that never ran are batch_cancelled
  EXPECT_EQ(cancelling["status"], "cancelling");
  EXPECT_EQ(cancelled["status"], "cancelled");
  EXPECT_TRUE(cancelled["cancelled_at"].is_number_integer());
  size_t ran = server.batch_line_requests().size();
  EXPECT_LT(ran, 10u);
  EXPECT_EQ(cancelled["request_counts"]["completed"], ran);
  EXPECT_EQ(file_lines(client, cancelled["output_file_id"]).size(), ran);
  std::vector<Json> unrun = file_lines(client, cancelled["error_file_id"]);
  EXPECT_EQ(unrun.size(), 10u - ran);
  for (const Json& line : unrun) EXPECT_EQ(line["error"]["code"], "batch_cancelled");
  EXPECT_EQ(server.batch_cancels(), 2u);
}

TEST(TestServerBatchTest, BatchDelayHoldsABatchBeforeItsLinesRun) {
  // Given a server whose batches wait 200 ms before running
  TestServer server({.batch_delay_ms = 200});
  httplib::Client client = client_for(server);
  auto started = Clock::now();

  // When a batch is created
  Json batch = create_batch(client, upload(client, input_file(1))["id"]);

  // Then it goes in progress before it completes, no sooner than the delay
  EXPECT_TRUE(server.wait_for_batch_status(batch["id"], "in_progress", kWait));
  ASSERT_TRUE(server.wait_for_batch_status(batch["id"], "completed", kWait));
  EXPECT_GE(Clock::now() - started, milliseconds(200));
}

TEST(TestServerBatchTest, StopEndsAWaitingWorkerAtOnce) {
  // Given a batch whose next line waits a minute
  TestServer server({.batch_line_delay_ms = 60000});
  httplib::Client client = client_for(server);
  Json batch = create_batch(client, upload(client, input_file(2))["id"]);
  ASSERT_TRUE(server.wait_for_batch_status(batch["id"], "in_progress", kWait));

  // When the server stops
  auto stopping = Clock::now();
  server.stop();

  // Then it did not wait for the line
  EXPECT_LT(Clock::now() - stopping, milliseconds(3000));
  EXPECT_TRUE(server.batch_line_requests().empty());
}

TEST(TestServerBatchTest, ResultsAreShuffledTheSameWayEveryRun) {
  // Given two servers with the same seed
  TestServer server;
  TestServer twin;
  httplib::Client client = client_for(server);
  httplib::Client twin_client = client_for(twin);

  // When each runs the same batch of twenty lines
  Json batch = run_batch(server, client, input_file(20));
  Json twin_batch = run_batch(twin, twin_client, input_file(20));

  // Then the output holds every line in an order other than the input's, and the same order
  std::vector<std::string> order = custom_ids(file_lines(client, batch["output_file_id"]));
  std::vector<std::string> in_input_order;
  for (size_t i = 0; i < 20; ++i) in_input_order.push_back("req-" + std::to_string(i));
  EXPECT_EQ(sorted(order), sorted(in_input_order));
  EXPECT_NE(order, in_input_order);
  EXPECT_EQ(custom_ids(file_lines(twin_client, twin_batch["output_file_id"])), order);
}

TEST(TestServerBatchTest, BatchesAreListedNewestFirstInPages) {
  // Given three batches
  TestServer server;
  httplib::Client client = client_for(server);
  Json file = upload(client, input_file(1));
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i)
    ids.push_back(create_batch(client, file["id"])["id"].get<std::string>());

  // When they are listed two at a time
  Json page = parsed(client.Get("/v1/batches?limit=2"), 200);
  Json rest = parsed(client.Get("/v1/batches?limit=2&after=" + ids[1]), 200);

  // Then the pages run from the newest, and say whether more follow
  ASSERT_EQ(page["data"].size(), 2u);
  EXPECT_EQ(page["object"], "list");
  EXPECT_EQ(page["data"][0]["id"], ids[2]);
  EXPECT_EQ(page["first_id"], ids[2]);
  EXPECT_EQ(page["last_id"], ids[1]);
  EXPECT_EQ(page["has_more"], true);
  ASSERT_EQ(rest["data"].size(), 1u);
  EXPECT_EQ(rest["data"][0]["id"], ids[0]);
  EXPECT_EQ(rest["has_more"], false);
  EXPECT_EQ(parsed(client.Get("/v1/batches"), 200)["data"].size(), 3u);
  EXPECT_EQ(server.batches_created(), 3u);
}

TEST(TestServerBatchTest, EveryRouteWantsTheApiKey) {
  // Given a server that wants a key
  TestServer server({.api_key = "sk-test"});
  httplib::Client client = client_for(server);

  // When each batch route is called without it
  std::vector<int> statuses = {
      status_of(client.Post("/v1/files", {{"purpose", "batch", "", ""}, {"file", "x", "a", ""}})),
      status_of(client.Get("/v1/files")),
      status_of(client.Get("/v1/files/file-0")),
      status_of(client.Get("/v1/files/file-0/content")),
      status_of(client.Post("/v1/batches", "{}", "application/json")),
      status_of(client.Get("/v1/batches")),
      status_of(client.Get("/v1/batches/batch_0")),
      status_of(client.Post("/v1/batches/batch_0/cancel"))};

  // Then every one is refused, and with the key an upload goes through
  EXPECT_EQ(statuses, std::vector<int>(8, 401));
  client.set_bearer_token_auth("sk-test");
  EXPECT_EQ(upload(client, "x\n")["object"], "file");
  EXPECT_EQ(server.file_uploads(), 1u);
}

TEST(TestServerBatchTest, UnknownIdsAndBadBatchesGetErrorBodies) {
  // Given a server with one uploaded file
  TestServer server;
  httplib::Client client = client_for(server);
  std::string file_id = upload(client, input_file(1))["id"].get<std::string>();
  auto create = [&](const std::string& file, const std::string& endpoint, const char* window) {
    Json body = {{"input_file_id", file}, {"endpoint", endpoint}, {"completion_window", window}};
    return client.Post("/v1/batches", body.dump(), "application/json");
  };

  // When unknown files and batches are asked for, and batches are badly created
  // Then they are 404s and 400s with OpenAI error bodies, and no batch was made
  for (const char* path : {"/v1/files/file-9", "/v1/files/file-9/content", "/v1/files/nope",
                           "/v1/batches/batch_9", "/v1/batches/file-0"}) {
    EXPECT_TRUE(parsed(client.Get(path), 404)["error"]["message"].is_string()) << path;
  }
  EXPECT_EQ(status_of(client.Post("/v1/batches/batch_9/cancel")), 404);
  EXPECT_EQ(status_of(create("file-9", kChatPath, "24h")), 404);
  EXPECT_EQ(status_of(create(file_id, "/v1/embeddings", "24h")), 400);
  EXPECT_EQ(status_of(create(file_id, kChatPath, "1h")), 400);
  EXPECT_EQ(status_of(client.Post("/v1/batches", "{nope", "application/json")), 400);
  EXPECT_EQ(server.batches_created(), 0u);
}

TEST(TestServerBatchTest, BadBatchOptionsAreRefused) {
  // Given / When servers are made with a negative delay or expiry / Then they refuse to start
  EXPECT_THROW(TestServer({.batch_line_delay_ms = -1}), std::invalid_argument);
  EXPECT_THROW(TestServer({.batch_expire_after = -2}), std::invalid_argument);
  EXPECT_THROW(TestServer({.expire_batches = -1}), std::invalid_argument);
}

}  // namespace
}  // namespace personagen::testing
