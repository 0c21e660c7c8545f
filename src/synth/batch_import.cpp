#include "synth/batch_import.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "net/batch_results.h"
#include "store/batch_state.h"
#include "store/manifest.h"
#include "util/file_io.h"

namespace personagen {

namespace {

// Marks the custom_id of every line of a requests file as known to `results`. Our own export
// writes "custom_id" first, so only the start of each line is looked at.
void mark_exported(const std::string& path, BatchResults& results) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_io_error(path, "cannot open the exported requests");
  constexpr std::string_view kPrefix = "{\"custom_id\":\"";
  std::string buffer(1 << 20, '\0');
  std::string carry;
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      throw_io_error(path, "cannot read", err);
    }
    if (n == 0) break;
    carry.append(buffer.data(), static_cast<size_t>(n));
    size_t begin = 0;
    for (size_t nl; (nl = carry.find('\n', begin)) != std::string::npos; begin = nl + 1) {
      std::string_view line(carry.data() + begin, nl - begin);
      if (!line.starts_with(kPrefix)) continue;
      line.remove_prefix(kPrefix.size());
      results.mark_known(line.substr(0, line.find('"')));
    }
    carry.erase(0, begin);
  }
  ::close(fd);
}

}  // namespace

ExitCode import_batches(const std::string& dir_given, const std::vector<std::string>& paths,
                        const SynthContext& context, RunOutcome& outcome) {
  std::string dir = absolute_path(dir_given);
  outcome.output = dir;
  std::string state_path = dir + "/" + kBatchStateName;
  std::optional<BatchState> state = read_batch_state(state_path);
  if (!state) throw usage_error(dir + ": no batch export here (batch.json is missing)");

  BatchResults results(paths);
  for (const BatchFile& f : state->files) mark_exported(dir + "/" + f.name, results);
  if (std::string unknown = results.first_unknown(); !unknown.empty())
    throw Error(unknown + " (" + dir +
                "/requests-*.jsonl); were these results made for "
                "another export?");

  Options options = state->options;
  options.output = dir;
  std::optional<Manifest> manifest = read_manifest(dir + "/manifest.json");
  // After the main pass every import is a retry pass over what failed.
  options.retry_failed = manifest && manifest->complete;
  ResultsTransport transport(results);
  ExitCode code = run_one_synth(options, context, outcome, &transport);
  if (code == ExitCode::ok || code == ExitCode::some_failed)
    update_batch_state(state_path, [](BatchState& s) { s.imported_round = s.last_round(); });
  return code;
}

}  // namespace personagen
