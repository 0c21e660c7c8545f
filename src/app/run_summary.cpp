#include "app/run_summary.h"

#include <cstdint>
#include <cstdio>
#include <vector>

#include "app/api_key.h"
#include "store/atomic_file.h"
#include "util/json_text.h"

namespace personagen {

std::string_view summary_status(ExitCode code) {
  switch (code) {
    case ExitCode::ok:
      return "ok";
    case ExitCode::some_failed:
      return "some_failed";
    case ExitCode::aborted:
      return "aborted";
    case ExitCode::interrupted:
      return "interrupted";
    case ExitCode::error:
    case ExitCode::usage:
      break;
  }
  return "error";
}

namespace {

void add(std::optional<Totals>& total, const std::optional<Totals>& part) {
  if (part) (total ? *total : total.emplace()) += *part;
}

RunSummary summary_of(const RunOutcome& run) {
  RunSummary s;
  s.status = summary_status(run.code);
  s.exit_code = static_cast<int>(run.code);
  s.message = run.message;
  s.output = run.output;
  s.totals = run.totals ? &*run.totals : nullptr;
  s.this_run = run.this_run ? &*run.this_run : nullptr;
  s.shards = run.shards;
  s.batches = run.batches;
  return s;
}

}  // namespace

void write_summary(const Options& options, ExitCode code, std::string_view message,
                   std::span<const RunOutcome> runs, bool expansion) {
  if (options.summary_file.empty()) return;
  const std::string key = api_key_to_mask(options);
  RunSummary summary;
  std::optional<Totals> totals, this_run;
  std::vector<RunSummary> hops;
  if (!expansion && !runs.empty()) {
    summary = summary_of(runs.front());
  } else {
    summary.output = options.output;
    for (size_t i = 0; i < runs.size(); ++i) {
      const RunOutcome& run = runs[i];
      hops.push_back(summary_of(run));
      summary.shards += run.shards;
      add(totals, run.totals);
      add(this_run, run.this_run);
      if (run.code != ExitCode::ok && summary.failed_hop == 0)
        summary.failed_hop = static_cast<int>(i + 1);
    }
    summary.totals = totals ? &*totals : nullptr;
    summary.this_run = this_run ? &*this_run : nullptr;
    summary.hops = hops;
  }
  summary.status = summary_status(code);
  summary.exit_code = static_cast<int>(code);
  summary.message = message;
  summary.secret = key;
  write_file_atomic(options.summary_file, format_summary_json(summary));
}

namespace {

// Appends `"name":` to the object open at the end of `out`, after a comma unless it is the
// object's first member.
void member(std::string& out, std::string_view name) {
  if (out.back() != '{') out += ',';
  append_json_string(out, name);
  out += ':';
}

void string_member(std::string& out, std::string_view name, std::string_view value) {
  member(out, name);
  append_json_string(out, value);
}

void number_member(std::string& out, std::string_view name, int64_t value) {
  member(out, name);
  out += std::to_string(value);
}

void totals_object(std::string& out, std::string_view name, const Totals& t) {
  member(out, name);
  out += '{';
  number_member(out, "records", static_cast<int64_t>(t.records));
  number_member(out, "failed", static_cast<int64_t>(t.failed));
  number_member(out, "rejected", static_cast<int64_t>(t.rejected));
  // Always, so that a cron check reads 0 rather than a missing key.
  number_member(out, "unverified", static_cast<int64_t>(t.unverified));
  number_member(out, "below_threshold", static_cast<int64_t>(t.below_threshold));
  number_member(out, "requests", static_cast<int64_t>(t.requests));
  number_member(out, "retries", static_cast<int64_t>(t.retries));
  number_member(out, "prompt_tokens", static_cast<int64_t>(t.prompt_tokens));
  number_member(out, "completion_tokens", static_cast<int64_t>(t.completion_tokens));
  number_member(out, "billed_prompt_tokens", static_cast<int64_t>(t.billed_prompt_tokens));
  number_member(out, "billed_completion_tokens", static_cast<int64_t>(t.billed_completion_tokens));
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.3f", t.seconds);
  member(out, "seconds");
  out += seconds;
  out += '}';
}

void append_summary_fields(std::string& out, const RunSummary& s, std::string_view secret) {
  string_member(out, "status", s.status);
  number_member(out, "exit_code", s.exit_code);
  if (!s.message.empty()) string_member(out, "message", redacted(s.message, secret));
  string_member(out, "output", s.output);
  number_member(out, "shards", static_cast<int64_t>(s.shards));
  if (s.totals) totals_object(out, "totals", *s.totals);
  if (s.this_run) totals_object(out, "this_run", *s.this_run);
}

}  // namespace

std::string format_summary_json(const RunSummary& s) {
  std::string out = "{";
  append_summary_fields(out, s, s.secret);
  if (s.failed_hop != 0) number_member(out, "failed_hop", s.failed_hop);
  if (!s.hops.empty()) {
    out += ",\"hops\":[";
    for (size_t i = 0; i < s.hops.size(); ++i) {
      out += i ? ",{" : "{";
      number_member(out, "hop", static_cast<int64_t>(i + 1));
      append_summary_fields(out, s.hops[i], s.secret);
      out += '}';
    }
    out += ']';
  }
  if (!s.batches.empty()) {
    out += ",\"batches\":[";
    for (size_t i = 0; i < s.batches.size(); ++i) {
      const RunOutcome::Batch& b = s.batches[i];
      out += i ? ",{" : "{";
      string_member(out, "file", b.file);
      string_member(out, "batch_id", b.batch_id);
      string_member(out, "status", b.status);
      number_member(out, "requests", static_cast<int64_t>(b.requests));
      number_member(out, "completed", static_cast<int64_t>(b.completed));
      number_member(out, "failed", static_cast<int64_t>(b.failed));
      out += '}';
    }
    out += ']';
  }
  out += "}\n";
  return out;
}

}  // namespace personagen
