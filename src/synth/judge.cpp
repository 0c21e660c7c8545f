#include "synth/judge.h"

#include "personagen/error.h"
#include "synth/prompt_template.h"
#include "util/file_io.h"
#include "util/hash.h"
#include "util/text_util.h"

namespace personagen {

namespace {

// The training tasks' texts, judged as what they are: a solved problem is a math problem, a
// response or a conversation answers an instruction.
constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kTrainingRubrics = {{
    {"solve", "math"},
    {"respond", "instruction"},
    {"converse", "instruction"},
}};

bool is_builtin(std::string_view name) {
  for (std::string_view known : kRubricNames)
    if (known == name) return true;
  return false;
}

Rubric load_builtin(std::string_view name, const std::string& prompts_dir) {
  std::string relative = "judge/rubric-" + std::string(name) + ".txt";
  return {std::string(name), load_prompt_file(relative, prompts_dir)};
}

}  // namespace

std::string_view rubric_for(std::string_view task, std::string_view description) {
  for (std::string_view name : kRubricNames)
    if (name != "generic" && name == task) return name;
  for (const auto& [training, rubric] : kTrainingRubrics)
    if (training == task) return rubric;
  // Persona Hub's files name their task by its description.
  for (const TaskInfo& info : builtin_tasks())
    if (!description.empty() && info.description == description) return info.name;
  return "generic";
}

JudgeRubrics JudgeRubrics::load(const std::string& rubric_flag, const std::string& prompts_dir) {
  JudgeRubrics rubrics;
  if (rubric_flag.empty()) {
    for (std::string_view name : kRubricNames)
      rubrics.builtin_.push_back(load_builtin(name, prompts_dir));
  } else if (is_builtin(rubric_flag)) {
    rubrics.fixed_ = load_builtin(rubric_flag, prompts_dir);
  } else {
    std::string names;
    for (std::string_view name : kRubricNames) names.append(names.empty() ? "" : ", ").append(name);
    std::optional<std::string> text = read_text_file(rubric_flag);
    if (!text)
      throw usage_error("--rubric " + rubric_flag +
                        ": cannot read the file (built-in rubrics: " + names + ")");
    if (is_blank(*text)) throw usage_error("--rubric " + rubric_flag + ": the file is empty");
    rubrics.fixed_ = Rubric{"file:" + hex64(hash64(*text)), std::move(*text)};
  }
  return rubrics;
}

const Rubric& JudgeRubrics::for_record(const InputRecord& record) const {
  if (fixed_) return *fixed_;
  std::string_view task, description;
  for (const auto& [name, value] : record.fields) {
    if (name == "task") task = value;
    if (name == "description") description = value;
  }
  std::string_view name = rubric_for(task, description);
  for (const Rubric& rubric : builtin_)
    if (rubric.name == name) return rubric;
  return builtin_.back();  // "generic", last of kRubricNames
}

std::string JudgeRubrics::config_value() const {
  if (fixed_) {
    if (fixed_->name.starts_with("file:")) return fixed_->name;
    return fixed_->name + "@" + hex64(hash64(fixed_->text));
  }
  std::string all;
  for (const Rubric& rubric : builtin_) all += rubric.name + '\0' + rubric.text + '\0';
  return "auto@" + hex64(hash64(all));
}

}  // namespace personagen
