// SynthRun: where its input lines come from (the reader, or a sample drawn at start-up), and
// which of their requests a run sends: all, or in a retry pass those that failed.
#include <algorithm>
#include <filesystem>

#include "synth/request_walk.h"
#include "synth/synth_run.h"
#include "synth/tasks.h"

namespace personagen {

// The input ended. A regular file that is now shorter than when the run began was cut while it
// was read: the lines past the cut were never read, and the run must not say it is complete.
void SynthRun::check_input_end() {
  if (sampled_) return;
  for (const InputFingerprint& input : manifest_.input) {
    std::error_code ec;
    uint64_t size = std::filesystem::file_size(input.path, ec);
    if (ec || size >= input.size) continue;
    input_error_ = Error(input.path + ": the file shrank while it was read (from " +
                         std::to_string(input.size) + " to " + std::to_string(size) +
                         " bytes); restore it and rerun, or use --restart");
    return;
  }
}

// The next input line: from the reader, or from the sample drawn at start-up.
std::optional<InputRecord> SynthRun::read() {
  if (!sampled_) return reader_.next();
  while (sample_next_ < sampled_->size()) {
    InputRecord& record = (*sampled_)[sample_next_++];
    if (record.line >= start_line_) return std::move(record);
  }
  return std::nullopt;
}

ReadPosition SynthRun::read_position(const InputRecord& record) const {
  // A sample is never resumed by seeking, so only the line number matters.
  return sampled_ ? ReadPosition{record.line + 1, 0} : reader_.position();
}

// In a retry pass only the requests listed in failures.retry.jsonl are sent again; the rest of
// the input, rejects included, is already settled.
bool SynthRun::in_retry_list(const InputRecord& record) {
  if (!retry_pass()) return true;
  const std::vector<RequestId>& requests = retry_.requests;
  if (!requests.empty() && record.line > requests.back().line) input_done_ = true;
  auto it = std::lower_bound(requests.begin(), requests.end(), RequestId{record.line, 0});
  return record.ok() && it != requests.end() && it->line == record.line;
}

// Registers a line's request units: one per relation (text-to-persona) and sample (--samples), in
// a retry pass only those that failed (and a solve line's samples that succeeded before, back in
// their places). next() builds them one at a time, as the pool asks.
void SynthRun::start_line(InputRecord record) {
  Pending& pending = pending_[record.line];
  pending.requests.resize(plan_.units());
  for (size_t index = plan_.units(); index-- > 0;) {
    if (!retry_wanted(record.line, index)) continue;
    ++pending.remaining;
    unbuilt_.push_back(index);  // in reverse, so the first request is built first
  }
  building_ = record.line;
  pending.record = std::move(record);
  if (plan_.kind == OutputKind::solution && retry_pass()) restore_kept_samples(pending);
}

bool SynthRun::retry_wanted(uint64_t line, uint64_t index) const {
  return !retry_pass() || retry_wants(retry_, plan_.kind, line, index);
}

}  // namespace personagen
