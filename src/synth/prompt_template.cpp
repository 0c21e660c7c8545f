#include "synth/prompt_template.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "personagen/error.h"
#include "util/file_io.h"
#include "util/hash.h"
#include "util/text_util.h"
#include "util/utf8.h"

namespace personagen {

namespace {

constexpr std::string_view kSection = "examples";

// A placeholder name as it may appear in a one-line error message: a name can span lines, so
// control characters show as '?', and a long one is cut (never inside a UTF-8 sequence).
std::string printable(std::string_view name) {
  constexpr size_t kMaxBytes = 60;
  const size_t end = utf8_prefix(name, kMaxBytes).size();
  std::string out(name.substr(0, end));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
  }
  if (end < name.size()) out += "...";
  return out;
}

std::optional<std::string> embedded_file(std::string_view relative) {
  for (const auto& [name, content] : embedded_prompt_files())
    if (name == relative) return std::string(content);
  return std::nullopt;
}

// Where prompt files come from: the embedded copy, or a directory given with --prompts.
struct PromptSource {
  std::string dir;  // empty: embedded

  std::string origin(const std::string& relative) const {
    return dir.empty() ? "embedded:prompts/" + relative : dir + "/" + relative;
  }
  std::optional<std::string> read(const std::string& relative) const {
    return dir.empty() ? embedded_file(relative) : read_text_file(dir + "/" + relative);
  }
  std::string require(const std::string& relative) const {
    auto text = read(relative);
    if (!text) throw usage_error(origin(relative) + ": cannot read the file");
    return *text;
  }
};

std::vector<Demonstration> parse_demos(const std::string& text, const std::string& origin) {
  std::vector<Demonstration> demos;
  std::istringstream in(text);
  std::string line;
  for (size_t line_no = 1; std::getline(in, line); ++line_no) {
    if (trim(line, kSpaceTab).empty()) continue;
    auto where = origin + ":" + std::to_string(line_no) + ": ";
    auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_discarded() || !json.is_object())
      throw usage_error(where + "expected a JSON object {\"id\", \"persona\", \"output\"}");
    Demonstration demo;
    for (auto [key, target] : {std::pair{"id", &demo.id}, std::pair{"persona", &demo.persona},
                               std::pair{"output", &demo.output}}) {
      auto it = json.find(key);
      if (it == json.end() || !it->is_string())
        throw usage_error(where + "expected a string field \"" + key + "\"");
      *target = it->get<std::string>();
    }
    demos.push_back(std::move(demo));
  }
  return demos;
}

// Built-in templates may only use {{persona}}, {{world}} and {{relation}} (text-to-persona);
// judge's {{persona}}, {{text}} and {{rubric}}; custom ones may use input fields.
void check_builtin_names(const Template& t, std::string_view task) {
  const bool judge = task == "judge";
  for (const auto& name : t.placeholders()) {
    bool known = judge ? name == "persona" || name == "text" || name == "rubric"
                       : name == "persona" || name == "world" || name == "relation";
    if (!known)
      throw usage_error(t.origin() + ": unknown placeholder {{" + printable(name) + "}} " +
                        (judge ? "(expected {{persona}}, {{text}} or {{rubric}})"
                               : "(expected {{persona}}, {{world}} or {{relation}})"));
  }
}

}  // namespace

std::string_view to_string(Method method) {
  switch (method) {
    case Method::zero_shot:
      return "zero-shot";
    case Method::few_shot:
      return "few-shot";
    case Method::persona_few_shot:
      return "persona-few-shot";
  }
  return "?";
}

std::optional<Method> parse_method(std::string_view name) {
  for (Method m : {Method::zero_shot, Method::few_shot, Method::persona_few_shot})
    if (to_string(m) == name) return m;
  return std::nullopt;
}

