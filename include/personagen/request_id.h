#pragma once

#include <cstdint>
#include <limits>

namespace personagen {

// What a request is: the input line it serves and its index among that line's requests (a
// text-to-persona relation, a sample, a turn). Neither has a limit.
struct RequestId {
  uint64_t line = 0;
  uint64_t index = 0;
  auto operator<=>(const RequestId&) const = default;
};

// In a list of requests to send again: every request of the line (failure records written before
// they named their request).
inline constexpr uint64_t kEveryRequest = std::numeric_limits<uint64_t>::max();

}  // namespace personagen
