#include <spdlog/spdlog.h>

#include <cstdio>

#include "personagen/commands.h"
#include "personagen/record_reader.h"
#include "personagen/synth_plan.h"

namespace personagen {

ExitCode run_render(const Options& options) {
  SynthPlan plan = make_plan(options);
  RequestBuilder builder(plan);
  RecordReader reader(options.input, plan.reader);
  uint64_t rendered = 0;
  uint64_t rejected = 0;
  std::string out;
  while (!options.limit || rendered < options.limit) {
    std::optional<InputRecord> record = reader.next();
    if (!record) break;
    if (!record->ok()) {
      ++rejected;
      spdlog::warn("{}:{}: {}", options.input, record->line, record->reject);
      continue;
    }
    builder.build(*record);
    out += builder.body();
    out += '\n';
    if (out.size() >= (1u << 16)) {
      std::fwrite(out.data(), 1, out.size(), stdout);
      out.clear();
    }
    ++rendered;
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (std::fflush(stdout) != 0) throw Error("stdout: write failed");
  if (rendered == 0 && rejected == 0) spdlog::warn("{}: the input has no records", options.input);
  return ExitCode::ok;
}

ExitCode run_tasks(const Options& options) {
  std::printf("%-12s %-8s %-6s %s\n", "TASK", "OUTPUT", "DEMOS", "TEMPLATES");
  for (const TaskInfo& info : builtin_tasks()) {
    TaskPrompts prompts = load_task_prompts(info.name, options.prompts_dir, options.world_file);
    const char* kind = info.kind == OutputKind::text  ? "text"
                       : info.kind == OutputKind::npc ? "json"
                                                      : "tool";
    std::string where = prompts.source == "embedded" ? "embedded:prompts/" + prompts.task + "/"
                                                     : prompts.source + "/" + prompts.task + "/";
    std::printf("%-12.*s %-8s %-6zu %s{zero-shot,few-shot,persona-few-shot}.txt  -- %.*s\n",
                static_cast<int>(info.name.size()), info.name.data(), kind, prompts.demos.size(),
                where.c_str(), static_cast<int>(info.summary.size()), info.summary.data());
  }
  std::printf("\nmethods: zero-shot (default), few-shot, persona-few-shot\n");
  return ExitCode::ok;
}

}  // namespace personagen
