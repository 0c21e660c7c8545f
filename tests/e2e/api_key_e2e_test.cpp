// End-to-end: the API key through the real binary. What cannot be a key is refused at start-up,
// a key is never echoed from the command line, and it is masked in what servers send back.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using personagen::testing::ServerOptions;
using personagen::testing::TestServer;

// Lines on stderr.
long lines(const std::string& err) {
  return std::count(err.begin(), err.end(), '\n');
}

// Every file under `dir` that contains `text`, for failure messages; empty when none does.
std::string files_containing(const fs::path& dir, const std::string& text) {
  std::string found;
  if (!fs::exists(dir)) return found;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file() && read_file(entry.path()).find(text) != std::string::npos)
      found += entry.path().string() + " ";
  return found;
}

class ApiKeyE2E : public E2E {
 protected:
  void SetUp() override {
    E2E::SetUp();
    input_ = write_personas("in.jsonl", personas(3));
    out_ = dir_ / "out";
    summary_ = dir_ / "summary.json";
  }

  // synth of 3 personas into out_, writing summary_, with `more` flags.
  Result synth(const std::string& base_url, std::vector<std::string> more,
               const std::map<std::string, std::string>& env = {}) {
    std::vector<std::string> args{"synth", "-i", input_, "-t",        "math",
                                  "-o",    out_, "-q",   "--summary", summary_};
    args.insert(args.end(), more.begin(), more.end());
    return run(args, base_url, env);
  }

