// Feeds arbitrary bytes, as a server reply body or a model's output, to everything that reads
// them: parse_completion, error_message, parse_output for the OutputKind of every task (the
// judge's scores among them), and the answer extraction and normalization of solve. None of them
// may throw; what they return must keep the promises of openai_client.h, tasks.h and answer.h.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "net/openai_client.h"
#include "synth/answer.h"
#include "synth/tasks.h"

namespace personagen::fuzz {
namespace {

void check_completion(std::string_view body) {
  std::string error;
  const std::optional<Completion> completion = parse_completion(body, error);
  if (completion) {
    FUZZ_CHECK(nlohmann::json::accept(body));
    FUZZ_CHECK(is_valid_utf8(completion->content));
    FUZZ_CHECK(is_valid_utf8(completion->reasoning));
  } else {
    FUZZ_CHECK(!error.empty());
    FUZZ_CHECK(is_one_line(error));
  }
}

void check_error_message(std::string_view body) {
  const std::string message = error_message(body);
  FUZZ_CHECK(!message.empty());
  FUZZ_CHECK(message.size() <= 300);
  FUZZ_CHECK(is_one_line(message));
}

// extract_answer returns a trimmed, non-empty piece of the solution; normalize_answer keeps UTF-8
// valid and leaves no blank or `$` in the key.
void check_answer(std::string_view solution) {
  const bool valid = is_valid_utf8(solution);
  if (const std::optional<std::string> answer = extract_answer(solution)) {
    FUZZ_CHECK(!answer->empty());
    FUZZ_CHECK(solution.find(*answer) != std::string_view::npos);
    FUZZ_CHECK(answer->find_first_of(" \t\r\n\f\v") != 0);
    FUZZ_CHECK(answer->find_last_of(" \t\r\n\f\v") != answer->size() - 1);
    FUZZ_CHECK(!valid || is_valid_utf8(*answer));
  }
  const std::string key = normalize_answer(solution);
  FUZZ_CHECK(key.find_first_of(" \t\r\n\f\v$") == std::string::npos);
  FUZZ_CHECK(!valid || is_valid_utf8(key));
}

bool is_blank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos;
}

void check_output(OutputKind kind, std::string_view content) {
  const ParsedOutput output = parse_output(kind, content);
  if (!output.ok) {
    FUZZ_CHECK(!output.reason.empty());
    FUZZ_CHECK(is_one_line(output.reason));
    FUZZ_CHECK(output.parsed.empty());
    FUZZ_CHECK(output.personas.empty());
    return;
  }
  FUZZ_CHECK(output.reason.empty());
  for (const std::string& persona : output.personas) {
    FUZZ_CHECK(!is_blank(persona));
    FUZZ_CHECK(is_valid_utf8(persona));
  }
  if (kind == OutputKind::text) {
    FUZZ_CHECK(output.parsed.empty());
    FUZZ_CHECK(output.personas.empty());
    return;
  }
  if (kind == OutputKind::solution) {
    // The final answer as written: a piece of the reply (check_answer checks it further).
    FUZZ_CHECK(!output.parsed.empty());
    FUZZ_CHECK(content.find(output.parsed) != std::string_view::npos);
    return;
  }
  // Every other kind hands on what it parsed as JSON, ready to be written into a record.
  FUZZ_CHECK(nlohmann::json::accept(output.parsed));
  FUZZ_CHECK(is_valid_utf8(output.parsed));
  if (kind != OutputKind::npc && kind != OutputKind::tool) return;
  FUZZ_CHECK(nlohmann::json::parse(output.parsed).is_object());
  // What was accepted is accepted again as it stands, and comes out unchanged.
  const ParsedOutput again = parse_output(kind, output.parsed);
  FUZZ_CHECK(again.ok);
  FUZZ_CHECK(again.parsed == output.parsed);
}

// Every kind of output a task can ask for.
std::vector<OutputKind> all_kinds() {
  std::vector<OutputKind> kinds;
  for (std::span<const TaskInfo> table : {builtin_tasks(), persona_tasks(), training_tasks()}) {
    for (const TaskInfo& task : table) {
      if (std::find(kinds.begin(), kinds.end(), task.kind) == kinds.end()) {
        kinds.push_back(task.kind);
      }
    }
  }
  return kinds;
}

}  // namespace
}  // namespace personagen::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace personagen;
  using namespace personagen::fuzz;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_completion(input);
  check_error_message(input);
  check_answer(input);
  static const std::vector<OutputKind> kinds = all_kinds();
  for (OutputKind kind : kinds) check_output(kind, input);
  return 0;
}
