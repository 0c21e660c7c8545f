#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace personagen {

// How a task's reply is checked before it becomes a record.
enum class OutputKind {
  text,          // any non-empty text (math, reasoning, instruction, knowledge)
  npc,           // a JSON object describing a game NPC
  tool,          // an OpenAI function tool:
                 // {"type":"function","function":{"name","description","parameters"}}
  persona,       // one persona description (text-to-persona)
  persona_list,  // a JSON array of persona descriptions (persona-to-persona)
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

// The two persona-creation tasks: text-to-persona and persona-to-persona. Their records are
// persona records that synth, render and dedup take as input.
std::span<const TaskInfo> persona_tasks();

// The synthesis or persona-creation task with this name, or nullptr.
const TaskInfo* find_task(std::string_view name);

// The result of checking one reply.
struct ParsedOutput {
  bool ok = false;
  // For npc and tool: the validated object as compact JSON; for persona, a JSON string; for
  // persona_list, a JSON array of strings; empty for text.
  std::string parsed;
  std::vector<std::string> personas;  // persona and persona_list: the cleaned personas
  std::string reason;  // when !ok: one line saying what was wrong ("not a JSON object", ...)

  // A reply that is not usable, for `why`.
  static ParsedOutput failure(std::string why) { return {false, {}, {}, std::move(why)}; }
};

// Checks a completion's content for a task of this kind: text must not be blank; npc and tool
// go to their parsers (output_parsers.h), persona and persona_list to persona_parser.h. JSON may
// be wrapped in a ```json fence or surrounded by prose; the first complete object is taken.
// Never throws.
ParsedOutput parse_output(OutputKind kind, std::string_view content);

}  // namespace personagen
