#include <cstdio>
#include <span>
#include <string>

#include "personagen/commands.h"
#include "synth/prompt_template.h"
#include "synth/tasks.h"

namespace personagen {

namespace {

const char* kind_name(OutputKind kind) {
  switch (kind) {
    case OutputKind::text:
      return "text";
    case OutputKind::npc:
      return "json";
    case OutputKind::tool:
      return "tool";
    case OutputKind::persona:
      return "persona";
    case OutputKind::persona_list:
      return "personas";
    case OutputKind::solution:
      return "solution";
    case OutputKind::judge:
      return "scores";
  }
  return "?";
}

}  // namespace

ExitCode run_tasks(const Options& options) {
  std::printf("%-19s %-8s %-6s %s\n", "TASK", "OUTPUT", "DEMOS", "TEMPLATES");
  for (const TaskInfo* task : all_tasks()) {
    const TaskInfo& info = *task;
    TaskPrompts prompts =
        load_task_prompts(info.name, options.prompts_dir, options.world_file, info.zero_shot_only);
    std::string where = prompts.source == "embedded" ? "embedded:prompts/" + prompts.task + "/"
                                                     : prompts.source + "/" + prompts.task + "/";
    const char* files = !info.zero_shot_only ? "{zero-shot,few-shot,persona-few-shot}.txt"
                        : info.kind == OutputKind::judge   ? "{zero-shot,rubric-*}.txt"
                        : prompts.user_turn.text().empty() ? "zero-shot.txt"
                                                           : "{zero-shot,user-turn}.txt";
    std::printf("%-19.*s %-8s %-6zu %s%s  -- %.*s\n", static_cast<int>(info.name.size()),
                info.name.data(), kind_name(info.kind), prompts.demos.size(), where.c_str(), files,
                static_cast<int>(info.summary.size()), info.summary.data());
  }
  std::printf("\nmethods: zero-shot (default), few-shot, persona-few-shot\n");
  return ExitCode::ok;
}

}  // namespace personagen
