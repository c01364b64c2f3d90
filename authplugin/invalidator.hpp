// Invalidation events (auth_plugin_anchors.md §6.5): the backend publishes
// `{"principal_hash":"<sha256 hex>","version":N,"kind":"grant|revoke|deleted|all"}` on a Redis
// channel after every change that affects access. A subscriber thread parses them into a queue
// that the broker thread drains on TICK (refetch, apply, kick). Pub/sub loses messages while
// disconnected, so every subscribe queues a "resync" that revalidates all connected principals.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/redis/redis_client.hpp"

namespace pepeunit::authplugin {

struct InvalidationEvent {
  enum class Kind {
    kGrant,    ///< access grew: refetch (no kick needed)
    kRevoke,   ///< access may have shrunk: refetch, kick if it did
    kDeleted,  ///< the principal is gone: forget its rules, kick it
    kAll,      ///< everything may have changed: refetch every connected principal
    kResync,   ///< (local) events may have been missed: revalidate connected principals
  };
  Kind kind = Kind::kRevoke;
  std::string principal_hash;  ///< empty for kAll/kResync
  std::uint64_t version = 0;   ///< 0: not known
};

/// nullopt for anything malformed: not an object, unknown kind, a missing or non-hex
/// principal_hash (except for "all"), a negative or non-integer version.
std::optional<InvalidationEvent> parseInvalidationEvent(std::string_view text);

/// Thread-safe hand-over from the subscriber thread to the broker thread.
class EventQueue {
 public:
  void push(InvalidationEvent event);
  /// Everything queued so far. Cheap when empty (no lock).
  std::vector<InvalidationEvent> drain();
  std::uint64_t malformed() const { return malformed_.load(); }
  void countMalformed() {
    malformed_.fetch_add(1);
    if (on_change_) {
      on_change_();
    }
  }
  /// Called after every push or count (e.g. to wake a poll loop). Set before any producer runs.
  void setOnChange(std::function<void()> on_change) { on_change_ = std::move(on_change); }

 private:
  std::function<void()> on_change_;
  std::mutex mutex_;
  std::vector<InvalidationEvent> events_;
  std::atomic<bool> has_events_{false};
  std::atomic<std::uint64_t> malformed_{0};
};

/// The Redis subscriber feeding an EventQueue.
class Invalidator {
 public:
  Invalidator(cache::redis::RedisUrl url, std::string channel, EventQueue& queue,
              std::chrono::milliseconds timeout);
  ~Invalidator();
  Invalidator(const Invalidator&) = delete;
  Invalidator& operator=(const Invalidator&) = delete;

  /// Starts the subscriber thread with every signal blocked.
  void start();
  void stop();
  bool subscribed() const;

 private:
  EventQueue& queue_;
  std::unique_ptr<cache::redis::RedisSubscriber> subscriber_;
};

}  // namespace pepeunit::authplugin
