#include "synth/tasks.h"

#include <array>
#include <exception>

#include "synth/answer.h"
#include "synth/judge_reply.h"
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
     OutputKind::persona, TaskRole::persona},
    {"persona-to-persona", "personas in a close relationship with a persona", "persona",
     OutputKind::persona_list, TaskRole::persona},
}};

constexpr std::array<TaskInfo, 4> kTrainingTasks = {{
    {"respond", "the assistant's response to a user prompt (the input text)", "response",
     OutputKind::text, TaskRole::training, /*zero_shot_only=*/true},
    {"solve", "K solutions of a problem, kept when M final answers agree", "solution",
     OutputKind::solution, TaskRole::training},
    {"converse", "a multi-turn conversation: the persona plays the user", "conversation",
     OutputKind::text, TaskRole::training, /*zero_shot_only=*/true},
    {"judge", "scores of a record's text on a rubric (1-10), filtered with --min-score", "judgment",
     OutputKind::judge, TaskRole::training, /*zero_shot_only=*/true},
}};

}  // namespace

std::span<const TaskInfo> builtin_tasks() {
  return kTasks;
}

std::span<const TaskInfo> persona_tasks() {
  return kPersonaTasks;
}

std::span<const TaskInfo> training_tasks() {
  return kTrainingTasks;
}

std::vector<const TaskInfo*> all_tasks() {
  std::vector<const TaskInfo*> all;
  for (std::span<const TaskInfo> table : {builtin_tasks(), persona_tasks(), training_tasks()})
    for (const TaskInfo& task : table) all.push_back(&task);
  return all;
}

const TaskInfo* find_task(std::string_view name) {
  for (const TaskInfo* task : all_tasks())
    if (task->name == name) return task;
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
    if (kind == OutputKind::solution) {
      std::optional<std::string> answer = extract_answer(content);
      if (!answer) return ParsedOutput::failure("no final answer (expected \\boxed{...})");
      return {true, std::move(*answer), {}, {}};
    }
    if (kind == OutputKind::judge) return parse_judgment(content);
    if (kind == OutputKind::npc) return parse_npc(content);
    return parse_tool(content);
  } catch (const std::exception& e) {
    // The parsers guard every access, so this is a last resort (e.g. out of memory).
    return ParsedOutput::failure("output could not be checked: " + short_reason(e));
  }
}

}  // namespace personagen
