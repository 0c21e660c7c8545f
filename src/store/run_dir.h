#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "personagen/options.h"
#include "personagen/request_id.h"
#include "store/manifest.h"

namespace personagen {

// The requests of a failures file: what a --retry-failed pass or a batch's next round sends
// again.
struct FailedRequests {
  // solve: a failed line whose failure record keeps its samples that succeeded ("kept_samples",
  // store/kept_samples.h), and the byte offset of that record in `path`.
  struct Kept {
    uint64_t line = 0;
    uint64_t offset = 0;
  };
  std::string path;                 // the file they were read from
  std::vector<RequestId> requests;  // sorted, unique; index kEveryRequest: all of the line's
  std::vector<Kept> kept;           // sorted by line, one per line

  // Where in `path` the samples that `line` keeps are, if it keeps any.
  std::optional<uint64_t> kept_at(uint64_t line) const;
};

// How a synth invocation starts in its output directory.
struct RunStart {
  enum class Kind {
    fresh,     // nothing to resume: a new run
    resume,    // continue the checkpointed run (main pass or retry pass)
    complete,  // the run is finished and nothing was asked of it: report and exit
  };
  Kind kind = Kind::fresh;
  // The manifest to go on from. For a fresh run: no progress yet, this run's configuration and
  // input fingerprint. For a resume: the checkpoint, with the configuration of this invocation
  // (a --retry-failed pass may have changed its sampling).
  std::optional<Manifest> manifest;
  // For a retry pass: the requests to send again, read from failures.retry.jsonl. Empty
  // otherwise.
  FailedRequests retry;
};

// The configuration names a --retry-failed pass may change: how the endpoint is asked, not which
// lines are selected nor what task, template or model answers them. Each record's custom_id
// hashes them, so the records of the two passes stay truthful.
inline constexpr const char* kRetryMayChange[] = {"temperature", "top_p", "max_tokens",
                                                  "max_input_bytes"};

// The fingerprint of the input file at `path`, taken when a run begins; with `length`, of its
// first `length` bytes (nullopt if the file is shorter), to tell a file that only grew. nullopt
// for stdin ("-") and for anything but a regular file (a pipe must not be read twice), or a file
// that cannot be read (the reader names that error when it opens the file).
std::optional<InputFingerprint> fingerprint_input(const std::string& path,
                                                  std::optional<uint64_t> length = std::nullopt);

// The fingerprints of a run's input files, in order; the last one, with `last_length`, of its
// first `last_length` bytes. Empty if any of them has none (stdin, a pipe, a file that cannot be
// read): such an input cannot be checked on a rerun.
std::vector<InputFingerprint> fingerprint_inputs(
    const std::vector<std::string>& files, std::optional<uint64_t> last_length = std::nullopt);

// The requests of the failure records in `path` (line and index within the line), sorted and
// unique, and the records that keep a solve line's samples that succeeded. A record without
// "request" (written before failures named it) means every request of its line. Throws Error
// naming the file and line of a line that is not a failure record, or whose "kept_samples" are
// not well-formed or, with the line's failed samples, not its `samples` (--samples K) samples
// each once (check_kept_line): so a retry pass or a batch's next round refuses before it sends
// anything.
FailedRequests read_failed_requests(const std::string& path, uint64_t samples);

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
  // configuration, so that a run never silently forks. Refuses (usage Error):
  // - a configuration that differs from the recorded one, naming each difference; except that
  //   with --retry-failed the sampling (kRetryMayChange) may change, which is logged and becomes
  //   the recorded configuration;
  // - input files (`input_files`, the -i values expanded) other than those recorded when the run
  //   began, naming the files gone or new; or one whose fingerprint differs from the recorded
  //   one, unless the run is unfinished and it is the last file and only grew (its first
  //   recorded-size bytes still match);
  // - a directory without manifest.json that holds anything but the lock (the files may be the
  //   user's own), unless --restart is given.
  // Throws Error (exit 1) naming the file and both lengths if the run is complete but a file it
  // wrote is missing or does not have the length recorded when it finished.
  // A fresh run writes its manifest (no progress yet) before it returns, so a run killed from
  // then on resumes. --restart clears the directory first. --retry-failed on a complete run
  // moves failures.jsonl to failures.retry.jsonl and starts a retry pass; the move is recorded
  // in the manifest before anything else happens, so a crash at any point resumes.
  RunStart prepare(const Options& options, const RunConfig& config, const std::string& prefix,
                   const std::vector<std::string>& input_files);

  // A retry pass is complete: its list of lines is no longer needed.
  void remove_retry_source();

 private:
  std::string retry_source() const { return dir_ + "/failures.retry.jsonl"; }
  std::string failures() const {
    return dir_ + "/" + std::string(side_file_info(SideFile::failures).file_name);
  }
  RunStart start_retry_pass(Manifest manifest, const RunConfig& config, const std::string& changes);

  std::string dir_;
  int lock_fd_ = -1;
};

}  // namespace personagen
