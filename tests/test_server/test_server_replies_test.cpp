#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "test_server/test_server.h"
#include "test_server/test_server_client.h"

// The replies that requests script: solve answers chosen by the seed, both sides of a
// conversation, and thinking in the shapes reasoning models send it; and that a plain request
// still gets the reply it always got. Every test goes through real HTTP.

namespace personagen::testing {
namespace {

// The 8 hex digits the server tags a reply to `prompt` with (those of its echo tool name).
std::string tag_of(const std::string& prompt) {
  return echo_tool_name(prompt).substr(std::string("echo_tool_").size());
}

// A chat body of `messages` ({role, content} pairs), with "seed" when it is not null.
std::string messages_body(const std::vector<std::pair<std::string, std::string>>& messages,
                          const Json& seed = nullptr) {
  Json body = {{"model", "gpt-test"}, {"messages", Json::array()}};
  for (const auto& [role, content] : messages) {
    body["messages"].push_back({{"role", role}, {"content", content}});
  }
  if (!seed.is_null()) body["seed"] = seed;
  return body.dump();
}

// The assistant message of the reply to `body`, which must be a 200.
Json message_for(const TestServer& server, const std::string& body) {
  auto result = post_chat(server, body);
  EXPECT_EQ(status_of(result), 200) << body;
  if (!result) return Json::object();
  return Json::parse(result->body)["choices"][0]["message"];
}

std::string content_for(const TestServer& server, const std::string& body) {
  return message_for(server, body)["content"].get<std::string>();
}

std::string solve_body(const std::string& prompt, const Json& seed) {
  return messages_body({{"system", "You solve problems."}, {"user", prompt}}, seed);
}

TEST(TestServerRepliesTest, AnswersMarkerPicksTheEntryBySeed) {
  // Given a solve prompt whose marker makes two of three samples agree
  TestServer server;
  std::string prompt = "Solve step by step: what is 3 + 4? [[answers: 7|7|9]]";

  // When it is sent with seeds 0, 1 and 2
  std::vector<std::string> contents;
  for (int seed = 0; seed < 3; ++seed)
    contents.push_back(content_for(server, solve_body(prompt, seed)));

  // Then the answers are 7, 7 and 9, each ending a worked solution
  std::string opening = "Solution: we read the problem (echo " + tag_of(prompt) + ", seed ";
  EXPECT_EQ(contents[0],
            opening + "0) and work it out step by step.\n\n" + "The final answer is \\boxed{7}.");
  EXPECT_EQ(contents[1],
            opening + "1) and work it out step by step.\n\n" + "The final answer is \\boxed{7}.");
  EXPECT_EQ(contents[2],
            opening + "2) and work it out step by step.\n\n" + "The final answer is \\boxed{9}.");

  // And a test can read each seed back from the bodies the server received
  std::vector<std::string> bodies = server.chat_requests();
  ASSERT_EQ(bodies.size(), 3u);
  for (int seed = 0; seed < 3; ++seed) {
    Json body = Json::parse(bodies[seed]);
    EXPECT_EQ(body["seed"], seed);
    EXPECT_EQ(body["messages"][1]["content"], prompt);
  }
}

TEST(TestServerRepliesTest, SeedIsAbsentNegativeHugeOrNotAnIntegerSanely) {
  // Given a marker with three distinct entries
  TestServer server;
  std::string prompt = "[[answers: a|b|c]]";
  auto answer_for = [&](const Json& seed) {
    std::string content = content_for(server, solve_body(prompt, seed));
    size_t box = content.find("\\boxed{");
    return box == std::string::npos ? std::string("no box") : content.substr(box + 7, 1);
  };

  // When seeds of every kind are sent / Then the entry is seed mod 3, and 0 for non-integers
  EXPECT_EQ(answer_for(nullptr), "a");  // absent
  EXPECT_EQ(answer_for(-1), "c");
  EXPECT_EQ(answer_for(-3), "a");
  EXPECT_EQ(answer_for(std::numeric_limits<uint64_t>::max()), "a");  // 2^64 - 1 = 0 mod 3
  EXPECT_EQ(answer_for(std::numeric_limits<int64_t>::min()), "b");   // -2^63 = 1 mod 3
  EXPECT_EQ(answer_for(2.0), "c");
  EXPECT_EQ(answer_for(1.5), "a");
  EXPECT_EQ(answer_for(1e30), "a");
  EXPECT_EQ(answer_for("2"), "a");
  EXPECT_EQ(answer_for(true), "a");
}

TEST(TestServerRepliesTest, EmptyEntryGivesAReplyWithNoFinalAnswer) {
  // Given a marker whose middle entry is empty, and one with no entry at all
  TestServer server;
  std::string prompt = "Solve: [[answers: 7||9]]";

  // When the empty entry is picked, and when a filled one is
  std::string empty = content_for(server, solve_body(prompt, 1));
  std::string none = content_for(server, solve_body("Solve: [[answers:]]", 5));
  std::string filled = content_for(server, solve_body(prompt, 0));

  // Then the empty ones carry no box and no "answer" phrase, and the filled one does
  EXPECT_EQ(empty, "Solution: we read the problem (echo " + tag_of(prompt) +
                       ", seed 1) and work it out step by step, but the working stops short.");
  for (const std::string& content : {empty, none}) {
    EXPECT_EQ(content.find("boxed"), std::string::npos) << content;
    EXPECT_EQ(content.find("answer"), std::string::npos) << content;
    EXPECT_EQ(content.find("Answer"), std::string::npos) << content;
  }
  EXPECT_NE(filled.find("\\boxed{7}"), std::string::npos) << filled;
}

TEST(TestServerRepliesTest, EntriesKeepLatexAndLoseOneLevelOfJsonEscaping) {
  // Given a marker with LaTeX as it is, and one quoted inside JSON text (an echoed record), so
  // that its backslashes arrive doubled
  TestServer server;
  std::string verbatim = "Solve: [[answers: \\frac{1}{2} | \\sqrt{2}]]";
  std::string quoted = "Solve this problem step by step:\n" +
                       Json({{"prompt", "Halve one. [[answers: \\frac{1}{2}]]"}}).dump();
  ASSERT_NE(quoted.find("\\\\frac{1}{2}"), std::string::npos) << quoted;

  // When both are sent
  std::string first = content_for(server, solve_body(verbatim, 0));
  std::string second = content_for(server, solve_body(verbatim, 1));
  std::string unquoted = content_for(server, solve_body(quoted, 0));

  // Then each box holds the LaTeX with single backslashes, trimmed of blanks
  EXPECT_NE(first.find("The final answer is \\boxed{\\frac{1}{2}}."), std::string::npos) << first;
  EXPECT_NE(second.find("The final answer is \\boxed{\\sqrt{2}}."), std::string::npos) << second;
  EXPECT_NE(unquoted.find("The final answer is \\boxed{\\frac{1}{2}}."), std::string::npos)
      << unquoted;
}

TEST(TestServerRepliesTest, PersonaAsUserGetsAOneLineFollowUp) {
  // Given the persona-as-user prompt over a transcript with two assistant turns, and another
  std::string prompt =
      "You are playing the user in a conversation. You are: a night-shift nurse.\n"
      "The conversation so far:\n"
      "User: How do I sleep in the day?\n"
      "Assistant: Try blackout curtains.\n"
      "User: And noise?\n"
      "Assistant: Earplugs help.\n"
      "Write the user's next message.";
  std::string other = prompt + " Keep it short.";
  TestServer server;

  // When both are sent
  std::string reply = content_for(server, chat_body(prompt));
  std::string other_reply = content_for(server, chat_body(other));

  // Then each is one line naming its prompt's tag and the number of assistant turns
  EXPECT_EQ(reply, "Follow-up from echo persona " + tag_of(prompt) + ": and what about case 2?");
  EXPECT_EQ(reply.find('\n'), std::string::npos);
  EXPECT_NE(reply, other_reply);
}

TEST(TestServerRepliesTest, ConversationInProgressGetsAnAssistantReplyPerTurn) {
  // Given conversations with two and three user turns, and one that differs only early on
  TestServer server;
  std::string two = messages_body({{"system", "Be brief."},
                                   {"user", "How do I sleep in the day?"},
                                   {"assistant", "Try blackout curtains."},
                                   {"user", "And noise?"}});
  std::string three = messages_body({{"user", "How do I sleep in the day?"},
                                     {"assistant", "Try blackout curtains."},
                                     {"user", "And noise?"},
                                     {"assistant", "Earplugs."},
                                     {"user", "And light?"}});
  std::string other = messages_body(
      {{"user", "How do I nap?"}, {"assistant", "Try blackout curtains."}, {"user", "And noise?"}});

  // When they are sent
  std::string reply_two = content_for(server, two);
  std::string reply_three = content_for(server, three);
  std::string reply_other = content_for(server, other);

  // Then each is an assistant reply counting the user turns, tagged by the whole conversation
  const std::string tail = "): thanks, here is the next step.";
  ASSERT_TRUE(reply_two.starts_with("Assistant reply 2 (")) << reply_two;
  ASSERT_TRUE(reply_two.ends_with(tail)) << reply_two;
  EXPECT_EQ(reply_two.size(), std::string("Assistant reply 2 (").size() + 8 + tail.size());
  EXPECT_TRUE(reply_three.starts_with("Assistant reply 3 (")) << reply_three;
  EXPECT_TRUE(reply_other.starts_with("Assistant reply 2 (")) << reply_other;
  EXPECT_NE(reply_two, reply_other);

  // And the server kept the whole messages array of each request
  EXPECT_EQ(Json::parse(server.chat_requests()[1])["messages"].size(), 5u);
}

TEST(TestServerRepliesTest, ThinkMarkerSendsReasoningContentAndCountsItsTokens) {
  // Given a prompt with [[think]]
  TestServer server;
  std::string prompt = "Write a riddle. [[think]]";

  // When it is sent
  auto result = post_chat(server, chat_body(prompt));

  // Then the thinking is in reasoning_content, the content is the usual echo, and usage
  // reports the reasoning tokens inside the completion tokens
  ASSERT_EQ(status_of(result), 200);
  Json reply = Json::parse(result->body);
  Json message = reply["choices"][0]["message"];
  std::string reasoning = message["reasoning_content"];
  EXPECT_TRUE(reasoning.starts_with("Let me think about this (echo " + tag_of(prompt) + ")."))
      << reasoning;
  EXPECT_FALSE(message.contains("reasoning"));
  std::string content = message["content"];
  EXPECT_EQ(Json::parse(content)["prompt"], prompt);
  int reasoning_tokens = reply["usage"]["completion_tokens_details"]["reasoning_tokens"];
  EXPECT_EQ(reasoning_tokens, static_cast<int>((reasoning.size() + 3) / 4));
  EXPECT_GT(reasoning_tokens, 0);
  EXPECT_EQ(reply["usage"]["completion_tokens"],
            static_cast<int>((content.size() + 3) / 4) + reasoning_tokens);
  EXPECT_EQ(reply["usage"]["total_tokens"], reply["usage"]["prompt_tokens"].get<int>() +
                                                reply["usage"]["completion_tokens"].get<int>());
}

TEST(TestServerRepliesTest, ReasoningFieldMarkerSendsReasoningInstead) {
  // Given a solve prompt with [[reasoning-field]] and an answers marker
  TestServer server;

  // When it is sent
  auto result = post_chat(server, solve_body("[[reasoning-field]] [[answers: 42]]", 0));

  // Then the thinking is in "reasoning", beside the solution, and its tokens are reported
  ASSERT_EQ(status_of(result), 200);
  Json reply = Json::parse(result->body);
  Json message = reply["choices"][0]["message"];
  EXPECT_FALSE(message.contains("reasoning_content"));
  EXPECT_TRUE(message["reasoning"].get<std::string>().starts_with("Let me think about"));
  EXPECT_TRUE(message["content"].get<std::string>().ends_with("\\boxed{42}."));
  EXPECT_GT(reply["usage"]["completion_tokens_details"]["reasoning_tokens"].get<int>(), 0);
}

TEST(TestServerRepliesTest, ThinkInlineMarkerPutsAThinkBlockBeforeTheContent) {
  // Given [[think-inline]] in the system message and an answers marker in the user message
  TestServer server;
  std::string prompt = "Solve: [[answers: 5]]";
  std::string body = messages_body({{"system", "[[think-inline]]"}, {"user", prompt}}, 0);

  // When it is sent
  auto result = post_chat(server, body);

  // Then the content is a think block, a blank line and the solution, with no reasoning fields
  ASSERT_EQ(status_of(result), 200);
  Json reply = Json::parse(result->body);
  Json message = reply["choices"][0]["message"];
  std::string content = message["content"];
  std::string solution = "Solution: we read the problem (echo " + tag_of(prompt) +
                         ", seed 0) and work it out step by step.\n\n"
                         "The final answer is \\boxed{5}.";
  EXPECT_EQ(content, "<think>\nLet me think about this (echo " + tag_of(prompt) +
                         ").\nFirst I restate the question, then I check each step.\n"
                         "</think>\n\n" +
                         solution);
  EXPECT_FALSE(message.contains("reasoning_content"));
  EXPECT_FALSE(message.contains("reasoning"));
  EXPECT_FALSE(reply["usage"].contains("completion_tokens_details"));
  EXPECT_EQ(reply["usage"]["completion_tokens"], static_cast<int>((content.size() + 3) / 4));
}

TEST(TestServerRepliesTest, FaultsChangeTheContentAndLeaveTheThinking) {
  // Given a reasoning prompt whose first attempt gets empty content
  TestServer server;
  std::string body = chat_body("Think hard. [[think]] [[fault:empty]]");

  // When it is sent twice
  Json faulted = message_for(server, body);
  Json normal = message_for(server, body);

  // Then the first has thinking but no content, as when a model spends its budget thinking
  EXPECT_EQ(faulted["content"], "");
  EXPECT_EQ(faulted["reasoning_content"], normal["reasoning_content"]);
  EXPECT_FALSE(normal["content"].get<std::string>().empty());
}

TEST(TestServerRepliesTest, PlainRequestGetsTheReplyItAlwaysGot) {
  // Given a plain one-user-message request with a seed
  TestServer server;
  std::string prompt = "Write a riddle for a baker.";
  Json request = Json::parse(chat_body(prompt));
  request["seed"] = 7;

  // When it is sent
  auto result = post_chat(server, request.dump());

  // Then the body, but for its timestamp, is byte for byte the echo reply it has always been
  ASSERT_EQ(status_of(result), 200);
  nlohmann::ordered_json reply = nlohmann::ordered_json::parse(result->body);
  ASSERT_TRUE(reply["created"].is_number_integer());
  reply["created"] = 0;
  std::string content =
      R"({"type":"function","function":{"name":")" + echo_tool_name(prompt) +
      R"(","description":"Echo tool","parameters":{"type":"object","properties":{"text":)"
      R"({"type":"string"}},"required":["text"]}},"name":"Echo NPC","role":"echo",)"
      R"("backstory":"Born in a test server, it repeats whatever it is told.",)"
      R"("personality":"Literal and patient.","dialogue":["You said it, I echo it."],)"
      R"("prompt":"Write a riddle for a baker.","request_index":0})";
  size_t completion_tokens = (content.size() + 3) / 4;
  std::string expected =
      R"({"id":"chatcmpl-0","object":"chat.completion","created":0,"model":"gpt-test",)"
      R"("choices":[{"index":0,"message":{"role":"assistant","content":)" +
      Json(content).dump() + R"(},"finish_reason":"stop"}],"usage":{"prompt_tokens":7,)" +
      R"("completion_tokens":)" + std::to_string(completion_tokens) + R"(,"total_tokens":)" +
      std::to_string(7 + completion_tokens) + "}}";
  EXPECT_EQ(reply.dump(), expected);
}

TEST(TestServerRepliesTest, TaskPromptsGetRepliesThatLookLikeTheirTask) {
  // Given prompts in the wording of personagen's templates, for one persona,
  TestServer server;
  auto prompt = [](const std::string& ask) {
    return "Example 1:\nPersona: A potter\nOld output\n\n" + ask +
           "\n\nPersona: A baker in Lyon who rises at four\n\nNote: be specific.";
  };
  std::string math = prompt("Create a new math problem related to the following persona:");
  std::string npc = prompt("Create a non-player character (NPC) who is this persona.");
  std::string tool = prompt("Design one tool (a function that an AI assistant could call).");
  // then each reply is its task's, names the last persona and carries the prompt's tag,
  std::string problem = content_for(server, chat_body(math));
  EXPECT_EQ(problem.rfind("Math problem: For a baker in Lyon who rises at four, ", 0), 0u)
      << problem;
  EXPECT_NE(problem.find(tag_of(math)), std::string::npos) << problem;
  Json character = Json::parse(content_for(server, chat_body(npc)));
  EXPECT_EQ(character["role"], "Baker, now a guide for travellers");
  EXPECT_NE(character["backstory"].get<std::string>().find(tag_of(npc)), std::string::npos);
  Json function = Json::parse(content_for(server, chat_body(tool)))["function"];
  EXPECT_TRUE(function["name"].get<std::string>().ends_with("_" + tag_of(tool)));
  // and a schema named after another task gets the schema's instance instead.
  Json request = Json::parse(chat_body(npc));
  request["response_format"] = {
      {"type", "json_schema"},
      {"json_schema",
       {{"name", "other"},
        {"schema", {{"type", "object"}, {"properties", {{"x", {{"type", "string"}}}}}}}}}};
  EXPECT_EQ(Json::parse(content_for(server, request.dump())),
            (Json{{"x", "A x from echo " + tag_of(npc)}}));
}

TEST(TestServerRepliesTest, AnUnknownModelIsRefusedWhenAsked) {
  ServerOptions options;
  options.reject_unknown_model = true;
  TestServer server(options);
  auto refused = post_chat(server, chat_body("Hello.", "gpt-typo"));
  EXPECT_EQ(status_of(refused), 404);
  ASSERT_TRUE(refused);
  EXPECT_EQ(Json::parse(refused->body)["error"]["code"], "model_not_found");
  EXPECT_EQ(status_of(post_chat(server, chat_body("Hello.", "test-model"))), 200);
}

}  // namespace
}  // namespace personagen::testing
