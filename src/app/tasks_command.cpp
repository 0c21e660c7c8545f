#include <cstdio>
#include <span>
#include <string>

#include "personagen/commands.h"
#include "synth/prompt_template.h"
#include "synth/tasks.h"

namespace personagen {

ExitCode run_tasks(const Options& options) {
  std::printf("%-19s %-8s %-6s %s\n", "TASK", "OUTPUT", "DEMOS", "TEMPLATES");
  for (std::span<const TaskInfo> table : {builtin_tasks(), persona_tasks()}) {
    for (const TaskInfo& info : table) {
      TaskPrompts prompts = load_task_prompts(info.name, options.prompts_dir, options.world_file);
      const char* kind = info.kind == OutputKind::text      ? "text"
                         : info.kind == OutputKind::npc     ? "json"
                         : info.kind == OutputKind::tool    ? "tool"
                         : info.kind == OutputKind::persona ? "persona"
                                                            : "personas";
      std::string where = prompts.source == "embedded" ? "embedded:prompts/" + prompts.task + "/"
                                                       : prompts.source + "/" + prompts.task + "/";
      std::printf("%-19.*s %-8s %-6zu %s{zero-shot,few-shot,persona-few-shot}.txt  -- %.*s\n",
                  static_cast<int>(info.name.size()), info.name.data(), kind, prompts.demos.size(),
                  where.c_str(), static_cast<int>(info.summary.size()), info.summary.data());
    }
  }
  std::printf("\nmethods: zero-shot (default), few-shot, persona-few-shot\n");
  return ExitCode::ok;
}

}  // namespace personagen
