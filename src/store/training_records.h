#pragma once

// The records of the training-data tasks that are more than one reply: a solved problem (solve,
// K samples and their vote) and a conversation (converse); and a judged text (judge), whose
// record is its scores rather than a text. respond writes an OutputRecord.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/openai_client.h"
#include "store/output_record.h"

namespace personagen {

// One sample of a solve line: a solution and its final answer, or why it failed.
struct SolveSample {
  std::string_view custom_id;
  std::string_view output;  // the solution; empty when the sample failed
  std::string_view answer;  // the final answer as written; empty when the sample failed
  std::string_view reasoning;
  std::string_view finish_reason;
  std::string_view failure;  // why the sample failed for good; empty when it did not
  Usage usage;
  int attempts = 0;
};

// `s` as a solve record's "samples" show it: {"custom_id", "output", "answer", "reasoning"?,
// "finish_reason" (or "failure"), "attempts"}. With `request` (a failure's "kept_samples"), that
// index first and the sample's "usage" as well.
void append_sample(std::string& out, const SolveSample& s,
                   std::optional<uint64_t> request = std::nullopt);

// A problem solved K times. Written to the shards when at least M answers agree, else to
// unverified.jsonl (always as a record, whatever --format).
struct SolveRecord {
  std::string_view custom_id;  // of the line: its first sample's
  Source source;
  Provenance provenance;
  std::string_view problem;
  const std::string* answer = nullptr;  // the majority answer, normalized; null if none
  std::span<const std::pair<std::string, size_t>> votes;
  std::string_view agreement;    // "2/3"
  bool verified = false;         // at least M answers agree
  std::optional<size_t> chosen;  // the sample whose solution is kept
  std::span<const SolveSample> samples;
  bool keep_reasoning = false;  // --format chat
};

// One message of a conversation, with a reasoning model's thinking kept apart.
struct Turn {
  std::string role;  // "user" or "assistant"
  std::string content;
  std::string reasoning;
};

struct ConversationRecord {
  std::string_view custom_id;
  Source source;
  Provenance provenance;
  std::string_view system;  // --system, sent before every assistant turn
  std::span<const Turn> turns;
  std::string_view finish_reason;  // of the last reply
  Usage usage;                     // of every request of the conversation
  int attempts = 0;                // of every request of the conversation
  bool keep_reasoning = false;     // --format chat
};

// A record's text scored on a rubric (judge). Written to the shards, or to below-threshold.jsonl
// when its overall score is below --min-score; always as a record.
struct JudgeRecord {
  std::string_view custom_id;
  Source source;  // the judged record's persona, persona_id and custom_id
  Provenance provenance;
  std::string_view rubric;  // a built-in rubric's name, or "file:<hash>"
  std::string_view text;    // the judged text
  // The parser's compact {"scores":{...},"overall":x,"reason":"..."}; its members are the
  // record's "scores", "overall" and "reason".
  std::string_view judgment;
  std::string_view reasoning;  // a reasoning model's thinking
  std::string_view finish_reason;
  Usage usage;
  int attempts = 0;
};

void format_judge_record(const JudgeRecord& record, std::string& out);

// Each writes one JSON document (no newline) into `out`, replacing its content. Chat is
// {"messages": [problem, solution]} and {"messages": [system?, user, assistant, ...]}.
void format_solve_record(OutputFormat format, const SolveRecord& record, std::string& out);
void format_conversation(OutputFormat format, const ConversationRecord& record, std::string& out);

}  // namespace personagen
