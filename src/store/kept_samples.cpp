#include "store/kept_samples.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "personagen/error.h"
#include "personagen/request_id.h"

namespace personagen {

namespace {

// Reads member `key` of `object` into `out` if it has the type `T`; false if it is missing or
// has another type.
template <typename T>
bool kept_member(const nlohmann::json& object, const char* key, T& out) {
  auto it = object.find(key);
  if (it == object.end()) return false;
  if constexpr (std::is_same_v<T, std::string>) {
    if (!it->is_string()) return false;
  } else if constexpr (std::is_unsigned_v<T>) {
    if (!it->is_number_unsigned()) return false;
  } else {
    if (!it->is_number_integer()) return false;
  }
  out = it->get<T>();
  return true;
}

bool kept_usage(const nlohmann::json& sample, Usage& usage) {
  auto it = sample.find("usage");
  if (it == sample.end() || !it->is_object()) return false;
  if (it->contains("reasoning_tokens") &&
      !kept_member(*it, "reasoning_tokens", usage.reasoning_tokens))
    return false;
  return kept_member(*it, "prompt_tokens", usage.prompt_tokens) &&
         kept_member(*it, "completion_tokens", usage.completion_tokens) &&
         kept_member(*it, "total_tokens", usage.total_tokens);
}

}  // namespace

void add_kept_samples(std::span<const SolveSample> samples, std::string& failure) {
  auto kept = [](const SolveSample& s) { return s.failure.empty() && !s.custom_id.empty(); };
  if (std::none_of(samples.begin(), samples.end(), kept) || failure.empty() ||
      failure.back() != '}')
    return;
  failure.pop_back();
  failure += ",\"kept_samples\":[";
  for (size_t index = 0; index < samples.size(); ++index) {
    if (!kept(samples[index])) continue;
    if (failure.back() != '[') failure += ',';
    append_sample(failure, samples[index], index);
  }
  failure += "]}";
}

std::vector<KeptSample> parse_kept_samples(std::string_view text, const std::string& where) {
  auto record = nlohmann::json::parse(text, nullptr, false);
  if (record.is_discarded()) record = nullptr;  // refused as not an object
  return read_kept_samples(record, where);
}

std::vector<KeptSample> read_kept_samples(const nlohmann::json& record, const std::string& where) {
  auto bad = [&where](const std::string& what) {
    return Error(where + ": " + what + " (expected a failure record whose \"kept_samples\" " +
                 "is an array of {\"request\", \"custom_id\", \"output\", \"answer\", " +
                 "\"finish_reason\", \"usage\", \"attempts\"})");
  };
  if (!record.is_object()) throw bad("not a JSON object");
  auto kept = record.find("kept_samples");
  if (kept == record.end()) return {};
  if (!kept->is_array()) throw bad("\"kept_samples\" is not an array");
  std::vector<KeptSample> out;
  for (const nlohmann::json& sample : *kept) {
    KeptSample& s = out.emplace_back();
    std::string label = "kept sample " + std::to_string(out.size());
    if (!sample.is_object() || !kept_member(sample, "request", s.request) ||
        !kept_member(sample, "custom_id", s.custom_id) ||
        !kept_member(sample, "output", s.output) || !kept_member(sample, "answer", s.answer) ||
        !kept_member(sample, "finish_reason", s.finish_reason) || !kept_usage(sample, s.usage) ||
        !kept_member(sample, "attempts", s.attempts))
      throw bad(label + " lacks a field or has one of the wrong type");
    if (sample.contains("reasoning") && !kept_member(sample, "reasoning", s.reasoning))
      throw bad(label + "'s \"reasoning\" is not a string");
  }
  return out;
}

void check_kept_line(std::span<const uint64_t> kept, std::span<const uint64_t> failed,
                     uint64_t samples, const std::string& where) {
  std::string k = std::to_string(samples);
  auto bad = [&](const std::string& what) {
    return Error(
        where + ": " + what + " (expected its " + k + " samples, 0 to " +
        std::to_string(samples - 1) +
        ", each either kept in \"kept_samples\" or the \"request\" of one of its failures)");
  };
  std::vector<char> seen(samples);
  auto mark = [&](uint64_t index, const char* what) {
    if (index == kEveryRequest)
      throw bad("a failure names no \"request\" though the line keeps samples");
    if (index >= samples)
      throw bad(std::string(what) + " " + std::to_string(index) + " is past --samples " + k);
    if (seen[index])
      throw bad("sample " + std::to_string(index) + " is kept twice, or kept and failed");
    seen[index] = 1;
  };
  for (uint64_t index : kept) mark(index, "kept sample");
  for (uint64_t index : failed) mark(index, "failed sample");
  for (uint64_t index = 0; index < samples; ++index)
    if (!seen[index]) throw bad("sample " + std::to_string(index) + " is neither kept nor failed");
}

std::vector<KeptSample> KeptSamplesReader::at(uint64_t offset) {
  std::string where = path_ + ": at offset " + std::to_string(offset);
  if (!in_.is_open()) in_.open(path_, std::ios::binary);
  in_.clear();  // the last read may have reached the end
  std::string text;
  if (!in_ || !in_.seekg(static_cast<std::streamoff>(offset)) || !std::getline(in_, text))
    throw Error(where + ": cannot read the failure record that keeps a line's samples");
  return parse_kept_samples(text, where);
}

}  // namespace personagen