Template Template::parse(std::string text, std::string origin) {
  Template t;
  t.text_ = std::move(text);
  t.origin_ = std::move(origin);
  t.hash_ = hash64(t.text_);
  const std::string& s = t.text_;
  auto fail = [&](size_t offset, const std::string& what) {
    throw usage_error(t.origin_ + ": offset " + std::to_string(offset) + ": " + what);
  };
  auto add_literal = [&](std::string_view lit) {
    if (lit.empty()) return;
    if (!t.pieces_.empty() && t.pieces_.back().kind == Piece::literal)
      t.pieces_.back().value += lit;
    else
      t.pieces_.push_back({Piece::literal, std::string(lit)});
  };
  bool in_section = false;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t open = s.find("{{", pos);
    if (open == std::string::npos) {
      add_literal(std::string_view(s).substr(pos));
      break;
    }
    add_literal(std::string_view(s).substr(pos, open - pos));
    if (s.compare(open, 4, "{{{{") == 0) {
      add_literal("{{");
      pos = open + 4;
      continue;
    }
    size_t close = s.find("}}", open + 2);
    if (close == std::string::npos) fail(open, "\"{{\" is never closed by \"}}\"");
    std::string_view name = trim(std::string_view(s).substr(open + 2, close - open - 2), kSpaceTab);
    if (name.empty()) fail(open, "empty placeholder name");
    if (name.find('{') != std::string_view::npos) fail(open, "\"{\" inside a placeholder");
    if (name.front() == '#' || name.front() == '/') {
      bool begin = name.front() == '#';
      if (trim(name.substr(1), kSpaceTab) != kSection)
        fail(open, "unknown section \"" + printable(name) + "\" (only #examples exists)");
      if (begin && (in_section || t.has_section_))
        fail(open, "only one {{#examples}} section is allowed");
      if (!begin && !in_section) fail(open, "{{/examples}} without {{#examples}}");
      in_section = begin;
      t.has_section_ = true;
      t.pieces_.push_back({begin ? Piece::section_begin : Piece::section_end, ""});
    } else {
      t.pieces_.push_back({Piece::name, std::string(name)});
      if (!in_section &&
          std::find(t.placeholders_.begin(), t.placeholders_.end(), name) == t.placeholders_.end())
        t.placeholders_.emplace_back(name);
    }
    pos = close + 2;
  }
  if (in_section) fail(s.size(), "{{#examples}} is never closed by {{/examples}}");
  return t;
}

void Template::render(const TemplateValues& values, std::span<const Demonstration* const> shots,
                      std::string& out) const {
  out.clear();
  auto value_of = [&](const std::string& name) -> std::string_view {
    if (name == "persona") return values.persona;
    if (name == "world") return values.world;
    if (name == "relation") return values.relation;
    if (values.fields)
      for (const auto& [key, value] : *values.fields)
        if (key == name) return value;
    return {};
  };
  for (size_t i = 0; i < pieces_.size(); ++i) {
    const Piece& piece = pieces_[i];
    if (piece.kind == Piece::literal) {
      out += piece.value;
    } else if (piece.kind == Piece::name) {
      out += value_of(piece.value);
    } else if (piece.kind == Piece::section_begin) {
      size_t end = i + 1;
      while (pieces_[end].kind != Piece::section_end) ++end;
      for (size_t shot = 0; shot < shots.size(); ++shot) {
        const Demonstration& demo = *shots[shot];
        for (size_t j = i + 1; j < end; ++j) {
          const Piece& inner = pieces_[j];
          if (inner.kind == Piece::literal)
            out += inner.value;
          else if (inner.value == "index")
            out += std::to_string(shot + 1);
          else if (inner.value == "persona")
            out += demo.persona;
          else if (inner.value == "output")
            out += demo.output;
          else
            out += value_of(inner.value);
        }
      }
      i = end;
    }
  }
}

const Template& TaskPrompts::for_method(Method method) const {
  switch (method) {
    case Method::few_shot:
      return few_shot;
    case Method::persona_few_shot:
      return persona_few_shot;
    case Method::zero_shot:
      break;
  }
  return zero_shot;
}

