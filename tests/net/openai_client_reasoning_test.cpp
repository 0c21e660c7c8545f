// A reasoning model's thinking, as the servers send it, kept apart from the answer by
// parse_completion.
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "net/openai_client.h"

namespace personagen {
namespace {

// A reply body whose choices[0].message holds `message_members` (JSON text without braces).
std::string reply_with_message(const std::string& message_members, const std::string& usage = "") {
  std::string body = R"({"choices":[{"index":0,"message":{"role":"assistant",)" + message_members +
                     R"(},"finish_reason":"stop"}])";
  if (!usage.empty()) body += R"(,"usage":)" + usage;
  return body + "}";
}

// Parses `body`, failing the test when it is not a completion.
Completion parsed(const std::string& body) {
  std::string error;
  std::optional<Completion> completion = parse_completion(body, error);
  EXPECT_TRUE(completion) << error;
  return completion.value_or(Completion{});
}

TEST(OpenAiClientReasoningTest, VllmAndDeepSeekReasoningContent) {
  // Given a vLLM / SGLang / DeepSeek reply with reasoning_content beside the content
  const Completion completion =
      parsed(reply_with_message(R"("content":"The answer is 5.","reasoning_content":"2 + 3 is 5.")",
                                R"({"prompt_tokens":9,"completion_tokens":30,"total_tokens":39,)"
                                R"("completion_tokens_details":{"reasoning_tokens":22}})"));

  // Then the thinking is kept apart, and usage counts its tokens
  EXPECT_EQ(completion.content, "The answer is 5.");
  EXPECT_EQ(completion.reasoning, "2 + 3 is 5.");
  EXPECT_EQ(completion.usage.completion_tokens, 30);
  EXPECT_EQ(completion.usage.reasoning_tokens, 22);
}

TEST(OpenAiClientReasoningTest, ALoneClosingTagEndsThinkingOpenedByThePrompt) {
  // Given R1-style content whose <think> was in the prompt, and content that only mentions it
  const Completion lone =
      parsed(reply_with_message(R"("content":"2 + 3 is 5.\n</think>\n\nThe answer is 5.")"));
  const Completion quoted =
      parsed(reply_with_message(R"("content":"Write <think> and </think> around it.")"));

  // Then the text before the lone tag is the thinking; a tag pair mid-content is left alone
  EXPECT_EQ(lone.reasoning, "2 + 3 is 5.");
  EXPECT_EQ(lone.content, "The answer is 5.");
  EXPECT_EQ(quoted.reasoning, "");
  EXPECT_EQ(quoted.content, "Write <think> and </think> around it.");
}

TEST(OpenAiClientReasoningTest, OpenRouterAndOllamaReasoning) {
  // Given an OpenRouter / Ollama reply with "reasoning" (and vLLM 0.11+, which sends both names)
  const Completion router = parsed(reply_with_message(R"("content":"5","reasoning":"Add them.")"));
  const Completion both = parsed(
      reply_with_message(R"("content":"5","reasoning":"new name","reasoning_content":null)"));

  // Then either name fills reasoning
  EXPECT_EQ(router.content, "5");
  EXPECT_EQ(router.reasoning, "Add them.");
  EXPECT_EQ(both.reasoning, "new name");
}

TEST(OpenAiClientReasoningTest, AbsentNullOrOddFieldsLeaveReasoningEmpty) {
  // Given replies without reasoning, with null reasoning, or with reasoning that is not a string
  for (const std::string members :
       {R"("content":"5")", R"("content":"5","reasoning_content":null,"reasoning":null)",
        R"("content":"5","reasoning":{"effort":"high"},"reasoning_content":7)"}) {
    const Completion completion = parsed(reply_with_message(members, R"({"total_tokens":3})"));

    // Then reasoning is empty, the content is untouched, and no reasoning tokens are counted
    EXPECT_EQ(completion.content, "5") << members;
    EXPECT_EQ(completion.reasoning, "") << members;
    EXPECT_EQ(completion.usage.reasoning_tokens, 0) << members;
  }
  // And details without reasoning_tokens, or null details, count none either
  EXPECT_EQ(parsed(reply_with_message(R"("content":"5")",
                                      R"({"completion_tokens_details":{"audio_tokens":1}})"))
                .usage.reasoning_tokens,
            0);
  EXPECT_EQ(parsed(reply_with_message(R"("content":"5")", R"({"completion_tokens_details":null})"))
                .usage.reasoning_tokens,
            0);
}

TEST(OpenAiClientReasoningTest, LeadingThinkBlockMovesToReasoning) {
  // Given a Qwen3 / R1-style reply served without a reasoning parser
  const Completion completion = parsed(reply_with_message(
      R"("content":"\n <think>\nFirst, 2 + 3.\nSo 5.\n</think>\n\nThe answer is \\boxed{5}.")"));

  // Then the block leaves the content, trimmed, and the content starts at its first word
  EXPECT_EQ(completion.reasoning, "First, 2 + 3.\nSo 5.");
  EXPECT_EQ(completion.content, "The answer is \\boxed{5}.");
}

TEST(OpenAiClientReasoningTest, ThinkBlockWithReasoningFieldKeepsTheField) {
  // Given a reply with both a reasoning field and a think block in the content
  const Completion completion = parsed(reply_with_message(
      R"("content":"<think>raw</think>Answer.","reasoning_content":"parsed by the server")"));

  // Then the server's field wins and the block still leaves the content
  EXPECT_EQ(completion.reasoning, "parsed by the server");
  EXPECT_EQ(completion.content, "Answer.");
}

TEST(OpenAiClientReasoningTest, UnclosedThinkIsAllReasoning) {
  // Given a reply cut off while thinking
  const Completion completion =
      parsed(reply_with_message(R"("content":"<think>\nLet me count: 1, 2, 3")"));

  // Then all of it is reasoning and there is no content
  EXPECT_EQ(completion.reasoning, "Let me count: 1, 2, 3");
  EXPECT_EQ(completion.content, "");
}

TEST(OpenAiClientReasoningTest, ThinkTagNotAtTheStartStays) {
  // Given a reply that only mentions the tag later on
  const Completion completion =
      parsed(reply_with_message(R"("content":"Use <think>...</think> tags.")"));

  // Then the content is left as it is
  EXPECT_EQ(completion.content, "Use <think>...</think> tags.");
  EXPECT_EQ(completion.reasoning, "");
}

}  // namespace
}  // namespace personagen
