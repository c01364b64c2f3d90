// AttemptCounter over Redis: one integer key per subject with a fixed window (INCR, and the
// window's EXPIRE set once, atomically, in a Lua script).
//
// Key layout: `<prefix><key>`, e.g. `pepeunit:login:fail:<sha256 hex of the login>` and
// `pepeunit:login:fail:addr:<sha256 hex of the client address>`; the user service hashes, this
// class only prefixes. Like the rest of this library it does not log: a Redis outage surfaces as
// pepeunit::Unavailable and the caller chooses the policy (login throttling fails open, see
// service/user_service.hpp).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "cache/attempt_counter.hpp"
#include "cache/redis/redis_client.hpp"

namespace pepeunit::cache::redis {

class RedisAttemptCounter : public AttemptCounter {
 public:
  /// The namespace of the login-throttling counters.
  static constexpr std::string_view kLoginFailurePrefix = "pepeunit:login:fail:";
  /// How long a call waits for a free pooled connection before it counts as an outage.
  static constexpr std::chrono::milliseconds kDefaultAcquireWait{300};

  RedisAttemptCounter(RedisPool& pool, std::string key_prefix,
                      std::chrono::milliseconds acquire_wait = kDefaultAcquireWait);

  int failures(const std::string& key) override;
  int recordFailure(const std::string& key, std::int64_t window_s) override;
  std::int64_t retryAfter(const std::string& key) override;
  void reset(const std::string& key) override;

 private:
  RedisPool::Lease lease();
  std::string fullKey(const std::string& key) const { return prefix_ + key; }

  RedisPool& pool_;
  std::string prefix_;
  std::chrono::milliseconds acquire_wait_;
};

}  // namespace pepeunit::cache::redis