TaskPrompts load_task_prompts(std::string_view task, const std::string& prompts_dir,
                              const std::string& world_file, bool zero_shot_only) {
  PromptSource source{prompts_dir};
  std::string base = std::string(task) + "/";
  TaskPrompts prompts;
  prompts.task = task;
  prompts.source = prompts_dir.empty() ? "embedded" : prompts_dir;
  auto load = [&](const char* method) {
    auto relative = base + method + ".txt";
    Template t = Template::parse(source.require(relative), source.origin(relative));
    check_builtin_names(t, task);
    return t;
  };
  prompts.zero_shot = load("zero-shot");
  if (task == "converse") {
    auto relative = base + "user-turn.txt";
    prompts.user_turn = Template::parse(source.require(relative), source.origin(relative));
    for (const auto& name : prompts.user_turn.placeholders())
      if (name != "persona" && name != "conversation")
        throw usage_error(prompts.user_turn.origin() + ": unknown placeholder {{" +
                          printable(name) + "}} (expected {{persona}} or {{conversation}})");
  }
  if (zero_shot_only) {
    // The input text is the prompt: there is nothing to demonstrate.
    prompts.few_shot = prompts.persona_few_shot = prompts.zero_shot;
    return prompts;
  }
  prompts.few_shot = load("few-shot");
  prompts.persona_few_shot = load("persona-few-shot");
  for (const Template* t : {&prompts.few_shot, &prompts.persona_few_shot})
    if (!t->has_examples_section())
      throw usage_error(t->origin() + ": a few-shot template needs an {{#examples}} section");
  prompts.demos =
      parse_demos(source.require(base + "examples.jsonl"), source.origin(base + "examples.jsonl"));
  if (prompts.demos.empty())
    throw usage_error(source.origin(base + "examples.jsonl") + ": no demonstrations");

  bool wants_world = false;
  for (const Template* t : {&prompts.zero_shot, &prompts.few_shot, &prompts.persona_few_shot})
    for (const auto& name : t->placeholders()) wants_world |= name == "world";
  if (wants_world) {
    if (!world_file.empty()) {
      auto text = read_text_file(world_file);
      if (!text) throw usage_error(world_file + ": cannot read the world file");
      prompts.world = *text;
    } else {
      prompts.world = source.require(base + "world.txt");
    }
  }
  return prompts;
}

TaskPrompts load_custom_prompts(const std::string& template_file, const std::string& world_file) {
  auto text = read_text_file(template_file);
  if (!text) throw usage_error(template_file + ": cannot read the template file");
  TaskPrompts prompts;
  auto slash = template_file.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : template_file.substr(0, slash);
  std::string name = slash == std::string::npos ? template_file : template_file.substr(slash + 1);
  if (auto dot = name.find('.'); dot != std::string::npos && dot > 0) name.resize(dot);
  prompts.task = name;
  prompts.source = template_file;
  prompts.zero_shot = Template::parse(std::move(*text), template_file);
  prompts.few_shot = prompts.zero_shot;
  prompts.persona_few_shot = prompts.zero_shot;
  if (auto demos = read_text_file(dir + "/examples.jsonl"))
    prompts.demos = parse_demos(*demos, dir + "/examples.jsonl");
  if (!world_file.empty()) {
    auto world = read_text_file(world_file);
    if (!world) throw usage_error(world_file + ": cannot read the world file");
    prompts.world = *world;
  }
  return prompts;
}

std::string load_prompt_file(const std::string& relative, const std::string& prompts_dir) {
  return PromptSource{prompts_dir}.require(relative);
}

std::vector<size_t> sample_shots(size_t pool, size_t k, uint64_t seed, std::string_view persona) {
  // A partial Fisher-Yates shuffle driven by splitmix64 seeded from (seed, persona): the same
  // persona draws the same demonstrations on every run and machine.
  uint64_t state = hash64(persona, seed);
  std::vector<size_t> order(pool);
  for (size_t i = 0; i < pool; ++i) order[i] = i;
  k = std::min(k, pool);
  for (size_t i = 0; i < k; ++i) std::swap(order[i], order[i + splitmix64(state) % (pool - i)]);
  order.resize(k);
  return order;
}

}  // namespace personagen
