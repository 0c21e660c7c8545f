#include "net/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace personagen {

namespace {

// A rate near zero would ask for a wait of years; capped at about 11 days, the wait converts to
// a duration and adds to a time_point without overflowing.
constexpr double kMaxWaitSeconds = 1e6;

// Seconds from `from` to `to`, and never negative: a clock seen going back counts as no time.
double seconds_between(TokenBucket::Clock::time_point from, TokenBucket::Clock::time_point to) {
  return std::max(0.0, std::chrono::duration<double>(to - from).count());
}

}  // namespace

TokenBucket::TokenBucket(double per_second, double capacity, Clock::time_point now) {
  if (!(std::isfinite(per_second) && per_second > 0)) return;  // unlimited
  rate_ = per_second;
  capacity_ = std::isfinite(capacity) ? std::max(capacity, 0.0) : 0.0;
  balance_ = capacity_;
  last_ = now;
}

TokenBucket TokenBucket::per_minute(double per_minute, Clock::time_point now) {
  double per_second = per_minute / 60;
  return TokenBucket(per_second, std::max(1.0, per_second), now);
}

double TokenBucket::balance(Clock::time_point now) const {
  if (unlimited()) return 0;
  return std::min(capacity_, balance_ + rate_ * seconds_between(last_, now));
}

bool TokenBucket::can_take(double amount, Clock::time_point now) const {
  if (unlimited() || amount <= 0) return true;
  return balance(now) >= std::min(amount, capacity_);
}

bool TokenBucket::try_take(double amount, Clock::time_point now) {
  if (!can_take(amount, now)) return false;
  if (!unlimited() && amount > 0) charge(amount, now);
  return true;
}

TokenBucket::Clock::duration TokenBucket::wait_for(double amount, Clock::time_point now) const {
  if (can_take(amount, now)) return Clock::duration::zero();
  double missing = std::min(amount, capacity_) - balance(now);
  double seconds = std::min(missing / rate_, kMaxWaitSeconds);
  auto wait = std::chrono::ceil<Clock::duration>(std::chrono::duration<double>(seconds));
  return std::max(wait, Clock::duration(1));
}

void TokenBucket::charge(double amount, Clock::time_point now) {
  if (unlimited() || !(amount > 0)) return;
  refill(now);
  balance_ -= amount;
}

void TokenBucket::give_back(double amount, Clock::time_point now) {
  if (unlimited() || !(amount > 0)) return;
  refill(now);
  balance_ = std::min(capacity_, balance_ + amount);
}

void TokenBucket::refill(Clock::time_point now) {
  balance_ = balance(now);
  last_ = std::max(last_, now);
}

AdaptiveLimit::AdaptiveLimit(size_t max) : max_(std::max<size_t>(max, 1)), limit_(max_) {}

void AdaptiveLimit::on_success() {
  if (++successes_ < limit_) return;
  successes_ = 0;
  limit_ = std::min(limit_ + 1, max_);
}

void AdaptiveLimit::on_rate_limited(uint64_t started) {
  if (started < cut_at_) return;
  limit_ = std::max<size_t>(limit_ / 2, 1);
  successes_ = 0;
  cut_at_ = next_start_;
}

}  // namespace personagen
