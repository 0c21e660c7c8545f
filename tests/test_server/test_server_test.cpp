#include "test_server/test_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <ctime>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace personagen::testing {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kChatPath = "/v1/chat/completions";

std::string chat_body(const std::string& prompt, const std::string& model = "gpt-test") {
  Json body = {{"model", model},
               {"messages",
                {{{"role", "system"}, {"content", "You are helpful."}},
                 {{"role", "user"}, {"content", prompt}}}}};
  return body.dump();
}

httplib::Client client_for(const TestServer& server,
                           milliseconds read_timeout = milliseconds(5000)) {
  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(read_timeout);
  client.set_connection_timeout(std::chrono::seconds(2));
  return client;
}

httplib::Result post_chat(const TestServer& server, const std::string& body,
                          milliseconds read_timeout = milliseconds(5000)) {
  return client_for(server, read_timeout).Post(kChatPath, body, "application/json");
}

int status_of(const httplib::Result& result) {
  return result ? result->status : -1;
}

// The content object of a chat.completion body.
Json content_of(const std::string& completion) {
  Json reply = Json::parse(completion);
  return Json::parse(reply["choices"][0]["message"]["content"].get<std::string>());
}

TEST(TestServerTest, ModelsEndpointListsTheModel) {
  // Given a server with a model name
  TestServer server({.model = "tiny"});

  // When the models are listed
  auto result = client_for(server).Get("/v1/models");

  // Then the list holds that model
  ASSERT_EQ(status_of(result), 200);
  Json body = Json::parse(result->body);
  EXPECT_EQ(body["object"], "list");
  ASSERT_EQ(body["data"].size(), 1u);
  EXPECT_EQ(body["data"][0]["id"], "tiny");
  EXPECT_EQ(body["data"][0]["object"], "model");
}

