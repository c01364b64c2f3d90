// Fixed-window failure counters in Redis.
#include "cache/redis/redis_attempt_counter.hpp"

#include <charconv>
#include <limits>

namespace pepeunit::cache::redis {
namespace {

// INCR, then give the key its window only if it has none yet: the window starts at the first
// failure and later failures do not prolong it. One script, so no crash or outage between the two
// commands can leave a counter without expiry (which would lock a login out for good). PTTL < 0
// also repairs a key that somehow lost its expiry.
constexpr const char* kRecordFailureScript =
    "local n = redis.call('INCR', KEYS[1]) "
    "if redis.call('PTTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end "
    "return n";

constexpr long long kMillisPerSecond = 1000;

int clampToInt(long long value) {
  if (value < 0) {
    return 0;
  }
  if (value > std::numeric_limits<int>::max()) {
    return std::numeric_limits<int>::max();
  }
  return static_cast<int>(value);
}

const Reply& checked(const Reply& reply) {
  if (reply.isError()) {
    throw RedisError(reply.str);
  }
  return reply;
}

}  // namespace

RedisAttemptCounter::RedisAttemptCounter(RedisPool& pool, std::string key_prefix,
                                         std::chrono::milliseconds acquire_wait)
    : pool_(pool), prefix_(std::move(key_prefix)), acquire_wait_(acquire_wait) {}

RedisPool::Lease RedisAttemptCounter::lease() {
  auto lease = pool_.tryAcquire(acquire_wait_);
  if (!lease) {
    throw Unavailable("Redis is unavailable", "no pooled Redis connection became free");
  }
  return std::move(*lease);
}

int RedisAttemptCounter::failures(const std::string& key) {
  const auto value = lease()->get(fullKey(key));
  if (!value) {
    return 0;
  }
  long long count = 0;
  const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), count);
  if (ec != std::errc{} || end != value->data() + value->size()) {
    throw RedisError("attempt counter " + fullKey(key) + " holds a non-integer value");
  }
  return clampToInt(count);
}

int RedisAttemptCounter::recordFailure(const std::string& key, std::int64_t window_s) {
  const Reply reply =
      lease()->command({"EVAL", kRecordFailureScript, "1", fullKey(key), std::to_string(window_s)});
  if (checked(reply).type != Reply::Type::kInteger) {
    throw RedisError("attempt counter script returned a non-integer");
  }
  return clampToInt(reply.integer);
}

std::int64_t RedisAttemptCounter::retryAfter(const std::string& key) {
  const Reply reply = lease()->command({"PTTL", fullKey(key)});
  if (checked(reply).type != Reply::Type::kInteger) {
    throw RedisError("PTTL returned a non-integer");
  }
  // -2: no key (the window is over); -1: no expiry, which the script never leaves behind.
  if (reply.integer <= 0) {
    return 0;
  }
  return (reply.integer + kMillisPerSecond - 1) / kMillisPerSecond;
}

void RedisAttemptCounter::reset(const std::string& key) {
  lease()->del(fullKey(key));
}

}  // namespace pepeunit::cache::redis
