#pragma once

// The faults the test server injects, and which request gets which.
//
// Fault kinds, for `[[fault:KIND*N]]` markers in a prompt and for ServerOptions::fault_kinds:
//   400 ... 599  that status with an OpenAI error body {"error":{"message":"injected <code>",...}}
//   429ra        429 with "Retry-After: 1"
//   429date      429 with Retry-After as an HTTP date between 1 and 2 seconds ahead
//   429ms        429 with "retry-after-ms: 200"
//   drop         the connection is closed after the headers, before any of the body
//   truncate     200 whose body is cut in half (the declared length is the full one)
//   malformed    200 whose body is not JSON
//   hang         no answer until stop(), or 60 s, so the client's timeout fires
//   empty        200 with content ""
//   length       200 with the normal content and finish_reason "length"
//   badjson      200 whose content is "this is not json" (text tasks accept it, JSON tasks don't)
//   huge         200 whose content is the normal one followed by 64 MiB of "x" (streamed, so the
//                server holds none of it), to test the client's reply limit
// N is a count or the word "always", 1 when "*N" is left out. Several markers apply in turn:
// `[[fault:500]] [[fault:429]]` gives 500, then 429, then the normal reply.

#include <httplib.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace personagen::testing::detail {

enum class FaultKind {
  status,
  retry_after_seconds,
  retry_after_date,
  retry_after_ms,
  drop,
  truncate,
  malformed,
  hang,
  empty,
  length,
  badjson,
  huge
};

struct Fault {
  FaultKind kind = FaultKind::status;
  int status = 0;  // the HTTP status of the reply; 0 for drop and hang, which send none
};

// The fault a kind name stands for ("503", "429ra", "drop", ...), or nullopt for an unknown name.
std::optional<Fault> parse_fault(std::string_view name);

// The count of a `*always` marker: more attempts than any test makes.
inline constexpr uint64_t kAlways = std::numeric_limits<uint64_t>::max();

// One `[[fault:KIND*N]]` marker of a prompt.
struct Marker {
  Fault fault;
  uint64_t count = 1;
};

// The markers of `text` in order, or none and the text of the first bad one in `bad`.
std::vector<Marker> parse_markers(std::string_view text, std::string& bad);

// The fault the markers give to attempt number `attempt` (from 0) at one body: each marker takes
// `count` attempts in turn. nullopt once they are used up.
std::optional<Fault> marked_fault(const std::vector<Marker>& markers, uint64_t attempt);

// The random faults of ServerOptions::fault_rate.
class RandomFaults {
 public:
  // Throws std::invalid_argument for an unknown kind; no kinds means default_fault_kinds().
  RandomFaults(double rate, uint64_t seed, const std::vector<std::string>& kinds);

  // With probability `rate`, one of the kinds, chosen evenly. The choice is a function of the
  // seed, the body and the attempt number alone, so a rerun gets the same faults whatever order
  // the requests arrive in.
  std::optional<Fault> pick(uint64_t body_hash, uint64_t attempt) const;

 private:
  double rate_;
  uint64_t seed_;
  std::vector<Fault> faults_;
};

// Stands in a huge reply's content for the padding that apply_fault() streams in its place.
inline constexpr std::string_view kHugeMarker = "@@huge-padding@@";

// Where a reply goes: down a socket, or into a batch's result file, which has no connection to
// break and must hold JSON.
enum class Delivery { socket, batch };

// Puts `fault` into `res` in place of `full_reply`, the reply the request would have had (whose
// content already carries an empty, length, badjson or huge fault). A hang calls `hang`, which
// returns once the server stops or gives up waiting. Into a batch, the faults that need a socket
// (drop, truncate, malformed, hang, huge) give a 500 error body instead; the others their status
// and error body (Retry-After headers and all, which a batch drops) or the reply as it is.
void apply_fault(const Fault& fault, httplib::Response& res, const std::string& full_reply,
                 Delivery delivery, const std::function<void()>& hang);

// An OpenAI-shaped error reply: `status` and {"error": {"message", "type", "code"}}.
void reply_error(httplib::Response& res, int status, std::string_view message,
                 std::string_view type, int code);

}  // namespace personagen::testing::detail
