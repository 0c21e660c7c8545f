#include "net/endpoint_balancer.h"

#include <algorithm>
#include <set>
#include <string_view>

#include "net/url.h"
#include "personagen/error.h"

namespace personagen {

EndpointBalancer::EndpointBalancer(size_t endpoints, EjectionPolicy policy)
    : policy_(policy), endpoints_(std::max<size_t>(endpoints, 1)) {
  policy_.failures_to_eject = std::max<uint32_t>(policy_.failures_to_eject, 1);
  policy_.max_cooldown = std::max(policy_.max_cooldown, policy_.first_cooldown);
}

size_t EndpointBalancer::pick(Clock::time_point now) {
  const size_t n = endpoints_.size();
  if (unhealthy_ > 0) {
    // A cool-down that ended sends the next request as the probe.
    for (size_t i = 0; i < n; ++i) {
      Endpoint& e = endpoints_[i];
      if (e.state == State::ejected && now >= e.until) {
        e.state = State::probing;
        e.probe_in_flight = false;
      }
      if (e.state == State::probing && !e.probe_in_flight) {
        e.probe_in_flight = true;
        ++e.outstanding;
        return i;
      }
    }
  }
  size_t best = n;
  for (size_t k = 0, i = next_; k < n; ++k, i = i + 1 == n ? 0 : i + 1) {
    const Endpoint& e = endpoints_[i];
    if (e.state != State::healthy) continue;
    if (best == n || e.outstanding < endpoints_[best].outstanding) best = i;
  }
  if (best == n) {
    // None is healthy: the one back soonest, so the run goes on while its retries last.
    for (size_t k = 0, i = next_; k < n; ++k, i = i + 1 == n ? 0 : i + 1) {
      const Endpoint& e = endpoints_[i];
      if (best == n || e.until < endpoints_[best].until ||
          (e.until == endpoints_[best].until && e.outstanding < endpoints_[best].outstanding)) {
        best = i;
      }
    }
  }
  next_ = best + 1 == n ? 0 : best + 1;
  ++endpoints_[best].outstanding;
  return best;
}

EndpointBalancer::Change EndpointBalancer::finish(size_t endpoint, bool success,
                                                  Clock::time_point now) {
  Endpoint& e = endpoints_[endpoint];
  if (e.outstanding > 0) --e.outstanding;
  if (success) {
    e.failures = 0;
    e.cooldown = Clock::duration::zero();
    if (e.state == State::healthy) return Change::none;
    e.state = State::healthy;
    e.probe_in_flight = false;
    --unhealthy_;
    return Change::recovered;
  }
  if (e.failures < UINT32_MAX) ++e.failures;
  switch (e.state) {
    case State::healthy:
      if (e.failures < policy_.failures_to_eject) return Change::none;
      ++unhealthy_;
      eject(e, now);
      return Change::ejected;
    case State::probing:
      eject(e, now);
      return Change::reejected;
    case State::ejected:
      break;
  }
  return Change::none;
}

bool EndpointBalancer::in_rotation(size_t endpoint, Clock::time_point now) const {
  const Endpoint& e = endpoints_[endpoint];
  return e.state != State::ejected || now >= e.until;
}

void EndpointBalancer::eject(Endpoint& e, Clock::time_point now) {
  e.cooldown = e.cooldown == Clock::duration::zero()
                   ? policy_.first_cooldown
                   : std::min(e.cooldown * 2, policy_.max_cooldown);
  e.until = now + e.cooldown;
  e.state = State::ejected;
  e.probe_in_flight = false;
}

void check_base_urls(const std::vector<std::string>& base_urls, const std::string& prefix) {
  std::set<std::string_view> seen;
  for (std::string_view url : base_urls) {
    if (url.empty()) {
      throw usage_error(prefix + "--base-url (or $OPENAI_BASE_URL) has an empty URL in its list");
    }
    while (url.size() > 1 && url.ends_with('/')) url.remove_suffix(1);
    if (!seen.insert(url).second) {
      throw usage_error(prefix + "--base-url (or $OPENAI_BASE_URL) names " + display_url(url) +
                        " twice");
    }
  }
}

}  // namespace personagen
