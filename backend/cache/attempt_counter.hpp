// Counting failed attempts per key inside a fixed window (login throttling, issue 3 item 3).
// The user service depends on this interface; cache/redis/redis_attempt_counter.hpp implements
// it over Redis and tests/fakes/fake_attempt_counter.hpp in memory.
//
// Keys are opaque to the counter and end up in the cache as they are, so callers must pass
// something that reveals no secret (the user service passes SHA-256 hex digests, never a login,
// address or token). Every method may throw pepeunit::Unavailable when the cache is down; the
// caller decides whether that blocks anything.
#pragma once

#include <cstdint>
#include <string>

namespace pepeunit::cache {

class AttemptCounter {
 public:
  virtual ~AttemptCounter() = default;

  /// Failures recorded for `key` in its current window; 0 when none (or the window is over).
  virtual int failures(const std::string& key) = 0;

  /// Adds one failure and returns the new count. The first failure opens a window of
  /// `window_s` seconds; later ones do not extend it, and the count is gone when it ends.
  virtual int recordFailure(const std::string& key, std::int64_t window_s) = 0;

  /// Whole seconds (rounded up) until the window of `key` ends; 0 when there is none.
  virtual std::int64_t retryAfter(const std::string& key) = 0;

  /// Forgets the failures of `key` (after a success).
  virtual void reset(const std::string& key) = 0;
};

}  // namespace pepeunit::cache
