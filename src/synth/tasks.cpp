#include "synth/tasks.h"

#include <array>
#include <exception>

#include "synth/output_parsers.h"
#include "synth/persona_parser.h"
#include "util/text_util.h"

namespace personagen {

namespace {

constexpr std::array<TaskInfo, 6> kTasks = {{
    {"math", "a math problem", "math problem", OutputKind::text},
    {"reasoning", "a logical reasoning problem", "logical reasoning problem", OutputKind::text},
    {"instruction", "a user prompt this persona would send to an AI assistant", "instruction",
     OutputKind::text},
    {"knowledge", "a knowledge-rich text written as the persona", "knowledge-rich text",
     OutputKind::text},
    {"npc", "a game NPC this persona would become in a game world", "game npc", OutputKind::npc},
    {"tool", "a tool (function) this persona would need, in OpenAI tool format", "tool development",
     OutputKind::tool},
}};

constexpr std::array<TaskInfo, 2> kPersonaTasks = {{
    {"text-to-persona", "a persona who would read, write, like or dislike a text", "persona",
     OutputKind::persona},
    {"persona-to-persona", "personas in a close relationship with a persona", "persona",
     OutputKind::persona_list},
}};

}  // namespace

std::span<const TaskInfo> builtin_tasks() {
  return kTasks;
}

std::span<const TaskInfo> persona_tasks() {
  return kPersonaTasks;
}

const TaskInfo* find_task(std::string_view name) {
  for (std::span<const TaskInfo> table : {builtin_tasks(), persona_tasks()}) {
    for (const TaskInfo& task : table) {
      if (task.name == name) return &task;
    }
  }
  return nullptr;
}

ParsedOutput parse_output(OutputKind kind, std::string_view content) {
  try {
    if (kind == OutputKind::text) {
      if (trim(content).empty()) return ParsedOutput::failure("empty output");
      return {true, {}, {}, {}};
    }
    if (kind == OutputKind::persona) return parse_persona(content);
    if (kind == OutputKind::persona_list) return parse_persona_list(content);
    if (kind == OutputKind::npc) return parse_npc(content);
    return parse_tool(content);
  } catch (const std::exception& e) {
    // The parsers guard every access, so this is a last resort (e.g. out of memory).
    return ParsedOutput::failure("output could not be checked: " + short_reason(e));
  }
}

}  // namespace personagen
