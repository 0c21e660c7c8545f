#include "task_replies.h"

#include <array>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "stable_hash.h"
#include "util/text_util.h"
#include "util/utf8.h"

namespace personagen::testing::detail {
namespace {

using Json = nlohmann::ordered_json;

enum class Task {
  text_to_persona,
  persona_to_persona,
  math,
  reasoning,
  instruction,
  knowledge,
  npc,
  tool
};

// The wording each template keeps, tried in this order: the two persona tasks first, as their
// old, looser phrases are what tests with templates of their own rely on.
struct Wording {
  Task task;
  std::string_view phrase;
  std::string_view schema;  // the name of the task's json_schema; "" for a text task
};
constexpr std::array<Wording, 8> kWordings = {{
    {Task::text_to_persona, "Who is likely to", ""},
    {Task::persona_to_persona, "close relationship", "persona-to-persona"},
    {Task::math, "math problem related to the following persona", ""},
    {Task::reasoning, "logical reasoning problem related to the following persona", ""},
    {Task::instruction, "Guess a prompt (i.e., instructions)", ""},
    {Task::knowledge, "Write a Quora article", ""},
    {Task::npc, "Create a non-player character (NPC)", "npc"},
    {Task::tool, "Design one tool (a function", "tool"},
}};

// The longest part of a persona that a reply quotes: replies stay within the schemas' bounds.
constexpr size_t kMaxPersonaBytes = 200;
constexpr size_t kMaxCoreBytes = 60;

// What a reply knows of its request: the persona (or the text) and numbers from the hash.
struct Subject {
  std::string persona;  // "a retired marine biologist in Lisbon ...": fits after "For" or "I'm"
  std::string core;     // "retired marine biologist": the persona's role, for "this <core>"
  std::string tag;      // 8 hex digits of the prompt's hash
  uint64_t hash = 0;

