#include "faults.h"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <stdexcept>
#include <utility>

#include "replies.h"
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

void reply_error(httplib::Response& res, int status, std::string_view message,
                 std::string_view type, int code) {
  res.status = status;
  res.set_content(error_body(message, type, code), kJsonType);
}

namespace {

// Eight times the client's default reply limit (8 MiB): well over it, yet small enough that a
// test can raise the limit and take the whole reply.
constexpr size_t kHugePadding = size_t{64} << 20;

bool needs_socket(FaultKind kind) {
  return kind == FaultKind::drop || kind == FaultKind::truncate || kind == FaultKind::malformed ||
         kind == FaultKind::hang || kind == FaultKind::huge;
}

}  // namespace

void apply_fault(const Fault& fault, httplib::Response& res, const std::string& full_reply,
                 Delivery delivery, const std::function<void()>& hang) {
  if (delivery == Delivery::batch && needs_socket(fault.kind)) {
    // The result line must hold JSON, and there is no connection to break: such a line fails as
    // a server error would.
    return reply_error(res, 500, "injected fault: a broken transfer, answered 500 in a batch",
                       "server_error", 500);
  }
  std::string injected = "injected " + std::to_string(fault.status);
  switch (fault.kind) {
    case FaultKind::status:
      return reply_error(res, fault.status, injected, "test", fault.status);
    case FaultKind::retry_after_seconds:
      reply_error(res, fault.status, injected, "test", fault.status);
      return res.set_header("Retry-After", "1");
    case FaultKind::retry_after_date:
      // Dates have whole seconds and "now" is up to one second past time(), so this is 1-2 s on.
      reply_error(res, fault.status, injected, "test", fault.status);
      return res.set_header("Retry-After", http_date(std::time(nullptr) + 2));
    case FaultKind::retry_after_ms:
      reply_error(res, fault.status, injected, "test", fault.status);
      return res.set_header("retry-after-ms", "200");
    case FaultKind::drop:
      // httplib hands no socket to handlers, so the closest to a dropped connection is the
      // status line and headers, then a close with none of the declared body.
      return res.set_content_provider(full_reply.size(), kJsonType,
                                      [](size_t, size_t, httplib::DataSink&) { return false; });
    case FaultKind::truncate:
      return res.set_content_provider(full_reply.size(), kJsonType,
                                      [half = full_reply.substr(0, full_reply.size() / 2)](
                                          size_t offset, size_t, httplib::DataSink& sink) {
                                        if (offset == 0) sink.write(half.data(), half.size());
                                        return false;
                                      });
    case FaultKind::malformed:
      return res.set_content(full_reply.substr(0, full_reply.size() / 2) + "\"<<not json",
                             kJsonType);
    case FaultKind::hang:
      hang();
      return reply_error(res, 504, "injected hang", "test", 504);
    case FaultKind::empty:
    case FaultKind::length:
    case FaultKind::badjson:
      return res.set_content(full_reply, kJsonType);
    case FaultKind::huge: {
      // The reply up to the marker, the padding in 64 KiB pieces (so the server holds no more of
      // it at once), then the rest of the reply.
      size_t at = std::min(full_reply.find(kHugeMarker), full_reply.size());
      std::string head = full_reply.substr(0, at);
      std::string tail = full_reply.substr(std::min(at + kHugeMarker.size(), full_reply.size()));
      size_t length = head.size() + kHugePadding + tail.size();
      return res.set_content_provider(
          length, kJsonType,
          [head = std::move(head), tail = std::move(tail), piece = std::string(64 << 10, 'x')](
              size_t offset, size_t, httplib::DataSink& sink) {
            if (offset < head.size()) return sink.write(head.data() + offset, head.size() - offset);
            offset -= head.size();
            if (offset < kHugePadding)
              return sink.write(piece.data(), std::min(piece.size(), kHugePadding - offset));
            offset -= kHugePadding;
            return sink.write(tail.data() + offset, tail.size() - offset);
          });
    }
  }
}

}  // namespace detail
}  // namespace personagen::testing
