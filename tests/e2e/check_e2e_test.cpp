// `personagen check` from the real binary against the test server in the setups a user meets
// before a first run: all good, a wrong key, a wrong model name, a server without
// response_format, several endpoints at once, a reasoning model that refuses max_tokens, a
// proxy's page for the model list, and secrets in the base URL or a server's message (issue 16).
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include "support/e2e_support.h"
#include "test_server.h"

namespace personagen::e2e {
namespace {

using personagen::testing::ServerOptions;
using personagen::testing::TestServer;

// How many lines of `text` start with `prefix` after blanks.
long lines_starting(const std::string& text, const std::string& prefix) {
  long count = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    size_t first = line.find_first_not_of(' ');
    if (first != std::string::npos && line.compare(first, prefix.size(), prefix) == 0) ++count;
  }
  return count;
}

// The last line of `text`.
std::string last_line(const std::string& text) {
  std::string trimmed = text.substr(0, text.find_last_not_of('\n') + 1);
  return trimmed.substr(trimmed.rfind('\n') + 1);
}

// The requests a check may send to one endpoint: GET /models, a chat request and a
// response_format one.
size_t requests_seen(const TestServer& server) {
  return server.authorization_headers().size();
}

TEST_F(E2E, CheckPassesOnAGoodEndpointWithThreeRequests) {
  // Given a server that wants a key, and that key,
  ServerOptions options;
  options.api_key = "sk-good-key-123";
  options.reject_unknown_model = true;
  TestServer server(options);
  // when check runs with synth's flags,
  Result r = run({"check", "--base-url", server.base_url(), "--model", "test-model"}, "",
                 {{"OPENAI_API_KEY", "sk-good-key-123"}});
  // then it passes, with one ok line per finding and a verdict,
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(lines_starting(r.out, "ok"), 3) << r.out;
  EXPECT_EQ(lines_starting(r.out, "FAIL"), 0) << r.out;
  EXPECT_NE(r.out.find("\"test-model\" is among them"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("finish_reason stop"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("completion tokens"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("json_schema accepted"), std::string::npos) << r.out;
  EXPECT_EQ(last_line(r.out).rfind("verdict: ok", 0), 0u) << r.out;
  // after three requests: the model list, a tiny chat request and a structured one.
  EXPECT_EQ(requests_seen(server), 3u);
  ASSERT_EQ(server.chat_request_count(), 2u);
  json tiny = json::parse(server.chat_requests()[0]);
  EXPECT_LE(tiny["max_tokens"].get<int>(), 16);
  EXPECT_FALSE(tiny.contains("response_format"));
  EXPECT_EQ(server.response_format_requests(), 1u);
}

TEST_F(E2E, CheckSaysAWrongKeyIsRefusedWithoutShowingIt) {
  // Given a server whose 401 quotes the key it was sent,
  ServerOptions options;
  options.api_key = "sk-right-key-123";
  TestServer server(options);
  // when check runs with another key,
  Result r = run({"check", "--model", "test-model"}, server.base_url(),
                 {{"OPENAI_API_KEY", "sk-wrong-key-456"}});
  // then it fails, says the key was refused, never prints the key, and sends nothing more.
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(lines_starting(r.out, "FAIL"), 1) << r.out;
  EXPECT_NE(r.out.find("API key was refused"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("401"), std::string::npos) << r.out;
  EXPECT_EQ((r.out + r.err).find("sk-wrong-key-456"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(last_line(r.out).rfind("verdict: FAIL", 0), 0u) << r.out;
  EXPECT_EQ(requests_seen(server), 1u);
  EXPECT_EQ(server.chat_request_count(), 0u);
}

TEST_F(E2E, CheckNamesAModelTheServerDoesNotOffer) {
  // Given a server that serves "test-model" alone,
  ServerOptions options;
  options.reject_unknown_model = true;
  TestServer server(options);
  // when check asks for another,
  Result r = run({"check", "--model", "gpt-typo"}, server.base_url());
  // then the chat request's refusal and the model list both say so, and what is offered.
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(lines_starting(r.out, "FAIL"), 2) << r.out;
  EXPECT_NE(r.out.find("model \"gpt-typo\" was refused (404"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"gpt-typo\" is not among the 1 the server offers (test-model)"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(last_line(r.out).rfind("verdict: FAIL", 0), 0u) << r.out;
  // No response_format request follows a failed chat request.
  EXPECT_EQ(server.chat_request_count(), 1u);
}

TEST_F(E2E, CheckWarnsOrFailsOnAServerWithoutResponseFormatAsStructuredSays) {
  // Given a server that refuses response_format,
  ServerOptions options;
  options.reject_response_format = true;
  TestServer server(options);
  // when check runs with the default --structured auto, it warns and passes: text tasks work;
  Result automatic = run({"check"}, server.base_url());
  EXPECT_EQ(automatic.exit_code, 0) << automatic.out << automatic.err;
  EXPECT_EQ(lines_starting(automatic.out, "warn"), 1) << automatic.out;
  EXPECT_NE(automatic.out.find("--structured off"), std::string::npos) << automatic.out;
  EXPECT_EQ(last_line(automatic.out).rfind("verdict: ok", 0), 0u) << automatic.out;
  // with --structured json_schema it fails;
  Result strict = run({"check", "--structured", "json_schema"}, server.base_url());
  EXPECT_EQ(strict.exit_code, 1) << strict.out << strict.err;
  EXPECT_EQ(lines_starting(strict.out, "FAIL"), 1) << strict.out;
  EXPECT_NE(strict.out.find("response_format json_schema was refused (400"), std::string::npos)
      << strict.out;
  // and with --structured off it sends no response_format at all.
  size_t before = server.chat_request_count();
  Result off = run({"check", "--structured", "off"}, server.base_url());
  EXPECT_EQ(off.exit_code, 0) << off.out << off.err;
  EXPECT_EQ(server.chat_request_count() - before, 1u);
  EXPECT_EQ(lines_starting(off.out, "warn"), 0) << off.out;
}

TEST_F(E2E, CheckChecksEachEndpointAndFailsIfOneIsDown) {
  // Given one good endpoint and one where nothing listens,
  TestServer server;
  std::string down = "http://127.0.0.1:9/v1";
  // when check gets both as one comma list,
  Result r = run({"check", "--base-url", server.base_url() + "," + down}, "");
  // then it reports each, and the verdict counts the one that fails.
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(lines_starting(r.out, "check "), 2) << r.out;
  EXPECT_NE(r.out.find("the server was not reached"), std::string::npos) << r.out;
  EXPECT_NE(last_line(r.out).find("1 of 2 endpoints"), std::string::npos) << r.out;
  EXPECT_EQ(lines_starting(r.out, "ok"), 3) << r.out;
}

TEST_F(E2E, CheckPassesWithAWarningWhereTheModelRefusesMaxTokens) {
  // Given a server that answers max_tokens as OpenAI's reasoning models do (a 400 that says
  // "this model"),
  ServerOptions options;
  options.reject_max_tokens = true;
  TestServer server(options);
  // when check runs,
  Result r = run({"check", "--model", "test-model"}, server.base_url());
  // then it warns that max_tokens is refused, does not call the model refused, and passes:
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(lines_starting(r.out, "FAIL"), 0) << r.out;
  EXPECT_EQ(lines_starting(r.out, "warn"), 1) << r.out;
  EXPECT_NE(r.out.find("the server refuses max_tokens (a reasoning model?); synth works without "
                       "--max-tokens"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("was refused"), std::string::npos) << r.out;
  EXPECT_EQ(last_line(r.out).rfind("verdict: ok", 0), 0u) << r.out;
  // within three requests, the structured one without max_tokens, and accepted.
  EXPECT_EQ(requests_seen(server), 3u);
  ASSERT_EQ(server.chat_request_count(), 2u);
  EXPECT_FALSE(json::parse(server.chat_requests()[1]).contains("max_tokens"));
  EXPECT_NE(r.out.find("json_schema accepted"), std::string::npos) << r.out;
}

TEST_F(E2E, CheckWarnsOnAnUnreadableModelListAndGoesOn) {
  // Given a server whose GET /models answers 200 with an HTML page (a proxy's),
  ServerOptions options;
  options.models_html = true;
  TestServer server(options);
  // when check runs,
  Result r = run({"check", "--model", "test-model"}, server.base_url());
  // then the list only warns, the server is not called unreachable, and the chat checks run.
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(lines_starting(r.out, "warn"), 1) << r.out;
  EXPECT_NE(r.out.find("models: the reply could not be read"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("not reached"), std::string::npos) << r.out;
  EXPECT_EQ(server.chat_request_count(), 2u);
  EXPECT_EQ(last_line(r.out).rfind("verdict: ok", 0), 0u) << r.out;
}

TEST_F(E2E, CheckMasksAPasswordInTheBaseUrlAndAKeyTheServerQuotesInPart) {
  // Given a server whose 401 quotes the start and end of the key it was sent, as OpenAI's does,
  ServerOptions options;
  options.api_key = "sk-right-key-123";
  options.partial_key_in_401 = true;
  TestServer server(options);
  std::string base = server.base_url();
  base.insert(base.find("://") + 3, "user:hunter2pass@");
  // when check runs with a wrong key and a base URL with a password,
  Result r = run({"check", "--base-url", base, "--model", "test-model"}, "",
                 {{"OPENAI_API_KEY", "sk-wrong-key-456"}});
  // then it says the key was refused, and shows neither the password nor any part of the key.
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("API key was refused"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Incorrect API key provided: sk-***"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("://***@127.0.0.1"), std::string::npos) << r.out;
  for (const char* secret : {"hunter2pass", "sk-wrong", "-456"})
    EXPECT_EQ((r.out + r.err).find(secret), std::string::npos) << secret << "\n" << r.out << r.err;
}

TEST_F(E2E, CheckRefusesABadStructuredValue) {
  Result r = run({"check", "--structured", "maybe"}, "http://127.0.0.1:9/v1");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--structured"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

}  // namespace
}  // namespace personagen::e2e