  // A number in [low, high] drawn by the hash and `salt`.
  uint64_t pick(uint64_t low, uint64_t high, uint64_t salt) const {
    return low + splitmix64(hash ^ salt) % (high - low + 1);
  }
  template <size_t N>
  std::string_view choose(const std::array<std::string_view, N>& options, uint64_t salt) const {
    return options[pick(0, N - 1, salt)];
  }
};

// The persona of a task prompt: the first line with text after the line that introduces it
// ("... the following persona:", "... described as follows."), else the text after the last
// "Persona: " label (npc, persona-to-persona), to the end of its line; "" without either.
std::string_view persona_in(std::string_view prompt) {
  constexpr std::string_view kLabel = "Persona: ";
  for (std::string_view anchor :
       {"the following persona:", "described as follows.", "may ask you to do:"}) {
    size_t at = prompt.rfind(anchor);
    if (at == std::string_view::npos) continue;
    for (size_t line = prompt.find('\n', at); line != std::string_view::npos;
         line = prompt.find('\n', line + 1)) {
      std::string_view rest = prompt.substr(line + 1);
      std::string_view text = trim(rest.substr(0, rest.find('\n')), " \t\r\n.");
      if (text.starts_with(kLabel)) text.remove_prefix(kLabel.size());
      if (!text.empty()) return text;
    }
  }
  size_t at = prompt.rfind(kLabel);
  if (at == std::string_view::npos) return {};
  std::string_view rest = prompt.substr(at + kLabel.size());
  return trim(rest.substr(0, rest.find('\n')), " \t\r\n.");
}

Subject subject_of(std::string_view prompt) {
  Subject s;
  s.hash = fnv1a(prompt);
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", static_cast<unsigned>(s.hash & 0xffffffffU));
  s.tag = hex;
  std::string_view persona = utf8_prefix(persona_in(prompt), kMaxPersonaBytes);
  if (persona.empty()) persona = "A person";
  s.persona = std::string(persona);
  if (s.persona.starts_with("A ") || s.persona.starts_with("An ")) s.persona[0] = 'a';
  std::string_view core = persona;
  for (std::string_view article : {"A ", "An ", "a ", "an "})
    if (core.starts_with(article)) core.remove_prefix(article.size());
  for (std::string_view stop :
       {" who ", " in ", " at ", ",", " from ", " with ", " on ", ".", " ("})
    core = core.substr(0, core.find(stop));
  core = utf8_prefix(core, kMaxCoreBytes);
  s.core = core.empty() ? "person" : std::string(core);
  return s;
}

// "a" or "an" before `word`, by its first letter.
std::string a_or_an(const std::string& word) {
  return !word.empty() && std::string_view("aeiouAEIOU").find(word[0]) != std::string_view::npos
             ? "an "
             : "a ";
}

std::string capitalised(std::string text) {
  if (!text.empty() && text[0] >= 'a' && text[0] <= 'z') text[0] = static_cast<char>(text[0] - 32);
  return text;
}

std::string math_problem(const Subject& s) {
  std::string opening = "Math problem: For " + s.persona + ", ";
  switch (s.pick(0, 2, 1)) {
    case 0:
      return opening + "a quantity in the log (entry " + s.tag + ") starts at " +
             std::to_string(s.pick(50, 400, 2)) + " units and grows by " +
             std::to_string(s.pick(3, 12, 3)) +
             "% a month.\n1. After how many whole months does it first exceed " +
             std::to_string(s.pick(800, 3000, 4)) +
             " units?\n2. Find a closed form for the total over the first n months and evaluate "
             "it for n = 12.";
    case 1:
      return opening + "a rectangular plot of " + std::to_string(s.pick(20, 90, 2)) + " m by " +
             std::to_string(s.pick(30, 120, 3)) +
             " m is split by a fence along its diagonal (plan " + s.tag +
             ").\n1. How long is the fence, to the nearest centimetre?\n2. A path " +
             std::to_string(s.pick(1, 4, 4)) +
             " m wide runs inside the plot along its edge: what area is left inside the path?";
    default:
      return opening + std::to_string(s.pick(3, 9, 2)) + " of the " +
             std::to_string(s.pick(20, 60, 3)) + " items in a delivery are faulty (batch " + s.tag +
             ").\n1. If " + std::to_string(s.pick(3, 8, 4)) +
             " items are drawn at random without replacement, what is the probability that at "
             "least one is faulty?\n2. How many items must be drawn for that probability to exceed "
             "0.9?";
  }
}

// One ordering puzzle whose clues leave exactly one answer: C Monday, A Tuesday, B Wednesday,
// D Thursday.
std::string reasoning_problem(const Subject& s) {
  return "Logical reasoning problem: " + capitalised(s.persona) +
         " has four jobs, A, B, C and D, to do on four days, Monday to Thursday, one a day (rota " +
         s.tag +
         "). B is not done on Monday. C is done on an earlier day than A. D is done on the day "
         "after B. A is not done on Thursday.\nOn which day is each job done?";
}

std::string user_prompt(const Subject& s) {
  static constexpr std::array<std::string_view, 3> kGoals = {
      "next month's work", "a small side project I keep putting off",
      "a short talk I have to give to newcomers"};
  return "I'm " + s.persona + ". Could you help me put together a one-page plan for " +
         std::string(s.choose(kGoals, 5)) +
         "? Keep it under 300 words, list the three steps I should take first, and flag anything "
         "someone in my position tends to overlook (ref " +
         s.tag + ").";
}

std::string article(const Subject& s) {
  return "What do people get wrong about the work of " + a_or_an(s.core) + s.core + "?\n\nAs " +
         s.persona + ", I am asked this more often than you would think (note " + s.tag +
         "). Most of the job is patient routine: checking the same things every day, writing "
         "down what changed and noticing early when something is off.\n\nThe second thing people "
         "miss is how much of it is about other people. The hard problems are rarely technical; "
         "they are about trust, timing and explaining clearly why something matters.";
}

Json npc(const Subject& s) {
  static constexpr std::array<std::string_view, 8> kFirst = {"Maren", "Tobin", "Ilse",  "Corvin",
                                                             "Asha",  "Jory",  "Wenna", "Odell"};
  static constexpr std::array<std::string_view, 6> kLast = {"Saltmarsh", "Pilewright", "Dunmore",
                                                            "Keel",      "Ashgrove",   "Tidewell"};
  std::string name = std::string(s.choose(kFirst, 6)) + " " + std::string(s.choose(kLast, 7));
  return {{"name", name},
          {"role", capitalised(s.core) + ", now a guide for travellers"},
          {"backstory", "Once " + s.persona + ", " + name +
                            " crossed into this world and kept the habits of a lifetime (echo " +
                            s.tag + "). Now " + name +
                            " trades what they know for passage and a place to sleep."},
          {"personality", "Patient and exact, with a dry humour that shows when plans go wrong."},
          {"dialogue",
           {"You look like someone who needs directions.",
            "I have seen this before, and it ended badly the last time."}}};
}

Json tool(const Subject& s) {
  static constexpr std::array<std::string_view, 5> kVerbs = {"plan", "log", "estimate", "find",
                                                             "track"};
  static constexpr std::array<std::string_view, 5> kNouns = {"schedule", "supplies", "costs",
                                                             "readings", "contacts"};
  std::string verb(s.choose(kVerbs, 8));
  std::string noun(s.choose(kNouns, 9));
  Json parameters = {
      {"type", "object"},
      {"properties",
       {{"query", {{"type", "string"}, {"description", "What to " + verb + ", in plain words"}}},
        {"date", {{"type", "string"}, {"description", "The day it concerns, as YYYY-MM-DD"}}},
        {"limit", {{"type", "integer"}, {"description", "At most this many results"}}}}},
      {"required", {"query"}}};
  return {{"type", "function"},
          {"function",
           {{"name", verb + "_" + noun + "_" + s.tag},
            {"description", "Helps " + a_or_an(s.core) + s.core + " " + verb + " their " + noun +
                                "; call it when they ask about their " + noun + "."},
            {"parameters", std::move(parameters)}}}};
}

Json persona_list(const Subject& s) {
  return Json::array(
      {"A colleague who works beside this " + s.core + " every week (echo " + s.tag + ").",
       "A younger sibling of this " + s.core +
           ", who often asks them for advice "
           "(echo " +
           s.tag + ").",
       "A neighbour of this " + s.core +
           ", who shares tools and news with them "
           "(echo " +
           s.tag + ")."});
}

// A reader of the text after the prompt's last "Text:", named by its first words.
std::string reader_persona(std::string_view prompt, const Subject& s) {
  size_t at = prompt.rfind("Text:");
  std::string_view text = at == std::string_view::npos ? prompt : prompt.substr(at + 5);
  std::string words;
  size_t count = 0;
  for (size_t i = 0; i < text.size() && count < 6;) {
    while (i < text.size() && !std::isalnum(static_cast<unsigned char>(text[i]))) ++i;
    size_t start = i;
    while (i < text.size() && std::isalnum(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) {
      words += (count++ ? " " : "") + std::string(text.substr(start, i - start));
    }
  }
  return "A curious reader (echo " + s.tag +
         ") who came across a text that begins with the words " +
         (words.empty() ? "nothing at all" : words) + " and wants to know more about its subject.";
}

}  // namespace

std::optional<std::string> task_reply(const ChatRequest& request) {
  const Wording* found = nullptr;
  for (const Wording& wording : kWordings) {
    if (request.prompt.find(wording.phrase) != std::string::npos) {
      found = &wording;
      break;
    }
  }
  if (found == nullptr) return std::nullopt;
  // Under a schema of another name, the schema's instance answers.
  if (!request.schema_name.empty() && request.schema_name != found->schema) return std::nullopt;
  const Subject s = subject_of(request.prompt);
  switch (found->task) {
    case Task::text_to_persona:
      return reader_persona(request.prompt, s);
    case Task::persona_to_persona:
      if (!request.schema_name.empty()) return Json{{"personas", persona_list(s)}}.dump();
      return persona_list(s).dump();
    case Task::math:
      return math_problem(s);
    case Task::reasoning:
      return reasoning_problem(s);
    case Task::instruction:
      return user_prompt(s);
    case Task::knowledge:
      return article(s);
    case Task::npc:
      return npc(s).dump();
    case Task::tool:
      return tool(s).dump();
  }
  return std::nullopt;
}

}  // namespace personagen::testing::detail
