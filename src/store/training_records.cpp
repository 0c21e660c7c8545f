#include "store/training_records.h"

#include "store/record_fields.h"

namespace personagen {

using namespace record_fields;

namespace {

Usage sum_usage(std::span<const SolveSample> samples) {
  Usage total;
  for (const SolveSample& s : samples) {
    total += s.usage;
  }
  return total;
}

}  // namespace

void append_sample(std::string& out, const SolveSample& s, std::optional<uint64_t> request) {
  out += '{';
  if (request) number_field(out, "request", static_cast<int64_t>(*request));
  field(out, "custom_id", s.custom_id);
  if (!s.failure.empty()) {
    field(out, "failure", s.failure);
  } else {
    field(out, "output", s.output);
    field(out, "answer", s.answer);
    if (!s.reasoning.empty()) field(out, "reasoning", s.reasoning);
    field(out, "finish_reason", s.finish_reason);
  }
  if (request) append_usage(out, s.usage);
  number_field(out, "attempts", s.attempts);
  out += '}';
}

void format_solve_record(OutputFormat format, const SolveRecord& r, std::string& out) {
  out.clear();
  out += '{';
  const SolveSample* chosen = r.chosen ? &r.samples[*r.chosen] : nullptr;
  if (format == OutputFormat::chat && r.verified && chosen) {
    out += "\"messages\":[";
    append_message(out, "user", r.problem);
    append_message(out, "assistant", chosen->output, r.keep_reasoning ? chosen->reasoning : "");
    out += "]}";
    return;
  }
  field(out, "custom_id", r.custom_id);
  append_source(out, r.source);
  append_provenance(out, r.provenance);
  field(out, "problem", r.problem);
  if (r.answer) {
    field(out, "answer", *r.answer);
  } else {
    raw_field(out, "answer", "null");
  }
  out += ",\"votes\":{";
  for (const auto& [answer, count] : r.votes)
    number_field(out, answer, static_cast<int64_t>(count));
  out += '}';
  field(out, "agreement", r.agreement);
  raw_field(out, "verified", r.verified ? "true" : "false");
  if (r.verified && chosen) {
    field(out, "solution", chosen->output);
    if (!chosen->reasoning.empty()) field(out, "reasoning", chosen->reasoning);
  }
  out += ",\"samples\":[";
  for (const SolveSample& sample : r.samples) {
    if (out.back() != '[') out += ',';
    append_sample(out, sample);
  }
  out += ']';
  append_usage(out, sum_usage(r.samples));
  int attempts = 0;
  for (const SolveSample& sample : r.samples) attempts += sample.attempts;
  number_field(out, "attempts", attempts);
  raw_field(out, "synthetic", "true");
  out += '}';
}

void format_conversation(OutputFormat format, const ConversationRecord& r, std::string& out) {
  out.clear();
  out += '{';
  if (format == OutputFormat::chat) {
    out += "\"messages\":[";
    if (!r.system.empty()) append_message(out, "system", r.system);
    for (const Turn& turn : r.turns)
      append_message(out, turn.role, turn.content, r.keep_reasoning ? turn.reasoning : "");
    out += "]}";
    return;
  }
  field(out, "custom_id", r.custom_id);
  append_source(out, r.source);
  append_provenance(out, r.provenance);
  if (!r.system.empty()) field(out, "system", r.system);
  out += ",\"messages\":[";
  for (const Turn& turn : r.turns) {
    if (out.back() != '[') out += ',';
    out += '{';
    field(out, "role", turn.role);
    field(out, "content", turn.content);
    if (!turn.reasoning.empty()) field(out, "reasoning", turn.reasoning);
    out += '}';
  }
  out += ']';
  size_t user_turns = 0;
  for (const Turn& turn : r.turns) user_turns += turn.role == "user";
  number_field(out, "turns", static_cast<int64_t>(user_turns));
  append_reply_fields(out, r.finish_reason, r.usage, r.attempts);
  out += '}';
}

void format_judge_record(const JudgeRecord& r, std::string& out) {
  out.clear();
  out += '{';
  field(out, "custom_id", r.custom_id);
  append_source(out, r.source);
  append_provenance(out, r.provenance);
  field(out, "rubric", r.rubric);
  field(out, "text", r.text);
  // The judgment's members, spliced in as they are: the parser wrote them as compact JSON.
  if (r.judgment.size() > 2) {
    out += ',';
    out.append(r.judgment.substr(1, r.judgment.size() - 2));
  }
  if (!r.reasoning.empty()) field(out, "reasoning", r.reasoning);
  append_reply_fields(out, r.finish_reason, r.usage, r.attempts);
  out += '}';
}

}  // namespace personagen
