// Synchronous Redis adapter over hiredis: URL parsing, a reconnecting single connection, a small
// thread-safe pool for the HTTP threads, and a pub/sub subscriber thread.
//
// This library is also linked into the Mosquitto auth plugin, so it stays dependency-light
// (std + hiredis + common, no logging) and reports everything through return values and
// exceptions that the plugin catches before returning to C.
//
// Failure model (one rule for every call):
//   - absence is a value: `get` of a missing key is nullopt, `del` of a missing key is false;
//   - Redis down, timed out, or still backing off after a failure: throws pepeunit::Unavailable
//     (`internal()` carries the hiredis reason);
//   - Redis answered with an error reply (WRONGTYPE, ...): throws RedisError;
//   - `ping()` and the `connected()`-style probes never throw.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cache/redis/backoff.hpp"
#include "common/errors.hpp"

struct redisContext;
struct redisReply;

namespace pepeunit::cache::redis {

/// Parsed `redis://[[user]:password@]host[:port][/db]`. The password is percent-decoded.
struct RedisUrl {
  std::string host;
  int port = 6379;
  int db = 0;
  std::optional<std::string> username;  ///< Redis 6 ACL user; AUTH uses it when present.
  std::optional<std::string> password;
};

/// nullopt on a wrong scheme, an empty host, a bad port/db or trailing junk.
std::optional<RedisUrl> parseRedisUrl(std::string_view url);

struct ContextDeleter {
  void operator()(redisContext* context) const noexcept;
};
struct ReplyDeleter {
  void operator()(redisReply* reply) const noexcept;
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

/// Redis answered with an error reply. Not an outage: the connection stays usable.
struct RedisError : Error {
  explicit RedisError(std::string internal_message)
      : Error(ErrorKind::kInternal, "Cache error", std::move(internal_message)) {}
};

/// An owned copy of a RESP2 reply, so callers never hold hiredis memory.
struct Reply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };

  Type type = Type::kNil;
  std::string str;              ///< kString, kStatus, kError
  long long integer = 0;        ///< kInteger
  std::vector<Reply> elements;  ///< kArray

  bool isNil() const { return type == Type::kNil; }
  bool isError() const { return type == Type::kError; }
};

/// One Redis connection, opened lazily on the first call and re-opened after a failure.
///
/// NOT thread-safe: use one per thread, or lease from RedisPool.
///
/// Every call costs at most about `timeout` per round trip (plus `timeout` for the connect when
/// one is due). After a failure the connection is dropped and no new connect is attempted until
/// the backoff (50 ms doubling to 2 s) has passed; calls in between throw Unavailable at once,
/// so a dead Redis costs nothing per call.
class RedisClient {
 public:
  RedisClient(RedisUrl url, std::chrono::milliseconds timeout);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;
  RedisClient(RedisClient&&) noexcept;
  RedisClient& operator=(RedisClient&&) noexcept;

  std::optional<std::string> get(std::string_view key);
  /// SET, with EX when `ttl` is given. True when Redis stored it.
  bool set(std::string_view key, std::string_view value,
           std::optional<std::chrono::seconds> ttl = std::nullopt);
  /// True when the key existed.
  bool del(std::string_view key);
  /// The value after the increment (a missing key counts from 0). nullopt only if Redis answers
  /// with something other than an integer; a non-integer value is a RedisError.
  std::optional<long long> incr(std::string_view key);
  /// True when the key exists and the timeout was set.
  bool expire(std::string_view key, std::chrono::seconds ttl);
  /// Remaining seconds; nullopt when the key does not exist. A key without expiry gives -1.
  std::optional<long long> ttl(std::string_view key);
  /// True when Redis accepted the message (whether anyone was subscribed or not).
  bool publish(std::string_view channel, std::string_view message);

  /// PING round trip; false on any failure. Never throws (for /health and readiness polls).
  bool ping() noexcept;

  /// Generic command in argv form (`{"HSET", key, field, value}`); arguments are sent as binary
  /// strings, never formatted. Error replies come back as Reply::Type::kError, not as throws;
  /// connection failures still throw Unavailable.
  Reply command(const std::vector<std::string>& args);

