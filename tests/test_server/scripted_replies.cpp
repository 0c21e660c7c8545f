#include "scripted_replies.h"

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stable_hash.h"
#include "task_replies.h"
#include "util/text_util.h"

namespace personagen::testing::detail {
namespace {

constexpr std::string_view kPersonaAsUser = "You are playing the user in a conversation";
constexpr std::string_view kAnswersOpen = "[[answers:";
constexpr std::string_view kSolveInstruction = "put your final answer within \\boxed{}";
constexpr std::string_view kJudgePrompt = "You are judging one piece of synthetic training data";
constexpr std::string_view kJudgeOpen = "[[judge:";

// 8 hex digits of the text's hash: the tags that tell replies apart.
std::string tag_of(std::string_view text) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(fnv1a(text) & 0xffffffffU));
  return hex;
}

// The entry with each "\\" read as "\": a marker quoted inside JSON text arrives escaped once.
std::string unescaped(std::string_view entry) {
  std::string text;
  for (size_t i = 0; i < entry.size(); ++i) {
    text += entry[i];
    if (entry[i] == '\\' && i + 1 < entry.size() && entry[i + 1] == '\\') ++i;
  }
  return text;
}

// The entries of the first `[[answers: ...]]` marker of `prompt`, or nullopt without one.
std::optional<std::vector<std::string>> answers_marker(std::string_view prompt) {
  size_t open = prompt.find(kAnswersOpen);
  if (open == std::string_view::npos) return std::nullopt;
  size_t from = open + kAnswersOpen.size();
  size_t close = prompt.find("]]", from);
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view spec = prompt.substr(from, close - from);
  std::vector<std::string> entries;
  for (size_t start = 0;;) {
    size_t bar = spec.find('|', start);
    entries.push_back(unescaped(trim(spec.substr(start, bar - start), " \t\r\n")));
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  return entries;
}

std::string seed_text(const RequestSeed& seed) {
  return (seed.negative ? "-" : "") + std::to_string(seed.magnitude);
}

std::string solution(const ChatRequest& request, const std::vector<std::string>& entries) {
  const std::string& answer = entries[request.seed.mod(entries.size())];
  std::string opening = "Solution: we read the problem (echo " + tag_of(request.prompt) +
                        ", seed " + seed_text(request.seed) + ") and work it out step by step";
  if (answer.empty()) return opening + ", but the working stops short.";
  return opening + ".\n\nThe final answer is \\boxed{" + answer + "}.";
}

// A judge reply: the three scores of the prompt's first `[[judge: V,P,Q]]` marker as written
// (so a test can also send a bad one), else three from 1 to 10 taken from the prompt's hash.
std::string judgment(const ChatRequest& request) {
  const std::string& prompt = request.prompt;
  std::vector<std::string> scores;
  if (size_t open = prompt.find(kJudgeOpen); open != std::string::npos) {
    size_t from = open + kJudgeOpen.size();
    size_t close = prompt.find("]]", from);
    std::string_view spec = std::string_view(prompt).substr(from, close - from);
    for (size_t start = 0; close != std::string::npos;) {
      size_t comma = spec.find(',', start);
      scores.emplace_back(trim(spec.substr(start, comma - start), " \t\r\n"));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  if (scores.size() != 3) {
    uint64_t hash = fnv1a(prompt);
    scores = {std::to_string(1 + hash % 10), std::to_string(1 + (hash >> 8) % 10),
              std::to_string(1 + (hash >> 16) % 10)};
  }
  return "{\"scores\": {\"validity\": " + scores[0] + ", \"persona_fit\": " + scores[1] +
         ", \"quality\": " + scores[2] + "}, \"reason\": \"Judged by the test server (echo " +
         tag_of(prompt) + ").\"}";
}

// How many lines of `text` start with "Assistant:".
size_t assistant_lines(std::string_view text) {
  constexpr std::string_view kAssistant = "Assistant:";
  size_t count = 0;
  for (size_t at = 0; at < text.size();) {
    if (text.substr(at).starts_with(kAssistant)) ++count;
    size_t newline = text.find('\n', at);
    if (newline == std::string_view::npos) break;
    at = newline + 1;
  }
  return count;
}

std::string content_for(const ChatRequest& request, size_t index) {
  // First: the judged text may hold any other marker or wording (a solve problem's answers).
  if (request.prompt.find(kJudgePrompt) != std::string::npos) return judgment(request);
  if (request.prompt.find(kPersonaAsUser) != std::string::npos) {
    return "Follow-up from echo persona " + tag_of(request.prompt) + ": and what about case " +
           std::to_string(assistant_lines(request.prompt)) + "?";
  }
  if (std::optional<std::vector<std::string>> entries = answers_marker(request.prompt)) {
    return solution(request, *entries);
  }
  if (request.prompt.find(kSolveInstruction) != std::string::npos) {
    // A solve prompt without a marker (the demo's): one answer for every sample, so it is kept.
    return solution(request,
                    {std::to_string(std::stoul(tag_of(request.prompt), nullptr, 16) % 100)});
  }
  if (request.user_messages > 1) {
    return "Assistant reply " + std::to_string(request.user_messages) + " (" +
           tag_of(request.transcript) + "): thanks, here is the next step.";
  }
  if (std::optional<std::string> task = task_reply(request)) return std::move(*task);
  return echo_content(request.prompt, index);
}

}  // namespace

ChatReply scripted_reply(const ChatRequest& request, size_t index) {
  ChatReply reply;
  reply.content = content_for(request, index);
  const std::string& all = request.transcript;
  bool inline_thinking = all.find("[[think-inline]]") != std::string::npos;
  reply.reasoning_content = all.find("[[think]]") != std::string::npos;
  reply.reasoning_field = all.find("[[reasoning-field]]") != std::string::npos;
  if (!inline_thinking && !reply.reasoning_content && !reply.reasoning_field) return reply;
  std::string thinking = "Let me think about this (echo " + tag_of(request.prompt) +
                         ").\nFirst I restate the question, then I check each step.";
  if (inline_thinking) reply.content = "<think>\n" + thinking + "\n</think>\n\n" + reply.content;
  if (reply.reasoning_content || reply.reasoning_field) reply.reasoning = std::move(thinking);
  return reply;
}

}  // namespace personagen::testing::detail
