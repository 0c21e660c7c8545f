#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>

#include "input/input_files.h"
#include "personagen/commands.h"
#include "synth/request_walk.h"
#include "synth/synth_plan.h"

namespace personagen {

ExitCode run_render(const Options& options) {
  SynthPlan plan = make_plan(options);
  RequestBuilder builder(plan);
  std::string out;
  WalkCounts counts = walk_requests(
      plan, options.limit, builder, [](uint64_t, size_t) { return true; },
      [&](const InputRecord&, size_t) {
        out += builder.body();
        out += '\n';
        // Written in pieces of about 64 KiB: few writes, and little held however long the input.
        if (out.size() >= (1u << 16)) {
          std::fwrite(out.data(), 1, out.size(), stdout);
          out.clear();
        }
      },
      [&](const InputRecord& record) {
        spdlog::warn("{}:{}: {}", plan.input_files[record.file], record.file_line, record.reject);
      });
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (std::fflush(stdout) != 0) throw Error("stdout: write failed");
  if (counts.selected == 0 && counts.rejected == 0)
    spdlog::warn("{}: the input has no records", join_inputs(options.inputs));
  return ExitCode::ok;
}

}  // namespace personagen
