// In-memory AttemptCounter on a fake clock, with a switch that simulates a cache outage.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "cache/attempt_counter.hpp"
#include "common/errors.hpp"

namespace pepeunit::testing {

/// Unix seconds that a test advances by hand.
struct FakeClock {
  std::int64_t now = 1'700'000'000;
  void advance(std::int64_t seconds) { now += seconds; }
};

class FakeAttemptCounter : public cache::AttemptCounter {
 public:
  explicit FakeAttemptCounter(const FakeClock& clock) : clock_(clock) {}

  int failures(const std::string& key) override {
    failIfDown();
    const auto it = live(key);
    return it == entries_.end() ? 0 : it->second.count;
  }

  int recordFailure(const std::string& key, std::int64_t window_s) override {
    failIfDown();
    auto it = live(key);
    if (it == entries_.end()) {
      it = entries_.insert_or_assign(key, Entry{0, clock_.now + window_s}).first;
    }
    return ++it->second.count;
  }

  std::int64_t retryAfter(const std::string& key) override {
    failIfDown();
    const auto it = live(key);
    return it == entries_.end() ? 0 : it->second.expires_at - clock_.now;
  }

  void reset(const std::string& key) override {
    failIfDown();
    entries_.erase(key);
  }

  // ---- test helpers ----
  /// While true every call throws Unavailable, like the Redis adapter during an outage.
  bool down = false;
  /// Every key ever stored (expired ones included until overwritten or reset).
  std::map<std::string, int> snapshot() const {
    std::map<std::string, int> out;
    for (const auto& [key, entry] : entries_) {
      out[key] = entry.count;
    }
    return out;
  }

 private:
  struct Entry {
    int count = 0;
    std::int64_t expires_at = 0;
  };

  void failIfDown() const {
    if (down) {
      throw Unavailable("Redis is unavailable", "fake outage");
    }
  }

  std::map<std::string, Entry>::iterator live(const std::string& key) {
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.expires_at <= clock_.now) {
      entries_.erase(it);
      return entries_.end();
    }
    return it;
  }

  const FakeClock& clock_;
  std::map<std::string, Entry> entries_;
};

}  // namespace pepeunit::testing
