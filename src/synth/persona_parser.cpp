#include "synth/persona_parser.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "util/text_util.h"

namespace personagen {

namespace {

// The persona-to-persona prompts ask for 3 to 5 personas; twice the most asked for leaves room
// for a model that writes a few more, while a longer list is a reply gone wrong, and each persona
// would become an input line of the next hop.
constexpr size_t kMaxPersonas = 10;

bool blank(char c) {
  return static_cast<unsigned char>(c) <= 0x20;  // spaces and control characters
}

// The bytes blank() is true for, as a set for trim().
constexpr std::string_view kBlanks(
    "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
    "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ",
    0x21);

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

// Removes what models put around a persona: "Persona:" labels, quotes, ** emphasis.
std::string_view strip_wrapping(std::string_view s) {
  for (bool changed = true; changed;) {
    changed = false;
    s = trim(s, kBlanks);
    for (std::string_view label : {"persona description:", "persona:"}) {
      if (starts_with_nocase(s, label)) {
        s.remove_prefix(label.size());
        changed = true;
      }
    }
    for (std::string_view mark : {"**", "\"", "'", "\xe2\x80\x9c"}) {
      std::string_view close = mark == "\xe2\x80\x9c" ? "\xe2\x80\x9d" : mark;
      if (s.size() >= mark.size() + close.size() && s.starts_with(mark) && s.ends_with(close)) {
        s = s.substr(mark.size(), s.size() - mark.size() - close.size());
        changed = true;
      }
    }
  }
  return s;
}

bool is_refusal(std::string_view s) {
  for (std::string_view start :
       {"i'm sorry", "i am sorry", "sorry,", "i cannot", "i can't", "i can\xe2\x80\x99t",
        "i apologize", "i'm unable", "i am unable", "as an ai", "i won't", "i will not"})
    if (starts_with_nocase(s, start)) return true;
  return false;
}

// A list marker at the start of a line: "-", "*", "•", "1.", "2)".
bool is_list_item(std::string_view line) {
  line = trim(line, kBlanks);
  if (line.starts_with("- ") || line.starts_with("* ") || line.starts_with("\xe2\x80\xa2"))
    return true;
  size_t digits = 0;
  while (digits < line.size() && std::isdigit(static_cast<unsigned char>(line[digits]))) ++digits;
  return digits > 0 && digits < line.size() && (line[digits] == '.' || line[digits] == ')');
}

size_t count_words(std::string_view s) {
  size_t words = 0;
  bool in_word = false;
  for (char c : s) {
    bool space = blank(c);
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

// The one check behind both parsers; on success `out` is the cleaned persona.
std::string check_persona(std::string_view content, bool allow_list_marker, std::string& out) {
  std::string_view s = strip_wrapping(content);
  if (s.empty()) return "empty output";
  if (is_refusal(s)) return "a refusal, not a persona";
  if (!allow_list_marker) {
    if (s.front() == '[') return "a list where one persona was asked for";
    size_t items = 0;
    for (size_t start = 0; start < s.size();) {
      size_t end = s.find('\n', start);
      if (end == std::string_view::npos) end = s.size();
      items += is_list_item(s.substr(start, end - start));
      start = end + 1;
    }
    if (items >= 2) return "a list where one persona was asked for";
  }
  size_t words = count_words(s);
  if (words > kMaxPersonaWords)
    return "too long for a persona (" + std::to_string(words) + " words; at most " +
           std::to_string(kMaxPersonaWords) + ")";
  // One line: a persona is a field value, and newlines inside it help nobody downstream.
  out.clear();
  bool space = false;
  for (char c : s) {
    if (blank(c)) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return {};
}

// The body of a ``` fence if the reply has one, else the reply.
std::string_view unfence(std::string_view s) {
  size_t open = s.find("```");
  if (open == std::string_view::npos) return s;
  size_t body = s.find('\n', open);
  size_t close = body == std::string_view::npos ? body : s.find("```", body);
  if (close == std::string_view::npos) return s;
  return s.substr(body + 1, close - body - 1);
}

}  // namespace

ParsedOutput parse_persona(std::string_view content) {
  std::string persona;
  std::string problem = check_persona(content, false, persona);
  if (!problem.empty()) return ParsedOutput::failure(problem);
  ParsedOutput out{true, nlohmann::json(persona).dump(), {}, {}};
  out.personas.push_back(std::move(persona));
  return out;
}

ParsedOutput parse_persona_list(std::string_view content) {
  std::string_view body = trim(unfence(content), kBlanks);
  if (body.empty()) return ParsedOutput::failure("empty output");
  if (is_refusal(strip_wrapping(body))) return ParsedOutput::failure("a refusal, not a persona");
  auto json = nlohmann::json::parse(body, nullptr, false);
  // {"personas": [...]} is the array in the shape of the task's schema (schemas.h), since
  // OpenAI's structured outputs want an object at a schema's root.
  if (json.is_object() && json.size() == 1 && json.contains("personas"))
    json = std::move(json["personas"]);
  if (json.is_discarded() || !json.is_array())
    return ParsedOutput::failure("expected a JSON array of persona strings");
  std::vector<std::string> personas;
  for (const auto& item : json) {
    if (!item.is_string()) return ParsedOutput::failure("expected a JSON array of persona strings");
    std::string persona;
    std::string problem = check_persona(item.get<std::string>(), true, persona);
    if (!problem.empty())
      return ParsedOutput::failure("item " + std::to_string(personas.size() + 1) + ": " + problem);
    if (std::find(personas.begin(), personas.end(), persona) == personas.end())
      personas.push_back(std::move(persona));
  }
  if (personas.empty()) return ParsedOutput::failure("an empty list of personas");
  if (personas.size() > kMaxPersonas)
    return ParsedOutput::failure("too many personas (" + std::to_string(personas.size()) +
                                 "; at most " + std::to_string(kMaxPersonas) + ")");
  std::string parsed = nlohmann::json(personas).dump();
  return {true, std::move(parsed), std::move(personas), {}};
}

}  // namespace personagen
