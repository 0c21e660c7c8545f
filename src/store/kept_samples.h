#pragma once

// solve: the samples of a failed line that succeeded. They were billed, so they are kept in the
// line's failure record, as its "kept_samples", and a --retry-failed pass (or a batch's next
// round) sends only the samples that failed; the vote then sees all K again.

#include <cstdint>
#include <fstream>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/openai_client.h"
#include "store/training_records.h"

namespace personagen {

// One sample that succeeded, as read back from a failure's "kept_samples": its solve record's
// fields (SolveSample, which wrote it) owned, with the usage and attempts it was billed for.
struct KeptSample {
  uint64_t request = 0;  // the sample's index within its line, as a failure's "request"
  std::string custom_id;
  std::string output;  // the solution
  std::string answer;  // the final answer, as written
  std::string reasoning;
  std::string finish_reason;
  Usage usage;
  int attempts = 0;
};

// Adds "kept_samples":[{"request","custom_id","output","answer","reasoning"?,"finish_reason",
// "usage","attempts"},...] as the last member of `failure`, a record that format_failure wrote:
// those of a line's `samples` (all K, in order) that succeeded, each with its index as
// "request". Nothing when none did.
void add_kept_samples(std::span<const SolveSample> samples, std::string& failure);

// The "kept_samples" of the failure record `text`; empty when it has none. Throws Error naming
// `where` (a file and its line or offset) if they are not as add_kept_samples writes them.
std::vector<KeptSample> parse_kept_samples(std::string_view text, const std::string& where);
// The same, of a record already parsed.
std::vector<KeptSample> read_kept_samples(const nlohmann::json& record, const std::string& where);

// A solve line whose failure keeps samples is sent again sample by sample: the samples it keeps
// (their "request") and those that failed (`failed`, sorted; kEveryRequest: all of them) must be
// its `samples` (--samples K) samples 0 to K-1, each once. Else a retry would pay for a sample
// again or never settle the line. Throws Error naming `where` (a file, its line and the input
// line) and what was expected.
void check_kept_line(std::span<const uint64_t> kept, std::span<const uint64_t> failed,
                     uint64_t samples, const std::string& where);

// Reads the kept samples of failure records by their offset in one failures file, which it
// opens at the first read and keeps open.
class KeptSamplesReader {
 public:
  explicit KeptSamplesReader(std::string path) : path_(std::move(path)) {}
  // The "kept_samples" of the failure record that starts at byte `offset`. Throws Error naming
  // the file and the offset if it cannot be read or is not well-formed.
  std::vector<KeptSample> at(uint64_t offset);

 private:
  std::string path_;
  std::ifstream in_;
};

}  // namespace personagen
