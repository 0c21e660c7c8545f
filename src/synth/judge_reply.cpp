#include "synth/judge_reply.h"

#include <array>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "synth/output_parsers.h"
#include "util/json_text.h"
#include "util/text_util.h"

namespace personagen {

namespace {

using Json = nlohmann::ordered_json;

// The criteria, in the order the reply and the record list them.
constexpr std::array<const char*, 3> kCriteria = {"validity", "persona_fit", "quality"};

// One score: an integer from 1 to 10 (a number without a fraction counts), or why not.
std::optional<int> score_of(const Json& scores, const char* name, std::string& reason) {
  const auto it = scores.find(name);
  if (it == scores.end()) {
    reason = std::string("judge: missing scores.") + name;
    return std::nullopt;
  }
  double value = 0;
  if (it->is_number_integer()) {
    value = it->is_number_unsigned() ? static_cast<double>(it->get<uint64_t>())
                                     : static_cast<double>(it->get<int64_t>());
  } else if (it->is_number_float()) {
    value = it->get<double>();
  } else {
    reason = std::string("judge: scores.") + name + " must be an integer from 1 to 10";
    return std::nullopt;
  }
  if (!(value >= 1 && value <= 10) || value != std::floor(value)) {
    reason = std::string("judge: scores.") + name + " must be an integer from 1 to 10";
    return std::nullopt;
  }
  return static_cast<int>(value);
}

}  // namespace

std::string_view judge_schema() {
  // Written out rather than built, so it is one constant that a test and the request share.
  static constexpr std::string_view kSchema =
      R"({"type":"object","properties":{"scores":{"type":"object","properties":{)"
      R"("validity":{"type":"integer","minimum":1,"maximum":10},)"
      R"("persona_fit":{"type":"integer","minimum":1,"maximum":10},)"
      R"("quality":{"type":"integer","minimum":1,"maximum":10}},)"
      R"("required":["validity","persona_fit","quality"],"additionalProperties":false},)"
      R"("reason":{"type":"string","maxLength":300}},)"
      R"("required":["scores","reason"],"additionalProperties":false})";
  return kSchema;
}

double overall_score(int validity, int persona_fit, int quality) {
  return std::round((validity + persona_fit + quality) * 100.0 / 3.0) / 100.0;
}

ParsedOutput parse_judgment(std::string_view content) {
  std::string reason;
  std::optional<Json> object = first_json_object(content, reason);
  if (!object) return ParsedOutput::failure("judge: " + reason);
  const auto scores = object->find("scores");
  if (scores == object->end()) return ParsedOutput::failure("judge: missing \"scores\"");
  if (!scores->is_object()) return ParsedOutput::failure("judge: \"scores\" must be an object");
  std::array<int, kCriteria.size()> values{};
  for (size_t i = 0; i < kCriteria.size(); ++i) {
    std::optional<int> value = score_of(*scores, kCriteria[i], reason);
    if (!value) return ParsedOutput::failure(std::move(reason));
    values[i] = *value;
  }
  const auto why = object->find("reason");
  if (why == object->end() || !why->is_string() || is_blank(why->get_ref<const std::string&>()))
    return ParsedOutput::failure("judge: \"reason\" must be a non-empty string");

  std::string parsed = "{\"scores\":{";
  for (size_t i = 0; i < kCriteria.size(); ++i) {
    if (i > 0) parsed += ',';
    append_json_string(parsed, kCriteria[i]);
    parsed += ':' + std::to_string(values[i]);
  }
  parsed += "},\"overall\":";
  append_json_double(parsed, overall_score(values[0], values[1], values[2]));
  parsed += ",\"reason\":";
  append_json_string(parsed, trim(why->get_ref<const std::string&>()));
  parsed += '}';
  return {true, std::move(parsed), {}, {}};
}

double judged_overall(std::string_view parsed) {
  constexpr std::string_view kKey = "\"overall\":";
  // The scores before it are plain integers, so the first occurrence is the member.
  const size_t at = parsed.find(kKey);
  if (at == std::string_view::npos) return 0;
  return std::strtod(std::string(parsed.substr(at + kKey.size(), 32)).c_str(), nullptr);
}

}  // namespace personagen
