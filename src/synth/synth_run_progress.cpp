// SynthRun: what the run shows while it goes and when it ends.
#include <algorithm>

#include "synth/synth_run.h"
#include "util/cost.h"

namespace personagen {

Progress SynthRun::progress() const {
  Totals run = this_run();
  Progress p;
  p.elapsed_seconds = run.seconds;
  p.done = run.records;
  p.failed = run.failed;
  p.rejected = run.rejected;
  p.unverified = run.unverified;
  p.below_threshold = run.below_threshold;
  p.in_flight = pool_ ? pool_->in_flight() : 0;
  p.waiting = pool_ ? pool_->waiting() : 0;
  p.retries = pool_ ? pool_->retries() : run.retries;
  p.prompt_tokens = run.billed_prompt_tokens;
  p.completion_tokens = run.billed_completion_tokens;
  p.cost = cost_of(run.billed_prompt_tokens, run.billed_completion_tokens, options_).value_or(-1);
  p.fraction = fraction();
  return p;
}

// The share of the work done, for the percentage and the ETA. It reaches 1 only when nothing is
// left: reading to the end of the input is not finishing it.
double SynthRun::fraction() const {
  double unfinished = static_cast<double>(watermark_.in_progress());
  if (input_done_) {
    double done = static_cast<double>(lines_sent_);
    return done + unfinished > 0 ? done / (done + unfinished) : 1.0;
  }
  double f = -1;
  if (sampled_ && !sampled_->empty()) {
    f = (static_cast<double>(sample_next_) - unfinished) / static_cast<double>(sampled_->size());
  } else if (options_.limit && !retry_pass()) {
    f = (static_cast<double>(selected_) - unfinished) / static_cast<double>(options_.limit);
  } else if (reader_.raw_size() > 0) {
    // The reader fetches the file in large chunks, so for plain input the offset of the next
    // line is the truer measure; for compressed input (whose offsets count decompressed bytes)
    // the compressed bytes read are.
    double consumed = static_cast<double>(reader_.consumed_bytes());
    f = consumed / static_cast<double>(reader_.raw_size());
  }
  return f < 0 ? -1 : std::min(f, 0.99);
}

void SynthRun::finish_status(bool success) {
  bool clean = success && totals().failed == 0;
  status_.finish(progress(), output_name(), !clean);
}

// The run is about to stop with an error: the error is the one line a quiet run prints.
void SynthRun::finish_status_before_error() {
  status_.finish(progress(), output_name(), false);
}

std::string SynthRun::output_name() const {
  return options_.output == "-" ? "stdout" : options_.output + "/";
}

}  // namespace personagen
