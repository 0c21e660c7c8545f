#include "faults.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <utility>

#include "stable_hash.h"
#include "test_server.h"

namespace personagen::testing {

std::vector<std::string> default_fault_kinds() {
  return {"500", "502", "503", "429ra", "drop", "truncate", "malformed", "empty", "length"};
}

namespace detail {

std::optional<Fault> parse_fault(std::string_view name) {
  if (name.size() == 3 &&
      std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    int status = 0;
    std::from_chars(name.data(), name.data() + name.size(), status);
    if (status < 400 || status > 599) return std::nullopt;
    return Fault{FaultKind::status, status};
  }
  static const std::pair<std::string_view, Fault> kNamed[] = {
      {"429ra", {FaultKind::retry_after_seconds, 429}},
      {"429date", {FaultKind::retry_after_date, 429}},
      {"429ms", {FaultKind::retry_after_ms, 429}},
      {"drop", {FaultKind::drop, 0}},
      {"truncate", {FaultKind::truncate, 200}},
      {"malformed", {FaultKind::malformed, 200}},
      {"hang", {FaultKind::hang, 0}},
      {"empty", {FaultKind::empty, 200}},
      {"length", {FaultKind::length, 200}},
      {"badjson", {FaultKind::badjson, 200}},
      {"huge", {FaultKind::huge, 200}},
  };
  for (const auto& [fault_name, fault] : kNamed) {
    if (fault_name == name) return fault;
  }
  return std::nullopt;
}

std::vector<Marker> parse_markers(std::string_view text, std::string& bad) {
  constexpr std::string_view kOpen = "[[fault:";
  std::vector<Marker> markers;
  for (size_t at = text.find(kOpen); at != std::string_view::npos; at = text.find(kOpen, at + 1)) {
    size_t end = text.find("]]", at);
    if (end == std::string_view::npos) break;
    std::string_view spec = text.substr(at + kOpen.size(), end - at - kOpen.size());
    std::string_view kind = spec.substr(0, spec.find('*'));
    Marker marker;
    std::optional<Fault> fault = parse_fault(kind);
    bool count_ok = true;
    if (kind.size() < spec.size()) {
      std::string_view count = spec.substr(kind.size() + 1);
      if (count == "always") {
        marker.count = kAlways;
      } else {
        auto [ptr, ec] = std::from_chars(count.data(), count.data() + count.size(), marker.count);
        count_ok = ec == std::errc() && ptr == count.data() + count.size() && !count.empty();
      }
    }
    if (!fault || !count_ok) {
      bad = std::string(text.substr(at, end + 2 - at));
      return {};
    }
    marker.fault = *fault;
    markers.push_back(marker);
  }
  return markers;
}

std::optional<Fault> marked_fault(const std::vector<Marker>& markers, uint64_t attempt) {
  for (const Marker& marker : markers) {
    if (attempt < marker.count) return marker.fault;
    attempt -= marker.count;
  }
  return std::nullopt;
}

RandomFaults::RandomFaults(double rate, uint64_t seed, const std::vector<std::string>& kinds)
    : rate_(rate), seed_(seed) {
  for (const std::string& kind : kinds.empty() ? default_fault_kinds() : kinds) {
    std::optional<Fault> fault = parse_fault(kind);
    if (!fault) throw std::invalid_argument("test server: unknown fault kind '" + kind + "'");
    faults_.push_back(*fault);
  }
}

std::optional<Fault> RandomFaults::pick(uint64_t body_hash, uint64_t attempt) const {
  if (rate_ <= 0) return std::nullopt;
  uint64_t r = splitmix64(splitmix64(splitmix64(seed_) ^ body_hash) ^ attempt);
  // The top 53 bits, a double's whole mantissa, as a uniform draw in [0, 1).
  double draw = static_cast<double>(r >> 11) * 0x1.0p-53;
  if (draw >= rate_) return std::nullopt;
  return faults_[splitmix64(r) % faults_.size()];
}

}  // namespace detail
}  // namespace personagen::testing
