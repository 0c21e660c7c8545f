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
  solution,      // a worked solution ending in a final answer (\boxed{...}) (solve)
  judge,         // scores on a rubric: {"scores":{"validity","persona_fit","quality"},"reason"}
};

// What a task makes of its input line.
enum class TaskRole {
  synthesis,  // a persona -> a synthesized text (the paper's six tasks)
  persona,    // a text or a persona -> personas
  training,   // a record's text (a prompt, a problem) -> a response, a solution, a conversation
};

// One row of the task table.
struct TaskInfo {
  std::string_view name;         // "math"
  std::string_view summary;      // one line for `personagen tasks`
  std::string_view description;  // the Persona Hub "description" field ("math problem")
  OutputKind kind;
  TaskRole role = TaskRole::synthesis;
  // Only zero-shot: the input text is the prompt (respond, converse), so there is nothing to
  // demonstrate and the task has no few-shot templates or examples.
  bool zero_shot_only = false;
};

// The paper's six synthesis tasks, in a fixed order.
std::span<const TaskInfo> builtin_tasks();

// The two persona-creation tasks: text-to-persona and persona-to-persona. Their records are
// persona records that synth, render and dedup take as input.
std::span<const TaskInfo> persona_tasks();

// The tasks that turn records into training data: respond, solve, converse and judge. They read
// the text of a record (its "output" by default) and carry the record's persona and custom_id.
std::span<const TaskInfo> training_tasks();

// Every task: synthesis, persona creation, then training data.
std::vector<const TaskInfo*> all_tasks();

// The task with this name, or nullptr.
const TaskInfo* find_task(std::string_view name);

// The result of checking one reply.
struct ParsedOutput {
  bool ok = false;
  // For npc and tool: the validated object as compact JSON; for persona, a JSON string; for
  // persona_list, a JSON array of strings; for solution, the final answer as written; for judge,
  // {"scores":...,"overall":x,"reason":...} (judge.h); empty for text.
  std::string parsed;
  std::vector<std::string> personas;  // persona and persona_list: the cleaned personas
  std::string reason;  // when !ok: one line saying what was wrong ("not a JSON object", ...)

  // A reply that is not usable, for `why`.
  static ParsedOutput failure(std::string why) { return {false, {}, {}, std::move(why)}; }
};

// Checks a completion's content for a task of this kind: text must not be blank; npc and tool
// go to their parsers (output_parsers.h), persona and persona_list to persona_parser.h, a
// solution to extract_answer (answer.h), which must find a final answer, and a judgment to
// parse_judgment (judge.h). JSON may be wrapped in a ```json fence or surrounded by prose; the
// first complete object is taken.
// Never throws.
ParsedOutput parse_output(OutputKind kind, std::string_view content);

}  // namespace personagen
