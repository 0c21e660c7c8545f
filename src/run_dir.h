#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "personagen/manifest.h"
#include "personagen/options.h"

namespace personagen {

// How a synth invocation starts in its output directory.
struct RunStart {
  enum class Kind {
    fresh,     // nothing to resume: a new run
    resume,    // continue the checkpointed run (main pass or retry pass)
    complete,  // the run is finished and nothing was asked of it: report and exit
  };
  Kind kind = Kind::fresh;
  std::optional<Manifest> manifest;  // for resume and complete
  // For a retry pass: the input lines to re-request, sorted. Empty otherwise.
  std::vector<uint64_t> retry_lines;
};

// The output directory of a synth run. It is locked for the object's lifetime, so two runs can
// never interleave their writes into the same directory.
class RunDir {
 public:
  // Creates the directory if needed and takes the lock. Throws Error if another run holds it.
  explicit RunDir(std::string dir);
  ~RunDir();
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;

  std::string manifest_path() const { return dir_ + "/manifest.json"; }

  // Decides between a fresh run, a resume and nothing to do, given the flags and this run's
  // configuration. Refuses (usage Error) a configuration that differs from the recorded one,
  // naming each difference. --restart clears the directory first. --retry-failed on a complete
  // run moves failures.jsonl to failures.retry.jsonl and starts a retry pass; the move is
  // recorded in the manifest before anything else happens, so a crash at any point resumes.
  RunStart prepare(const Options& options, const RunConfig& config, const std::string& prefix);

  // A retry pass is complete: its list of lines is no longer needed.
  void remove_retry_source();

 private:
  std::string retry_source() const { return dir_ + "/failures.retry.jsonl"; }
  std::string failures() const { return dir_ + "/failures.jsonl"; }
  RunStart start_retry_pass(Manifest manifest);

  std::string dir_;
  int lock_fd_ = -1;
};

}  // namespace personagen
