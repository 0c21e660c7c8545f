// SynthRun: the training tasks whose line needs more than one reply. converse builds a
// conversation request by request; solve gathers K samples and lets their answers vote.
#include <cassert>

#include "store/kept_samples.h"
#include "synth/answer.h"
#include "synth/synth_run.h"
#include "synth/tasks.h"
#include "synth/votes.h"
#include "util/text_util.h"

namespace personagen {

bool SynthRun::build_followup(Job& job) {
  if (followups_.empty()) return false;
  RequestId id = followups_.front();
  followups_.pop_front();
  Pending& pending = pending_.at(id.line);
  Request& request = pending.requests[id.index];
  messages_.clear();
  for (const Turn& turn : request.turns) messages_.push_back({turn.role, turn.content});
  builder_.build_turn(source_fields(pending.record).persona, messages_, id.index, request.step);
  job.id = id;
  job.body = builder_.body();
  job.estimated_tokens = estimate_tokens(job.body);
  return true;
}

bool SynthRun::advance_conversation(Pending& p, const Job& job, Judged& judged) {
  Request& request = p.requests[job.id.index];
  request.usage += judged.completion.usage;
  request.attempts += job.attempts;
  // Even steps are the assistant's replies; odd ones the persona's next message as the user,
  // whose own thinking is not part of the conversation.
  if (request.step % 2 == 0) {
    request.turns.push_back({"assistant", std::move(judged.completion.content),
                             std::move(judged.completion.reasoning)});
  } else {
    request.turns.push_back({"user", std::string(trim(judged.completion.content)), {}});
  }
  if (++request.step < plan_.steps()) {
    followups_.push_back(job.id);
    return false;
  }
  add_conversation(p, request, judged.completion.finish_reason);
  return true;
}

void SynthRun::add_conversation(Pending& p, Request& request, const std::string& finish_reason) {
  SourceFields source = source_fields(p.record);
  ConversationRecord r;
  r.custom_id = request.custom_id;
  r.source = {source.persona, source.persona_id, source.source_id};
  r.provenance = provenance_;
  r.system = plan_.extras.system;
  r.turns = request.turns;
  r.finish_reason = finish_reason;
  r.usage = request.usage;
  r.attempts = request.attempts;
  r.keep_reasoning = plan_.keep_reasoning;
  format_conversation(plan_.format, r, json_);
  p.records.push_back(json_);
  request.turns = {};  // written: the line keeps only its record
}

void SynthRun::add_sample(Request& request, Judged& judged, int attempts) {
  request.output = std::move(judged.completion.content);
  request.answer = std::move(judged.parsed.parsed);  // the final answer, as written
  request.normalized = normalize_answer(request.answer);
  request.reasoning = std::move(judged.completion.reasoning);
  request.finish_reason = std::move(judged.completion.finish_reason);
  request.usage = judged.completion.usage;
  request.attempts = attempts;
}

// The paper's filter: a problem is kept when at least M of its K solutions reach the same final
// answer. A line without agreement goes to unverified.jsonl with its votes, so nothing vanishes.
// A failed sample votes for nothing; if the others still agree the line is kept (the failure is
// in its samples), else the line fails, keeping the samples that succeeded with its failures, and
// a retry pass sends only the failed samples again.
void SynthRun::settle_solve(Pending& p) {
  std::vector<std::optional<std::string>> answers;
  std::vector<SolveSample> samples;
  for (const Request& request : p.requests) {
    answers.push_back(request.failure.empty() ? request.normalized : std::nullopt);
    SolveSample& s = samples.emplace_back();
    s.custom_id = request.custom_id;
    s.output = request.output;
    s.answer = request.answer;
    s.reasoning = request.reasoning;
    s.finish_reason = request.finish_reason;
    s.failure = request.failure;
    s.usage = request.usage;
    s.attempts = request.attempts;
  }
  Votes votes = tally(answers);
  bool verified = votes.best >= plan_.agree;
  if (!verified && !p.failures.empty()) {
    // A failed line: its failures are written, the first keeping the samples that succeeded
    // (billed, with their usage and attempts), so that a retry pass puts them back and sends
    // only the failed ones.
    add_kept_samples(samples, p.failures.front());
    return;
  }
  p.failures.clear();
  SourceFields source = source_fields(p.record);
  std::string agreement = votes.agreement(plan_.samples);
  SolveRecord r;
  r.custom_id = p.requests.front().custom_id;
  r.source = {source.persona, source.persona_id, source.source_id};
  r.provenance = provenance_;
  r.problem = p.record.persona;
  r.answer = votes.answer();
  r.votes = votes.counts;
  r.agreement = agreement;
  r.verified = verified;
  r.chosen = votes.chosen;
  r.samples = samples;
  r.keep_reasoning = plan_.keep_reasoning;
  if (verified) {
    format_solve_record(plan_.format, r, json_);
    p.records.push_back(json_);
  } else {
    format_solve_record(OutputFormat::record, r, json_);
    sink_.write_unverified(json_);
    ++totals().unverified;
  }
}

// Their usage and attempts were counted in the totals when they were billed; they are not
// counted again, and the record shows them as they were. read_failed_requests checked that the
// kept and the failed samples are the line's K, each once, before anything was sent.
void SynthRun::restore_kept_samples(Pending& p) {
  std::optional<uint64_t> offset = retry_.kept_at(p.record.line);
  if (!offset) return;
  for (KeptSample& k : kept_reader_.at(*offset)) {
    assert(k.request < p.requests.size() && !retry_wanted(p.record.line, k.request));
    Request& request = p.requests[k.request];
    request.custom_id = std::move(k.custom_id);
    request.output = std::move(k.output);
    request.answer = std::move(k.answer);
    request.normalized = normalize_answer(request.answer);
    request.reasoning = std::move(k.reasoning);
    request.finish_reason = std::move(k.finish_reason);
    request.usage = k.usage;
    request.attempts = k.attempts;
  }
}

}  // namespace personagen
