#pragma once

// -t judge: the rubrics a record's text is scored on. The reply's schema and parser are in
// judge_reply.h.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "personagen/input_record.h"
#include "synth/judge_reply.h"
#include "synth/tasks.h"

namespace personagen {

// The built-in rubrics, prompts/judge/rubric-<name>.txt: one per synthesis task, and "generic"
// for a text of no known task.
inline constexpr std::array<std::string_view, 7> kRubricNames = {
    "math", "reasoning", "instruction", "knowledge", "npc", "tool", "generic"};

// What the three criteria mean for one kind of text.
struct Rubric {
  std::string name;  // a built-in name ("math"), or "file:<hash>" for --rubric FILE
  std::string text;
};

// The built-in rubric for a record whose "task" (as personagen writes it) or Persona Hub
// "description" ("math problem") is this: the synthesis task's own, math for solve, instruction
// for respond and converse, else "generic". `task` wins when it names a known task.
std::string_view rubric_for(std::string_view task, std::string_view description);

// The rubrics of one judge run: one given with --rubric for every record, or each record's own
// chosen by rubric_for from its "task" or "description" field.
class JudgeRubrics {
 public:
  JudgeRubrics() = default;

  // `rubric_flag` is --rubric: a built-in name, a file whose text is the rubric, or "" to choose
  // per record. Built-in rubrics come from the embedded prompts, or from `prompts_dir`.
  // Throws a usage Error naming --rubric and the file when it cannot be read or is empty, or
  // naming the prompt file that is missing.
  static JudgeRubrics load(const std::string& rubric_flag, const std::string& prompts_dir);

  // The rubric `record` is judged on.
  const Rubric& for_record(const InputRecord& record) const;

  // What the run's configuration records: "auto@<hash of every built-in rubric>",
  // "<name>@<hash>" or "file:<hash>", so a changed rubric is a new run.
  std::string config_value() const;

 private:
  std::vector<Rubric> builtin_;  // in kRubricNames order; empty when a --rubric is given
  std::optional<Rubric> fixed_;  // --rubric
};

}  // namespace personagen
