#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace personagen {

// The paper's three prompting methods.
enum class Method { zero_shot, few_shot, persona_few_shot };

std::string_view to_string(Method method);  // "zero-shot", "few-shot", "persona-few-shot"
std::optional<Method> parse_method(std::string_view);  // inverse of to_string

// One demonstration from a task's pool: an output, and the persona that produced it.
struct Demonstration {
  std::string id;  // stable id, part of the request key ("math-03")
  std::string persona;
  std::string output;
};

// The values a template can refer to. `persona`, `world` and `relation` are built in; anything else
// is looked up in `fields` (the input record's extra fields, for custom templates).
struct TemplateValues {
  std::string_view persona;
  std::string_view world;
  std::string_view relation;  // text-to-persona: read, write, like or dislike
  const std::vector<std::pair<std::string, std::string>>* fields = nullptr;
};

// A prompt template: literal text with {{name}} placeholders and at most one
// {{#examples}}...{{/examples}} section, repeated once per sampled demonstration. Inside the
// section, {{index}} (1-based), {{persona}} and {{output}} refer to the demonstration.
// "{{{{" is a literal "{{".
class Template {
 public:
  // Parses `text`. Throws Error naming `origin` and the byte offset on a syntax error
  // (unclosed "{{", a nested or unclosed section, an empty name).
  static Template parse(std::string text, std::string origin);

  // Names used outside the examples section, in order of first use, without duplicates.
  const std::vector<std::string>& placeholders() const { return placeholders_; }
  bool has_examples_section() const { return has_section_; }

  // Renders into `out` (cleared first). A name with no value renders as the empty string;
  // callers check placeholders() against what they can provide before rendering.
  void render(const TemplateValues& values, std::span<const Demonstration* const> shots,
              std::string& out) const;

  const std::string& text() const { return text_; }
  const std::string& origin() const { return origin_; }
  uint64_t hash() const { return hash_; }  // hash of text(), stable across builds and machines

 private:
  struct Piece {
    enum Kind { literal, name, section_begin, section_end } kind;
    std::string value;
  };
  std::string text_;
  std::string origin_;
  uint64_t hash_ = 0;
  std::vector<Piece> pieces_;
  std::vector<std::string> placeholders_;
  bool has_section_ = false;
};

// Everything a task needs to build prompts: one template per method, the demonstration pool and,
// for npc, the game world.
struct TaskPrompts {
  std::string task;
  Template zero_shot;
  Template few_shot;
  Template persona_few_shot;
  std::vector<Demonstration> demos;
  std::string world;  // empty unless the task's templates use {{world}}
  // converse: the prompt that has the persona write the next user message, given
  // {{conversation}} so far (user-turn.txt).
  Template user_turn;
  std::string source;  // "embedded" or the directory the files came from

  const Template& for_method(Method method) const;
};

// Loads prompts/<task>/{zero-shot,few-shot,persona-few-shot}.txt, examples.jsonl and, if present,
// world.txt (converse: zero-shot.txt and user-turn.txt only; respond and judge: zero-shot.txt
// only, judge's with {{persona}}, {{text}} and {{rubric}}; its rubrics are judge.h's):
// from the copy embedded at build time when `prompts_dir` is empty, else from
// `prompts_dir`. `world_file`, if set, replaces world.txt. Throws Error naming the file (and the
// line, for examples.jsonl) when something is missing or malformed.
// `zero_shot_only` (TaskInfo::zero_shot_only): the few-shot templates are copies of zero-shot.
TaskPrompts load_task_prompts(std::string_view task, const std::string& prompts_dir,
                              const std::string& world_file, bool zero_shot_only = false);

// A custom task from --template FILE: the one template serves every method; demonstrations come
// from an examples.jsonl beside it, if there is one.
TaskPrompts load_custom_prompts(const std::string& template_file, const std::string& world_file);

// The text of the prompt file `relative` ("judge/rubric-math.txt"): from the embedded copy when
// `prompts_dir` is empty, else from that directory. Throws a usage Error naming the file when it
// cannot be read.
std::string load_prompt_file(const std::string& relative, const std::string& prompts_dir);

// Chooses k distinct indices out of [0, pool), deterministically from seed and persona, so the
// same persona gets the same demonstrations on every run and machine. Returns min(k, pool) indices.
std::vector<size_t> sample_shots(size_t pool, size_t k, uint64_t seed, std::string_view persona);

// The templates compiled into the binary: (relative path, content) pairs such as
// ("math/zero-shot.txt", "..."). Defined in a file that CMake generates from prompts/.
std::span<const std::pair<std::string_view, std::string_view>> embedded_prompt_files();

}  // namespace personagen