  fs::path key_file(const std::string& content) {
    fs::path path = dir_ / "key";
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  fs::path input_, out_, summary_;
};

TEST_F(ApiKeyE2E, AKeyWithALineBreakIsRefusedBeforeAnyRequestAndNeverShown) {
  TestServer server;
  // Given a key file whose second line would become a header of its own,
  Result r = synth(server.base_url(), {"--api-key-file", key_file("sk-abc\r\nX-Evil: 1\n")});
  // then synth stops at start-up with one line that shows neither line, and sends nothing.
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("--api-key-file"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("sk-abc"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("Evil"), std::string::npos) << r.err;
  EXPECT_EQ(server.chat_request_count(), 0u);
  EXPECT_EQ(files_containing(dir_, "sk-abc"), (dir_ / "key").string() + " ");

  // The same from the environment, and a key with a space inside.
  for (const char* bad : {"sk-abc\nX-Evil: 1", "sk-abc X-Evil"}) {
    Result env = synth(server.base_url(), {}, {{"OPENAI_API_KEY", bad}});
    EXPECT_EQ(env.exit_code, 2) << env.err;
    EXPECT_EQ(lines(env.err), 1) << env.err;
    EXPECT_NE(env.err.find("OPENAI_API_KEY"), std::string::npos) << env.err;
    EXPECT_EQ(env.err.find("sk-abc"), std::string::npos) << env.err;
  }
  EXPECT_EQ(server.chat_request_count(), 0u);
}

TEST_F(ApiKeyE2E, ApiKeyOnTheCommandLineIsRefusedWithoutEchoingIt) {
  const std::string key = "sk-live-typed-on-the-command-line";
  for (std::vector<std::string> given :
       {std::vector<std::string>{"--api-key", key}, std::vector<std::string>{"--api-key=" + key}}) {
    Result r = synth("http://127.0.0.1:9/v1", given);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("use OPENAI_API_KEY or --api-key-file"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("typed-on"), std::string::npos) << r.err;
  }
  // dedup refuses it the same way.
  Result dedup = run({"dedup", "-i", input_, "-o", dir_ / "d.jsonl", "--api-key", key},
                     "http://127.0.0.1:9/v1");
  EXPECT_EQ(dedup.exit_code, 2) << dedup.err;
  EXPECT_EQ(dedup.err.find("typed-on"), std::string::npos) << dedup.err;
}

TEST_F(ApiKeyE2E, AKeyPastedWhereAnArgumentGoesIsNotEchoedByTheParser) {
  const std::string key = "sk-live-pasted-in-the-wrong-place";
  // A stray argument, an unknown --flag=value, and a key where a number goes.
  for (std::vector<std::string> given :
       {std::vector<std::string>{key}, std::vector<std::string>{"--apikey=" + key},
        std::vector<std::string>{"--timeout", key}, std::vector<std::string>{"--log-level", key}}) {
    Result r = synth("http://127.0.0.1:9/v1", given);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_EQ(r.err.find("pasted-in"), std::string::npos) << r.err;
  }
  // The unknown flag is still named.
  Result unknown = synth("http://127.0.0.1:9/v1", {"--apikey=" + key});
  EXPECT_NE(unknown.err.find("--apikey"), std::string::npos) << unknown.err;
}

TEST_F(ApiKeyE2E, TheKeyGivenAsTheKeyFilePathIsNeitherPrintedNorInTheSummary) {
  // Given the key where the key file's path goes, as in --api-key-file "$OPENAI_API_KEY",
  const std::string key = "sk-proj-given-where-the-path-goes";
  Result r = synth("http://127.0.0.1:9/v1", {"--api-key-file", key}, {{"OPENAI_API_KEY", key}});
  // then synth fails at start-up naming the flag, and the key is in no output.
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("--api-key-file: cannot read the file"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("where-the-path"), std::string::npos) << r.err;
  ASSERT_TRUE(fs::exists(summary_));
  std::string summary = read_file(summary_);
  EXPECT_EQ(summary.find("where-the-path"), std::string::npos) << summary;
  EXPECT_NE(summary.find("--api-key-file"), std::string::npos) << summary;
}

TEST_F(ApiKeyE2E, AnEmptyKeyFileOrADirectoryIsAStartUpErrorNotARunOf401s) {
  ServerOptions options;
  options.api_key = "right-key";
  TestServer server(options);
  for (const fs::path& given : {key_file(""), key_file("\n  \n"), dir_}) {
    SCOPED_TRACE(given);
    Result r = synth(server.base_url(), {"--api-key-file", given});
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("--api-key-file"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("401"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(out_));
  }
  EXPECT_EQ(server.chat_request_count(), 0u);
  // dedup with embeddings checks its key file at start-up too.
  Result dedup = run({"dedup", "-i", input_, "-o", dir_ / "d.jsonl", "--embed-model", "e",
                      "--api-key-file", key_file("")},
                     server.base_url());
  EXPECT_EQ(dedup.exit_code, 2) << dedup.err;
  EXPECT_NE(dedup.err.find("empty"), std::string::npos) << dedup.err;
}

// A server whose every chat reply is `status` with `body`: an error that quotes the key in JSON
// escapes, as a JSON encoder may write it.
class QuotingServer {
 public:
  QuotingServer(int status, std::string body) {
    server_.Post("/v1/chat/completions",
                 [status, body](const httplib::Request&, httplib::Response& res) {
                   res.status = status;
                   res.set_content(body, "application/json");
                 });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    wait_until([this] { return server_.is_running(); }, std::chrono::seconds(5));
  }
  ~QuotingServer() {
    server_.stop();
    thread_.join();
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(ApiKeyE2E, AKeyQuotedInJsonEscapesIsMaskedInFailuresAndMessages) {
  // Given a key and a server that quotes it back escaped (\u0073 for "s", \/ for "/"),
  const std::string key = "sk-live/escaped-key-4711";
  const std::string quoted = R"(\u0073k-live\/escaped\u002Dkey-4711)";
  QuotingServer server(500, R"({"error":{"message":"bad request for key )" + quoted + R"("}})");
  // when every request fails with that reply,
  Result r = synth(server.base_url(), {"--max-retries", "0"}, {{"OPENAI_API_KEY", key}});
  // then the failures are recorded with the key masked, and it is nowhere in any form.
  EXPECT_EQ(r.exit_code, 3) << r.err;
  std::string failures = read_file(out_ / "failures.jsonl");
  EXPECT_NE(failures.find("bad request for key ***"), std::string::npos) << failures;
  for (const std::string& form : {std::string("escaped"), std::string("4711")}) {
    EXPECT_EQ(files_containing(dir_, form), "") << form;
    EXPECT_EQ(r.err.find(form), std::string::npos) << r.err;
  }
}

TEST_F(ApiKeyE2E, AShortKeyDoesNotMaskPersonagensOwnWords) {
  // Given OPENAI_API_KEY=x and a usage error about --extra-body,
  Result r = synth("http://127.0.0.1:9/v1", {"--extra-body", "[1]"}, {{"OPENAI_API_KEY", "x"}});
  // then the message reads as written, on stderr and in the summary.
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--extra-body: not an object (expected a JSON object"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("***"), std::string::npos) << r.err;
  std::string summary = read_file(summary_);
  EXPECT_NE(summary.find("--extra-body: not an object"), std::string::npos) << summary;
}

TEST_F(ApiKeyE2E, AServerQuotingAShortKeyIsStillMasked) {
  // Given a short key the server refuses and quotes back,
  ServerOptions options;
  options.api_key = "right-key";
  TestServer server(options);
  Result r = synth(server.base_url(), {"-j", "1"}, {{"OPENAI_API_KEY", "k9"}});
  // then the server's words are masked (the transport masks whatever the key's length).
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("invalid api key: ***"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("k9"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace personagen::e2e
