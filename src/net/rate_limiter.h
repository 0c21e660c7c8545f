#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace personagen {

// A token bucket for --rpm and --tpm: it holds up to `capacity` tokens and gains `rate` tokens a
// second. The time is passed in rather than read, so the caller owns the clock and tests can use
// made-up instants. An instant earlier than one already seen counts as no time passing.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  // An unlimited bucket: every take succeeds at once.
  TokenBucket() = default;
  // A bucket that is full at `now`. A rate that is not a positive finite number means no limit.
  TokenBucket(double per_second, double capacity, Clock::time_point now);

  // For a limit per minute: per_minute / 60 tokens a second and one second's worth of burst, at
  // least 1. A run starts at full speed, and the burst is short, because servers that count per
  // minute often also refuse a minute's quota sent in one go. 0 (or less) means no limit.
  static TokenBucket per_minute(double per_minute, Clock::time_point now);

  bool unlimited() const { return !(rate_ > 0); }
  double rate() const { return rate_; }  // tokens a second; 0 when unlimited
  double capacity() const { return capacity_; }
  // Tokens available at `now`; negative while a charge is being paid off.
  double balance(Clock::time_point now) const;

  // Whether `amount` can be taken at `now`: the balance covers it or, for an amount above the
  // capacity, the bucket is full. An amount of 0 or less can always be taken.
  bool can_take(double amount, Clock::time_point now) const;
  // Takes `amount` when can_take() says so, and returns whether it did. An amount above the
  // capacity empties a full bucket into debt, so one oversized request always goes eventually and
  // the average rate still holds.
  bool try_take(double amount, Clock::time_point now);
  // How long after `now` can_take(amount) becomes true; zero when it is true now. Never zero
  // when it is false, so a caller that waits this long does not spin.
  Clock::duration wait_for(double amount, Clock::time_point now) const;

  // Takes `amount` unconditionally: for usage above an estimate already taken. The balance may go
  // negative, which delays later takes until it is paid off.
  void charge(double amount, Clock::time_point now);
  // Returns `amount`, up to the capacity: for usage below an estimate already taken.
  void give_back(double amount, Clock::time_point now);

 private:
  void refill(Clock::time_point now);

  double rate_ = 0;
  double capacity_ = 0;
  double balance_ = 0;  // at last_
  Clock::time_point last_{};
};

// The adaptive in-flight limit: additive increase, multiplicative decrease (AIMD), as TCP does
// with its congestion window. It starts at `max`, halves on a 429 and climbs back by about one per
// round trip of successes, never above `max` nor below 1.
//
// One burst of 429s cuts the limit once: a refusal of a request that started before the last cut
// is ignored, because that request was sent under the old, higher limit, which has already been
// cut. This needs no clock and no guess of the round-trip time, unlike a cool-down.
class AdaptiveLimit {
 public:
  explicit AdaptiveLimit(size_t max);

  size_t limit() const { return limit_; }
  size_t max() const { return max_; }

  // Records that a request starts; returns its sequence number, for on_rate_limited().
  uint64_t on_start() { return next_start_++; }
  // A request got through: every limit() successes raise the limit by one, up to max().
  void on_success();
  // The request that on_start() numbered `started` was refused with 429: halves the limit (at
  // least 1), unless the request started before the last cut.
  void on_rate_limited(uint64_t started);

 private:
  size_t max_;
  size_t limit_;
  size_t successes_ = 0;  // since the limit last changed
  uint64_t next_start_ = 0;
  uint64_t cut_at_ = 0;  // requests numbered below this predate the last cut
};

}  // namespace personagen
