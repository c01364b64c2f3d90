// Exponential reconnect backoff shared by the Redis client and subscriber. Pure logic over an
// explicit `now`, so the schedule is unit-tested without sockets or sleeps.
#pragma once

#include <algorithm>
#include <chrono>

namespace pepeunit::cache::redis {

/// Tracks consecutive connection failures. After the n-th failure in a row no new attempt is
/// allowed before `min · 2^(n-1)` (capped at `max`) has passed; a success resets the schedule.
/// Not thread-safe: each connection owns one.
class Backoff {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Backoff(std::chrono::milliseconds min = std::chrono::milliseconds(50),
                   std::chrono::milliseconds max = std::chrono::milliseconds(2000))
      : min_(min), max_(std::max(min, max)) {}

  /// True when an attempt may be made at `now`.
  bool ready(Clock::time_point now) const { return now >= next_attempt_; }

  /// Records a failed attempt (or a dropped connection) at `now`.
  void failure(Clock::time_point now) {
    delay_ = failures_ == 0 ? min_ : std::min(max_, delay_ * 2);
    ++failures_;
    next_attempt_ = now + delay_;
  }

  /// Records a working connection: the next failure starts again from `min`.
  void success() {
    failures_ = 0;
    delay_ = std::chrono::milliseconds::zero();
    next_attempt_ = Clock::time_point::min();
  }

  int failures() const { return failures_; }
  std::chrono::milliseconds delay() const { return delay_; }
  Clock::time_point nextAttempt() const { return next_attempt_; }

 private:
  std::chrono::milliseconds min_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds delay_{0};
  int failures_ = 0;
  Clock::time_point next_attempt_ = Clock::time_point::min();
};

}  // namespace pepeunit::cache::redis