  /// True while a connection is open (it may still turn out to be dead on the next call).
  bool connected() const { return context_ != nullptr; }
  /// The last connection-level failure (hiredis text), empty if none since the last success.
  const std::string& lastError() const { return last_error_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  void ensureConnected();
  ReplyPtr roundTrip(const std::vector<std::string_view>& args);
  [[noreturn]] void fail(std::string reason);

  RedisUrl url_;
  std::chrono::milliseconds timeout_;
  ContextPtr context_;
  Backoff backoff_;
  std::string last_error_;
};

/// A fixed set of RedisClient for the backend's HTTP threads. Thread-safe. Connections open
/// lazily, so building a pool never touches the network. The pool must outlive its leases.
class RedisPool {
 public:
  /// RAII handle to one client; returns it to the pool on destruction.
  class Lease {
   public:
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    RedisClient& operator*() const { return *client_; }
    RedisClient* operator->() const { return client_.get(); }

   private:
    friend class RedisPool;
    Lease(RedisPool* pool, std::unique_ptr<RedisClient> client)
        : pool_(pool), client_(std::move(client)) {}
    void release() noexcept;

    RedisPool* pool_ = nullptr;
    std::unique_ptr<RedisClient> client_;
  };

  RedisPool(const RedisUrl& url, std::size_t size, std::chrono::milliseconds timeout);
  RedisPool(const RedisPool&) = delete;
  RedisPool& operator=(const RedisPool&) = delete;

  /// Blocks until a client is free.
  Lease acquire();
  /// Waits at most `wait` for a free client.
  std::optional<Lease> tryAcquire(std::chrono::milliseconds wait);

  /// PING through one pooled client; false on failure or when none is free within the timeout.
  /// Never throws (for /health).
  bool ping() noexcept;

  std::size_t size() const { return size_; }

 private:
  void giveBack(std::unique_ptr<RedisClient> client) noexcept;

  std::size_t size_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<RedisClient>> idle_;
};

/// A dedicated connection on its own thread that SUBSCRIBEs to fixed channels and delivers each
/// message to a callback. It reconnects with backoff and re-subscribes after a Redis restart.
/// Messages published while it was disconnected are lost (that is pub/sub); `on_subscribed`
/// runs after every (re)subscribe so the owner can drop state that may have gone stale.
class RedisSubscriber {
 public:
  struct Callbacks {
    /// Called on the subscriber thread for every message; keep it short.
    std::function<void(std::string_view channel, std::string_view message)> on_message = nullptr;
    /// Called on the subscriber thread after every successful (re)subscribe.
    std::function<void()> on_subscribed = nullptr;
    /// Called on the subscriber thread when the connection is lost or a connect fails.
    std::function<void(std::string_view reason)> on_disconnected = nullptr;
  };

  /// `timeout` bounds connect and each read/write; liveness is checked with PING after
  /// `ping_interval` of silence.
  RedisSubscriber(RedisUrl url, std::vector<std::string> channels, Callbacks callbacks,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(1000),
                  std::chrono::milliseconds ping_interval = std::chrono::seconds(5));
  ~RedisSubscriber();
  RedisSubscriber(const RedisSubscriber&) = delete;
  RedisSubscriber& operator=(const RedisSubscriber&) = delete;

  /// Starts the thread; returns at once even if Redis is down.
  void start();
  /// Stops and joins; returns within about 100 ms plus any connect in progress (≤ timeout).
  void stop();

  /// True while subscribed to every channel.
  bool subscribed() const { return subscribed_.load(); }
  /// Successful subscribes after the first one.
  std::uint64_t resubscribes() const { return resubscribes_.load(); }
  std::uint64_t messages() const { return messages_.load(); }

 private:
  void run();
  ContextPtr connectAndSubscribe(std::string& error);
  /// Reads until the connection fails or stop is requested; returns the failure reason.
  std::string pump(redisContext* context);
  /// Sleeps until the backoff allows a connect; false when stop was requested meanwhile.
  bool waitBackoff();
  void dispatch(const redisReply& reply, bool& pong);

  RedisUrl url_;
  std::vector<std::string> channels_;
  Callbacks callbacks_;
  std::chrono::milliseconds timeout_;
  std::chrono::milliseconds ping_interval_;

  std::mutex mutex_;  // guards thread_ and pairs with wake_
  std::condition_variable wake_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> subscribed_{false};
  std::atomic<std::uint64_t> resubscribes_{0};
  std::atomic<std::uint64_t> messages_{0};
  std::uint64_t subscribes_ = 0;
  Backoff backoff_;
  std::thread thread_;
};

}  // namespace pepeunit::cache::redis
