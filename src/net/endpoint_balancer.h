#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace personagen {

// When EndpointBalancer takes an endpoint out of rotation, and for how long. Five failures in a
// row, not one: a single timeout or 503 is often a busy moment, and leaving the endpoint out
// would pile its share onto the others. The cool-down starts short, so that a restarted server is
// back within seconds, and doubles, so that a dead one costs at most one failed probe a minute.
struct EjectionPolicy {
  uint32_t failures_to_eject = 5;  // consecutive failures
  std::chrono::steady_clock::duration first_cooldown = std::chrono::seconds(5);  // then doubles
  std::chrono::steady_clock::duration max_cooldown = std::chrono::seconds(60);
};

// Chooses, among several equivalent endpoints, the one each new request goes to, and learns
// from how requests end. Pure logic: no I/O, no clock of its own (every call takes `now`), so
// tests drive it with explicit time points. Not thread-safe: the transport's loop owns it.
//
// Why least outstanding requests: LLM replies take from milliseconds to minutes, so counting
// what each endpoint still holds follows its real load, where round-robin would pile requests
// onto a slow node. Why ejection: a dead endpoint refuses connections at once, so it always
// looks idle and would draw most of the traffic; after `failures_to_eject` failures in a row it
// gets none for a cool-down, then one probe request decides whether it is back.
class EndpointBalancer {
 public:
  using Clock = std::chrono::steady_clock;

  // What an outcome changed, for the caller's log.
  enum class Change {
    none,
    ejected,    // was in rotation; now ejected for cooldown()
    reejected,  // failed while on probation after a cool-down; ejected again, for longer
    recovered,  // was ejected or probing; a success put it back in rotation
  };

  // `endpoints` >= 1 (zero is treated as one).
  explicit EndpointBalancer(size_t endpoints, EjectionPolicy policy = {});

  size_t size() const { return endpoints_.size(); }

  // The endpoint for a new request, counted as outstanding until finish(). In order: an
  // endpoint whose cool-down has ended and that has no probe in flight (the request is its
  // probe); else the healthy endpoint with the fewest outstanding requests, ties taken in turn
  // so that equal endpoints share evenly; else, when none is healthy, the one whose cool-down
  // ends first (the caller's retries decide when to give up, not the balancer).
  size_t pick(Clock::time_point now);

  // Records how a request picked for `endpoint` ended: `success` is false for a transport
  // error or a reply that says the server is unwell (5xx, 429).
  Change finish(size_t endpoint, bool success, Clock::time_point now);

  // For logs and tests.
  size_t outstanding(size_t endpoint) const { return endpoints_[endpoint].outstanding; }
  bool in_rotation(size_t endpoint, Clock::time_point now) const;
  Clock::duration cooldown(size_t endpoint) const { return endpoints_[endpoint].cooldown; }
  uint32_t consecutive_failures(size_t endpoint) const { return endpoints_[endpoint].failures; }

 private:
  enum class State { healthy, ejected, probing };

  struct Endpoint {
    State state = State::healthy;
    size_t outstanding = 0;
    uint32_t failures = 0;         // consecutive, since the last success
    Clock::duration cooldown{};    // of the current or last ejection; 0 = never ejected
    Clock::time_point until{};     // while ejected: when the probe may go
    bool probe_in_flight = false;  // while probing
  };

  void eject(Endpoint& endpoint, Clock::time_point now);

  EjectionPolicy policy_;
  std::vector<Endpoint> endpoints_;
  size_t next_ = 0;       // where the round-robin among equals starts
  size_t unhealthy_ = 0;  // endpoints not healthy; 0 keeps pick() on its short path
};

// Throws a usage Error, its message starting with `prefix`, when one of `base_urls` (from
// --base-url or $OPENAI_BASE_URL) is empty or names the same endpoint as another (trailing
// slashes ignored): a repeated endpoint would silently get twice the share.
void check_base_urls(const std::vector<std::string>& base_urls, const std::string& prefix = "");

}  // namespace personagen
