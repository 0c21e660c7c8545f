#pragma once

#include <span>
#include <string>
#include <string_view>

namespace personagen {

// How a task's reply is checked before it becomes a record.
enum class OutputKind {
  text,  // any non-empty text (math, reasoning, instruction, knowledge)
  npc,   // a JSON object describing a game NPC
  tool,  // an OpenAI function tool:
         // {"type":"function","function":{"name","description","parameters"}}
};

// One row of the task table.
struct TaskInfo {
  std::string_view name;         // "math"
  std::string_view summary;      // one line for `personagen tasks`
  std::string_view description;  // the Persona Hub "description" field ("math problem")
  OutputKind kind;
};

// The paper's six synthesis tasks, in a fixed order.
std::span<const TaskInfo> builtin_tasks();

// The task with this name, or nullptr.
const TaskInfo* find_task(std::string_view name);

// The result of checking one reply.
struct ParsedOutput {
  bool ok = false;
  std::string parsed;  // for npc and tool: the validated object as compact JSON; else empty
  std::string reason;  // when !ok: one line saying what was wrong ("not a JSON object", ...)
};

// Checks a completion's content for a task of this kind. JSON may be wrapped in a ```json fence
// or surrounded by prose; the first complete object is taken. Never throws.
ParsedOutput parse_output(OutputKind kind, std::string_view content);

}  // namespace personagen