TEST(TestServerTest, ChatReplyIsAnOpenAiCompletionThatEchoesThePrompt) {
  // Given a plain server
  TestServer server;
  std::string body = chat_body("Write a riddle for a baker.");

  // When one chat request is sent
  auto result = post_chat(server, body);

  // Then the reply has the chat.completion shape, echoes the model, and counts tokens
  ASSERT_EQ(status_of(result), 200);
  Json reply = Json::parse(result->body);
  EXPECT_EQ(reply["id"], "chatcmpl-0");
  EXPECT_EQ(reply["object"], "chat.completion");
  EXPECT_EQ(reply["model"], "gpt-test");
  EXPECT_TRUE(reply["created"].is_number_integer());
  EXPECT_EQ(reply["choices"][0]["index"], 0);
  EXPECT_EQ(reply["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(reply["choices"][0]["finish_reason"], "stop");
  std::string content = reply["choices"][0]["message"]["content"];
  EXPECT_EQ(reply["usage"]["prompt_tokens"], (27 + 3) / 4);
  EXPECT_EQ(reply["usage"]["completion_tokens"], (content.size() + 3) / 4);
  EXPECT_EQ(reply["usage"]["total_tokens"], reply["usage"]["prompt_tokens"].get<int>() +
                                                reply["usage"]["completion_tokens"].get<int>());

  // And the content is one object that satisfies the text, npc and tool parsers
  Json object = Json::parse(content);
  ASSERT_TRUE(object.is_object());
  EXPECT_EQ(object["type"], "function");
  std::string name = object["function"]["name"];
  ASSERT_EQ(name.size(), 18u) << name;
  EXPECT_EQ(name.substr(0, 10), "echo_tool_");
  EXPECT_EQ(name.find_first_not_of("0123456789abcdef", 10), std::string::npos) << name;
  EXPECT_EQ(object["function"]["name"], echo_tool_name("Write a riddle for a baker."));
  EXPECT_EQ(object["function"]["description"], "Echo tool");
  EXPECT_EQ(object["function"]["parameters"]["type"], "object");
  EXPECT_EQ(object["function"]["parameters"]["required"], Json::array({"text"}));
  for (const char* key : {"name", "role", "backstory", "personality"}) {
    EXPECT_TRUE(object[key].is_string()) << key;
  }
  EXPECT_TRUE(object["dialogue"].is_array());
  EXPECT_EQ(object["prompt"], "Write a riddle for a baker.");
  EXPECT_EQ(object["request_index"], 0);

  // And the server recorded the raw body
  EXPECT_EQ(server.chat_requests(), std::vector<std::string>{body});
  EXPECT_EQ(server.chat_request_count(), 1u);
}

TEST(TestServerTest, PromptIsTheLastUserMessageAndIndexesFollowArrival) {
  // Given a conversation with two user turns, sent after another request
  TestServer server;
  ASSERT_EQ(status_of(post_chat(server, chat_body("first"))), 200);
  Json body = {{"messages",
                {{{"role", "user"}, {"content", "early"}},
                 {{"role", "assistant"}, {"content", "reply"}},
                 {{"role", "user"}, {"content", "late"}}}}};

  // When it is sent without a model
  auto result = post_chat(server, body.dump());

  // Then the prompt is the last user turn, the index is 1, and the model is the server's
  ASSERT_EQ(status_of(result), 200);
  EXPECT_EQ(content_of(result->body)["prompt"], "late");
  EXPECT_EQ(content_of(result->body)["request_index"], 1);
  EXPECT_EQ(Json::parse(result->body)["id"], "chatcmpl-1");
  EXPECT_EQ(Json::parse(result->body)["model"], "test-model");
}

TEST(TestServerTest, PromptMayComeInTextPartsAndOddRolesAreSkipped) {
  // Given a body with a non-string role and a user message made of text parts
  TestServer server;
  std::string body =
      R"({"messages":[{"role":5},{"role":"user","content":[{"type":"text","text":"a"},)"
      R"({"type":"text","text":"b"}]}]})";

  // When it is sent
  auto result = post_chat(server, body);

  // Then the parts are joined into the prompt
  ASSERT_EQ(status_of(result), 200);
  EXPECT_EQ(content_of(result->body)["prompt"], "ab");
}

TEST(TestServerTest, ToolNameIsAStableHashOfThePrompt) {
  // Given / When names are computed for prompts / Then they are stable and distinct
  EXPECT_EQ(echo_tool_name("a"), echo_tool_name("a"));
  EXPECT_NE(echo_tool_name("a"), echo_tool_name("b"));
  EXPECT_EQ(echo_tool_name("").size(), std::string("echo_tool_").size() + 8);
}

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

TEST(TestServerTest, StopIsIdempotentAndBoundedWithAnIdleKeepAliveClient) {
  // Given a keep-alive client that has made a request and keeps its connection open
  TestServer server;
  httplib::Client client("127.0.0.1", server.port());
  client.set_keep_alive(true);
  ASSERT_EQ(status_of(client.Get("/v1/models")), 200);

  // When the server is stopped twice
  auto stopping = Clock::now();
  server.stop();
  server.stop();

  // Then it waits no longer than the keep-alive timeout, and nobody listens any more
  EXPECT_LT(Clock::now() - stopping, milliseconds(3500));
  httplib::Client fresh("127.0.0.1", server.port());
  fresh.set_connection_timeout(std::chrono::seconds(1));
  EXPECT_FALSE(fresh.Get("/v1/models"));
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

TEST(TestServerTest, ApiKeyIsEnforcedAndHeadersAreRecorded) {
  // Given a server that wants a key
  TestServer server({.api_key = "sk-test"});
  httplib::Client client = client_for(server);

  // When requests come without a key, with a wrong one and with the right one
  auto none = client.Post(kChatPath, chat_body("x"), "application/json");
  auto wrong = client.Post(kChatPath, {{"Authorization", "Bearer nope"}}, chat_body("x"),
                           "application/json");
  auto right = client.Post(kChatPath, {{"Authorization", "Bearer sk-test"}}, chat_body("x"),
                           "application/json");
  auto models = client.Get("/v1/models", {{"Authorization", "Bearer sk-test"}});

  // Then only the right key is served, and every header is on record
  EXPECT_EQ(status_of(none), 401);
  EXPECT_EQ(status_of(wrong), 401);
  EXPECT_EQ(status_of(right), 200);
  EXPECT_EQ(status_of(models), 200);
  EXPECT_EQ(server.authorization_headers(),
            (std::vector<std::string>{"", "Bearer nope", "Bearer sk-test", "Bearer sk-test"}));
  EXPECT_EQ(server.chat_request_count(), 3u);
}

TEST(TestServerTest, BindsOnlyTheLoopbackAddress) {
  // Given a server on an ephemeral port
  TestServer server;

  // When it is reached on 127.0.0.1 and on another loopback address
  httplib::Client other("127.0.0.2", server.port());
  other.set_connection_timeout(std::chrono::seconds(1));

  // Then only 127.0.0.1 answers, and the base URL says so
  EXPECT_EQ(status_of(client_for(server).Get("/v1/models")), 200);
  EXPECT_FALSE(other.Get("/v1/models"));
  EXPECT_GT(server.port(), 0);
  EXPECT_EQ(server.base_url(), "http://127.0.0.1:" + std::to_string(server.port()) + "/v1");
}

TEST(TestServerTest, BadRequestsAndUnknownPathsGetErrorBodies) {
  // Given a server
  TestServer server;

  // When it gets a body that is not JSON, one without messages, and an unknown path
  auto not_json = post_chat(server, "{nope");
  auto no_messages = post_chat(server, R"({"model":"m"})");
  auto unknown = client_for(server).Get("/v1/nothing");

  // Then they are a 400, a 400 and a 404, each with an OpenAI error body
  ASSERT_EQ(status_of(not_json), 400);
  EXPECT_TRUE(Json::parse(not_json->body)["error"]["message"].is_string());
  ASSERT_EQ(status_of(no_messages), 400);
  EXPECT_TRUE(Json::parse(no_messages->body)["error"]["message"].is_string());
  ASSERT_EQ(status_of(unknown), 404);
  EXPECT_EQ(Json::parse(unknown->body)["error"]["code"], 404);
}

TEST(TestServerTest, CountsConcurrentRequestsAndDelays) {
  // Given a server with a delay, and four hanging requests in flight at once
  TestServer server({.delay_ms = 50});
  auto started = Clock::now();
  ASSERT_EQ(status_of(post_chat(server, chat_body("slow"))), 200);
  EXPECT_GE(Clock::now() - started, milliseconds(50));
  std::vector<std::future<httplib::Result>> pending;
  for (int i = 0; i < 4; ++i) {
    pending.push_back(std::async(std::launch::async, [&server, i] {
      return post_chat(server, chat_body("[[fault:hang]] " + std::to_string(i)),
                       milliseconds(30000));
    }));
  }

  // When all four have arrived
  ASSERT_TRUE(server.wait_for_chat_requests(5, milliseconds(5000)));

  // Then the server saw four at once, and stop() lets them all go
  EXPECT_EQ(server.max_concurrent(), 4u);
  server.stop();
  for (auto& result : pending) {
    EXPECT_EQ(result.wait_for(milliseconds(2000)), std::future_status::ready);
  }
}

}  // namespace
}  // namespace personagen::testing
