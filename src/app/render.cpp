#include <spdlog/spdlog.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "input/input_files.h"
#include "input/record_reader.h"
#include "personagen/commands.h"
#include "synth/synth_plan.h"

namespace personagen {

ExitCode run_render(const Options& options) {
  SynthPlan plan = make_plan(options);
  RequestBuilder builder(plan);
  Selection selection(plan.selection);
  RecordReader reader(plan.input_files, plan.reader);
  std::optional<std::vector<InputRecord>> sampled;
  if (selection.sample() > 0) sampled = read_sample(reader, selection);
  size_t sample_next = 0;
  auto read = [&]() -> std::optional<InputRecord> {
    if (!sampled) return reader.next();
    if (sample_next == sampled->size()) return std::nullopt;
    return std::move((*sampled)[sample_next++]);
  };

  uint64_t rendered = 0;
  uint64_t rejected = 0;
  std::string out;
  while (!options.limit || rendered < options.limit) {
    std::optional<InputRecord> record = read();
    if (!record) break;
    if (!record->ok()) {
      ++rejected;
      spdlog::warn("{}:{}: {}", plan.input_files[record->file], record->file_line, record->reject);
      continue;
    }
    if (!selection.selected(*record)) continue;
    for (size_t unit = 0; unit < plan.units(); ++unit) {
      builder.build(*record, unit);
      out += builder.body();
      out += '\n';
    }
    // Written in pieces of about 64 KiB: few writes, and little held however long the input.
    if (out.size() >= (1u << 16)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
    ++rendered;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (std::fflush(stdout) != 0) throw Error("stdout: write failed");
  if (rendered == 0 && rejected == 0)
    spdlog::warn("{}: the input has no records", join_inputs(options.inputs));
  return ExitCode::ok;
}

}  // namespace personagen
