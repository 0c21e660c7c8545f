#include "test_server/test_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_server/test_server_client.h"

// The test server's replies and bookkeeping: the endpoints, what a reply echoes, the API key,
// the address it binds, stopping, and counting; its fault injection is in
// test_server_fault_test.cpp.

namespace personagen::testing {
namespace {

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
  // Given a conversation with one user turn after an assistant turn, sent after another request
  TestServer server;
  ASSERT_EQ(status_of(post_chat(server, chat_body("first"))), 200);
  Json body = {{"messages",
                {{{"role", "system"}, {"content", "early"}},
                 {{"role", "assistant"}, {"content", "reply"}},
                 {{"role", "user"}, {"content", "late"}}}}};

  // When it is sent without a model
  auto result = post_chat(server, body.dump());

  // Then the prompt is the user turn, the index is 1, and the model is the server's
  ASSERT_EQ(status_of(result), 200);
  EXPECT_EQ(content_of(result->body)["prompt"], "late");
  EXPECT_EQ(content_of(result->body)["request_index"], 1);
  EXPECT_EQ(Json::parse(result->body)["id"], "chatcmpl-1");
  EXPECT_EQ(Json::parse(result->body)["model"], "test-model");
}

TEST(TestServerTest, MarkersAreReadFromTheLastUserMessage) {
  // Given two user turns whose answers markers differ
  TestServer server;
  Json body = {{"messages",
                {{{"role", "user"}, {"content", "[[answers: early]]"}},
                 {{"role", "assistant"}, {"content", "reply"}},
                 {{"role", "user"}, {"content", "[[answers: late]]"}}}}};

  // When it is sent
  auto result = post_chat(server, body.dump());

  // Then the answer is the last user turn's
  ASSERT_EQ(status_of(result), 200);
  std::string content = Json::parse(result->body)["choices"][0]["message"]["content"];
  EXPECT_TRUE(content.ends_with("The final answer is \\boxed{late}.")) << content;
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
