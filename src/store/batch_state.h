#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "personagen/options.h"

namespace personagen {

// One requests file of a batch export, and what became of it on a server with the Batches API.
// `batch run` records each step the moment the server answers (and that it is about to take a
// step that costs, before it sends it), so that a rerun after a crash never uploads or creates a
// batch twice: an upload or create that was started but not recorded is looked up on the server
// by its name or metadata.
struct BatchFile {
  std::string name;  // "requests-00000.jsonl", "requests-r1-00000.jsonl", in the directory
  int round = 0;     // 0: the export; r: the r-th resubmission of what failed
  uint64_t requests = 0;
  uint64_t bytes = 0;

  bool upload_started = false;
  std::string file_id;  // the uploaded input file
  bool create_started = false;
  std::string batch_id;
  std::string status;  // the batch's last known status ("" before it exists)
  uint64_t completed = 0, failed = 0;
  std::string errors;  // a failed validation's errors, one line
  std::string output_file_id, error_file_id;
  bool downloaded = false;  // its output and error files are in the directory
  bool cancel_sent = false;

  // The batch's output and error files once downloaded, by name in the directory.
  std::string output_name() const { return "results-" + name; }
  std::string error_name() const { return "errors-" + name; }
};

// batch.json, beside the run's manifest.json: how the requests were exported (the options that
// shape them, so that an import rebuilds exactly the same requests), the requests files, and the
// batches made of them.
struct BatchState {
  // Unique per export: names the uploaded files and tags the batches' metadata, so that a batch
  // of this run can be recognised on the server.
  std::string run_id;
  Options options;  // the request-shaping options of the export (inputs as absolute paths)
  std::vector<BatchFile> files;
  int imported_round = -1;  // the last round whose results were imported into the shards
  bool cancelled = false;   // `batch cancel` ran: a later `batch run` imports but resubmits nothing

  int last_round() const { return files.empty() ? 0 : files.back().round; }
};

inline constexpr const char* kBatchStateName = "batch.json";

// Writes `state` atomically to `path`. Throws Error naming the file on an I/O error.
void write_batch_state(const std::string& path, const BatchState& state);

// Reads the state in `path`, lets `change` modify it, and writes it, all under an exclusive lock
// (`path` + ".lock"), so that `batch run` and a `batch cancel` from another shell never lose each
// other's changes. Throws Error if there is no state, or as the two functions around it.
BatchState update_batch_state(const std::string& path,
                              const std::function<void(BatchState&)>& change);

// Reads batch.json; nullopt if it does not exist. Throws Error naming the file if it is not one.
std::optional<BatchState> read_batch_state(const std::string& path);

}  // namespace personagen
