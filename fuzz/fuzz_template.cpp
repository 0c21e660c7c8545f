// Parses arbitrary text as a prompt template and renders it. The input is NUL-separated:
// template text, then persona, world, the value of field "topic", the persona and output of
// two demonstrations, and relation; missing parts are empty. Parse may throw personagen::Error
// only; render must never throw.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_check.h"
#include "personagen/error.h"
#include "synth/prompt_template.h"
#include "util/hash.h"

namespace personagen {

// prompt_template.cpp loads built-in prompts from a table that CMake generates; the fuzzer never
// loads them, so an empty table stands in for the generated file.
std::span<const std::pair<std::string_view, std::string_view>> embedded_prompt_files() {
  return {};
}

namespace fuzz {
namespace {

constexpr std::string_view kOrigin = "fuzz.txt";

std::vector<std::string_view> split_nul(std::string_view input, size_t parts) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < parts) {
    const size_t nul = input.find('\0');
    if (nul == std::string_view::npos) break;
    out.push_back(input.substr(0, nul));
    input.remove_prefix(nul + 1);
  }
  out.push_back(input);
  out.resize(parts);
  return out;
}

void check_parsed(const Template& t, std::string_view text) {
  FUZZ_CHECK(t.text() == text);
  FUZZ_CHECK(t.origin() == kOrigin);
  FUZZ_CHECK(t.hash() == hash64(text));
  const auto& names = t.placeholders();
  for (size_t i = 0; i < names.size(); ++i) {
    FUZZ_CHECK(!names[i].empty());
    FUZZ_CHECK(names[i].find('{') == std::string::npos);
    for (char end : {names[i].front(), names[i].back()}) FUZZ_CHECK(end != ' ' && end != '\t');
    FUZZ_CHECK(text.find(names[i]) != std::string_view::npos);
    for (size_t j = 0; j < i; ++j) FUZZ_CHECK(names[i] != names[j]);
  }
  if (t.has_examples_section()) FUZZ_CHECK(text.find("examples") != std::string_view::npos);
}

}  // namespace
}  // namespace fuzz
}  // namespace personagen

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace personagen;
  using namespace personagen::fuzz;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto parts = split_nul(input, 9);
  const std::string_view text = parts[0];

  std::optional<Template> parsed;
  try {
    parsed = Template::parse(std::string(text), std::string(kOrigin));
  } catch (const Error& error) {
    const std::string_view message = error.what();
    FUZZ_CHECK(message.starts_with(kOrigin));
    FUZZ_CHECK(message.find('\n') == std::string_view::npos);
    FUZZ_CHECK(text.find("{{") != std::string_view::npos);
    return 0;
  }
  const Template& t = *parsed;
  check_parsed(t, text);

  const std::vector<std::pair<std::string, std::string>> fields = {
      {"topic", std::string(parts[3])}};
  TemplateValues values;
  values.persona = parts[1];
  values.world = parts[2];
  values.relation = parts[8];
  values.fields = &fields;
  const Demonstration first{"d-1", std::string(parts[4]), std::string(parts[5])};
  const Demonstration second{"d-2", std::string(parts[6]), std::string(parts[7])};
  const Demonstration* const shots[] = {&first, &second};
  const bool has_braces = text.find("{{") != std::string_view::npos;

  std::string out = "left over from an earlier render";
  std::string previous;
  for (size_t count = 0; count <= 2; ++count) {
    t.render(values, std::span(shots, count), out);
    if (!has_braces) FUZZ_CHECK(out == text);
    // More demonstrations only ever add text.
    FUZZ_CHECK(out.size() >= previous.size());
    if (!t.has_examples_section()) FUZZ_CHECK(count == 0 || out == previous);
    previous = out;
  }

  // With every value empty the output is the literal text, which "{{{{" escapes only shorten.
  const TemplateValues empty{};
  t.render(empty, {}, out);
  FUZZ_CHECK(out.size() <= text.size());
  if (!has_braces) FUZZ_CHECK(out == text);

  // A name used outside the section shows its value.
  t.render(values, {}, out);
  for (const std::string& name : t.placeholders()) {
    std::string_view value = name == "persona"    ? parts[1]
                             : name == "world"    ? parts[2]
                             : name == "topic"    ? parts[3]
                             : name == "relation" ? parts[8]
                                                  : std::string_view();
    FUZZ_CHECK(out.find(value) != std::string::npos);
  }

  // A copy renders the same.
  const Template copy = t;
  std::string again;
  copy.render(values, std::span(shots, 2), again);
  t.render(values, std::span(shots, 2), out);
  FUZZ_CHECK(again == out);
  return 0;
}
