#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <ctime>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_server/test_server.h"
#include "test_server/test_server_client.h"

// The test server's fault injection: markers in the prompt ([[fault:503*2]]), status and
// Retry-After faults, broken transfers and bodies, hangs, and seeded random faults.

namespace personagen::testing {
namespace {

TEST(TestServerTest, MarkerFaultsTheFirstAttemptsOfTheSameBody) {
  // Given a prompt asking for two 500s
  TestServer server;
  std::string body = chat_body("persona [[fault:500*2]]");

  // When the same body is sent three times
  std::vector<int> statuses;
  for (int i = 0; i < 3; ++i) statuses.push_back(status_of(post_chat(server, body)));

  // Then the first two fail with an OpenAI error body and the third succeeds
  EXPECT_EQ(statuses, (std::vector<int>{500, 500, 200}));
  auto again = post_chat(server, chat_body("other [[fault:500*2]]"));
  ASSERT_EQ(status_of(again), 500);
  Json error = Json::parse(again->body);
  EXPECT_EQ(error["error"]["message"], "injected 500");
  EXPECT_EQ(error["error"]["type"], "test");
  EXPECT_EQ(error["error"]["code"], 500);
}

TEST(TestServerTest, MarkersDefaultToOnceApplyInTurnAndMayAlwaysFail) {
  // Given a prompt with two one-shot markers and another that always fails
  TestServer server;
  std::string twice = chat_body("p [[fault:503]] [[fault:429*1]]");
  std::string always = chat_body("q [[fault:502*always]]");

  // When each is sent a few times
  std::vector<int> twice_statuses, always_statuses;
  for (int i = 0; i < 3; ++i) {
    twice_statuses.push_back(status_of(post_chat(server, twice)));
    always_statuses.push_back(status_of(post_chat(server, always)));
  }

  // Then the markers take the attempts in turn, and "always" never runs out
  EXPECT_EQ(twice_statuses, (std::vector<int>{503, 429, 200}));
  EXPECT_EQ(always_statuses, (std::vector<int>{502, 502, 502}));
}

class StatusFaultTest : public ::testing::TestWithParam<int> {};

TEST_P(StatusFaultTest, GivesThatStatusWithAnErrorBody) {
  // Given a marker for the status
  TestServer server;
  int status = GetParam();

  // When it is sent
  auto result = post_chat(server, chat_body("[[fault:" + std::to_string(status) + "]]"));

  // Then the reply has that status and an OpenAI error body naming it
  ASSERT_EQ(status_of(result), status);
  EXPECT_EQ(Json::parse(result->body)["error"]["code"], status);
  EXPECT_FALSE(result->has_header("Retry-After"));
}

INSTANTIATE_TEST_SUITE_P(Codes, StatusFaultTest,
                         ::testing::Values(400, 401, 403, 404, 408, 409, 422, 429, 500, 502, 503));

TEST(TestServerTest, RetryAfterFaultsCarryTheirHeaders) {
  // Given one server
  TestServer server;

  // When the three 429 variants are asked for
  auto seconds = post_chat(server, chat_body("[[fault:429ra]]"));
  std::time_t before = std::time(nullptr);
  auto date = post_chat(server, chat_body("[[fault:429date]]"));
  auto ms = post_chat(server, chat_body("[[fault:429ms]]"));

  // Then each is a 429 with its own form of retry hint
  ASSERT_EQ(status_of(seconds), 429);
  EXPECT_EQ(seconds->get_header_value("Retry-After"), "1");
  ASSERT_EQ(status_of(date), 429);
  std::tm tm{};
  std::string http_date = date->get_header_value("Retry-After");
  ASSERT_NE(strptime(http_date.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm), nullptr) << http_date;
  std::time_t when = timegm(&tm);
  EXPECT_GE(when, before + 1);
  EXPECT_LE(when, before + 3);
  ASSERT_EQ(status_of(ms), 429);
  EXPECT_EQ(ms->get_header_value("retry-after-ms"), "200");
  EXPECT_FALSE(ms->has_header("Retry-After"));
}

TEST(TestServerTest, DropAndTruncateAreTransportErrorsForTheClient) {
  // Given one server
  TestServer server;

  // When a drop and a truncation are asked for
  auto dropped = post_chat(server, chat_body("[[fault:drop]]"));
  auto truncated = post_chat(server, chat_body("[[fault:truncate]]"));

  // Then the client gets no complete response for either, and the retries succeed
  EXPECT_FALSE(dropped);
  EXPECT_FALSE(truncated);
  EXPECT_EQ(status_of(post_chat(server, chat_body("[[fault:drop]]"))), 200);
  EXPECT_EQ(status_of(post_chat(server, chat_body("[[fault:truncate]]"))), 200);
  EXPECT_EQ(server.chat_request_count(), 4u);
}

TEST(TestServerTest, BodyFaultsAnswer200WithBrokenContent) {
  // Given one server
  TestServer server;

  // When the body faults are asked for
  auto malformed = post_chat(server, chat_body("[[fault:malformed]]"));
  auto empty = post_chat(server, chat_body("[[fault:empty]]"));
  auto length = post_chat(server, chat_body("[[fault:length]]"));
  auto badjson = post_chat(server, chat_body("[[fault:badjson]]"));

  // Then each is a 200 whose body or content is broken in its own way
  ASSERT_EQ(status_of(malformed), 200);
  EXPECT_FALSE(Json::accept(malformed->body));
  ASSERT_EQ(status_of(empty), 200);
  EXPECT_EQ(Json::parse(empty->body)["choices"][0]["message"]["content"], "");
  ASSERT_EQ(status_of(length), 200);
  EXPECT_EQ(Json::parse(length->body)["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(content_of(length->body)["prompt"], "[[fault:length]]");
  ASSERT_EQ(status_of(badjson), 200);
  EXPECT_EQ(Json::parse(badjson->body)["choices"][0]["message"]["content"], "this is not json");
}

TEST(TestServerTest, HangOutlastsTheClientTimeoutAndStopReleasesIt) {
  // Given a client with a short timeout and one with a long one, both hanging
  TestServer server;
  auto started = Clock::now();
  auto short_wait = post_chat(server, chat_body("[[fault:hang]] a"), milliseconds(200));
  EXPECT_FALSE(short_wait);
  EXPECT_LT(Clock::now() - started, milliseconds(3000));
  auto long_wait = std::async(std::launch::async, [&] {
    return post_chat(server, chat_body("[[fault:hang]] b"), milliseconds(30000));
  });
  ASSERT_TRUE(server.wait_for_chat_requests(2, milliseconds(5000)));

  // When the server is stopped
  auto stopping = Clock::now();
  server.stop();

  // Then stop() returns at once and the waiting client is released
  EXPECT_LT(Clock::now() - stopping, milliseconds(1000));
  ASSERT_EQ(long_wait.wait_for(milliseconds(2000)), std::future_status::ready);
  EXPECT_NE(status_of(long_wait.get()), 200);
}

TEST(TestServerTest, RandomFaultsAreDeterministicPerSeedAndRetriesCanSucceed) {
  // Given two servers with the same seed and one with another seed
  ServerOptions options{.fault_rate = 0.5, .fault_kinds = {"500", "503"}, .seed = 7};
  TestServer first(options), second(options);
  options.seed = 8;
  TestServer other(options);

  // When the same requests (20 bodies, each twice) are sent to each
  auto statuses = [](const TestServer& server) {
    std::vector<int> result;
    for (int i = 0; i < 20; ++i) {
      for (int attempt = 0; attempt < 2; ++attempt) {
        result.push_back(status_of(post_chat(server, chat_body("p" + std::to_string(i)))));
      }
    }
    return result;
  };
  std::vector<int> a = statuses(first), b = statuses(second), c = statuses(other);

  // Then the same seed gives the same faults, another seed other faults, and some faults
  // are followed by a success for the same body
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  int faults = 0, recovered = 0;
  for (size_t i = 0; i < a.size(); i += 2) {
    faults += (a[i] != 200) + (a[i + 1] != 200);
    recovered += a[i] != 200 && a[i + 1] == 200;
    EXPECT_TRUE(a[i] == 200 || a[i] == 500 || a[i] == 503) << a[i];
  }
  EXPECT_GT(faults, 5);
  EXPECT_LT(faults, 35);
  EXPECT_GT(recovered, 0);
}

TEST(TestServerTest, DefaultRandomFaultsAreQuick) {
  // Given every request faulted with the default kinds (which leave out "hang")
  TestServer server({.fault_rate = 1.0});
  auto started = Clock::now();

  // When 30 distinct requests are sent with a long client timeout
  int ok = 0;
  for (int i = 0; i < 30; ++i) {
    ok +=
        status_of(post_chat(server, chat_body("q" + std::to_string(i)), milliseconds(4000))) == 200;
  }

  // Then none of them waits for the timeout, and the 200s are only the broken-content kinds
  EXPECT_LT(Clock::now() - started, milliseconds(4000));
  EXPECT_LT(ok, 30);
  EXPECT_EQ(server.chat_request_count(), 30u);
}

TEST(TestServerTest, UnknownFaultKindsAreRefused) {
  // Given / When an unknown kind is configured / Then construction fails
  EXPECT_THROW(TestServer({.fault_rate = 0.5, .fault_kinds = {"explode"}}), std::invalid_argument);
  EXPECT_THROW(TestServer({.fault_rate = 2.0}), std::invalid_argument);

  // And a bad marker in a prompt is a 400 that names it
  TestServer server;
  auto result = post_chat(server, chat_body("[[fault:explode*2]]"));
  ASSERT_EQ(status_of(result), 400);
  EXPECT_NE(result->body.find("explode"), std::string::npos);
}

}  // namespace
}  // namespace personagen::testing
