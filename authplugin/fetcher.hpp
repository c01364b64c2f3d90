// Loading rule sets (auth_plugin_anchors.md §6.4, §6.9), in the plugin's helper process
// (helper.hpp): worker threads take fetch requests (single-flight per principal), read L2 (Redis
// `GET <prefix>:rules:<sha256(principal)>`), fall back to the backend
// (`POST {backend_url}/pepeunit/api/v1/mqtt/acl/rules` with a bearer token), hand the result to
// a sink (the helper writes it to the broker) and then write an HTTP answer through to L2.
//
// Only a 200 with a valid rule set and a 404 are answers; everything else (timeouts, 5xx,
// garbage) is an error that is never cached and leaves the broker on its current rules.
// Outages degrade, they never fail: Redis down means "backend only", backend down means
// "L2 only", both down means "what is in memory".
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cache/redis/redis_client.hpp"
#include "domain/acl_rules.hpp"

namespace pepeunit::authplugin {

inline constexpr const char* kRulesPath = "/pepeunit/api/v1/mqtt/acl/rules";
inline constexpr const char* kCheckPath = "/pepeunit/api/v1/mqtt/acl/check";

/// One decision asked of the backend's check endpoint: a topic a `partial` rule set does not
/// list. Answers are not shared through L2 (they are per principal and topic, and rare).
struct TopicQuestion {
  domain::AclAction action = domain::AclAction::kRead;
  std::string topic;
};

struct TopicAnswer {
  bool allow = false;
  std::int64_t ttl_s = 0;  ///< 0: the cache's default
};

/// What single-flight and waitFor go by: the principal for a rule set, principal plus the
/// question for a decision.
std::string fetchKey(const std::string& principal, const std::optional<TopicQuestion>& question);

struct FetchRequest {
  std::string principal;
  /// An L2 copy older than this is ignored (the event announcing it said so).
  std::uint64_t min_version = 0;
  /// Go straight to the backend (the event did not say which version to expect).
  bool skip_l2 = false;
  /// Set: ask about this topic instead of loading the rule set.
  std::optional<TopicQuestion> question = std::nullopt;

  std::string key() const { return fetchKey(principal, question); }
};

enum class FetchStatus { kRules, kDecision, kNotFound, kError };
enum class FetchSource { kNone, kL2, kBackend };

struct FetchResult {
  std::string principal;
  std::optional<TopicQuestion> question = std::nullopt;  ///< as requested
  FetchStatus status = FetchStatus::kError;
  FetchSource source = FetchSource::kNone;
  std::shared_ptr<const domain::RuleSet> rules;  ///< kRules only
  /// kRules: the JSON `rules` was parsed from (L2 value or backend body), so a process that
  /// passes the result on need not serialize it again; may be empty.
  std::string rules_json;
  TopicAnswer answer;  ///< kDecision only
  std::string error;   ///< kError: what went wrong (never a token)

  std::string key() const { return fetchKey(principal, question); }
};

/// What the broker thread needs from the fetch machinery (the Fetcher; fakes in tests).
class RuleSource {
 public:
  virtual ~RuleSource() = default;
  /// Queues a fetch, or merges into the one already queued/running for the principal. Never
  /// blocks. False when the queue is full (the request is dropped).
  virtual bool request(const FetchRequest& request) = 0;
  /// Waits at most `timeout` for a finished fetch with this key (FetchRequest::key) and takes it
  /// out of the queue.
  virtual std::optional<FetchResult> waitFor(const std::string& key,
                                             std::chrono::milliseconds timeout) = 0;
  /// Takes every finished fetch. Cheap when there is none (no lock).
  virtual std::vector<FetchResult> drain() = 0;
};

// ---- the two remote stores, as the fetch logic sees them ---------------------------------------

/// L2. Both calls throw (pepeunit::Error) when Redis is unavailable.
class L2Store {
 public:
  virtual ~L2Store() = default;
  virtual std::optional<std::string> get(const std::string& key) = 0;
  virtual void set(const std::string& key, const std::string& value, std::chrono::seconds ttl) = 0;
};

/// The backend's rule-set and check endpoints. status 0 = no HTTP answer (connect error,
/// timeout).
class BackendApi {
 public:
  struct Response {
    int status = 0;
    std::string body;
    std::string error;  ///< transport failure text when status == 0
  };
  virtual ~BackendApi() = default;
  virtual Response fetchRules(const std::string& principal) = 0;
  virtual Response checkTopic(const std::string& principal, const TopicQuestion& question) = 0;
};

std::unique_ptr<L2Store> makeRedisL2Store(const cache::redis::RedisUrl& url,
                                          std::chrono::milliseconds timeout);

struct HttpBackendOptions {
  std::string base_url;  ///< scheme://host[:port], no trailing slash
  std::string token;
  std::filesystem::path ca_file;
  std::chrono::milliseconds connect_timeout{200};
  std::chrono::milliseconds timeout{1000};
};
std::unique_ptr<BackendApi> makeHttpBackendApi(const HttpBackendOptions& options);

/// Stops hammering a backend that keeps failing: after `threshold` consecutive failures it
/// refuses calls for `open_for`, then lets one probe through. Thread-safe.
class CircuitBreaker {
 public:
  using Clock = std::chrono::steady_clock;
  explicit CircuitBreaker(int threshold = 3,
                          std::chrono::milliseconds open_for = std::chrono::milliseconds(1000))
      : threshold_(threshold), open_for_(open_for) {}

  bool allow(Clock::time_point now);
  void success();
  void failure(Clock::time_point now);
  bool open(Clock::time_point now) const;

 private:
  mutable std::mutex mutex_;
  int threshold_;
  std::chrono::milliseconds open_for_;
  int failures_ = 0;
  Clock::time_point open_until_{};
  bool probing_ = false;
};

struct ResolveConfig {
  std::string redis_prefix = "pepeunit:acl:v1";
  /// Redis expiry of a write-through copy when the rule set names no stale_ttl.
  std::chrono::seconds default_stale_ttl{3600};
};

/// A write-through copy for L2, made after the result went to the broker thread: a CONNECT
/// waiting for the rules does not also wait for Redis.
struct L2Write {
  std::string key;
  std::string value;
  std::chrono::seconds ttl{0};
};

/// Skips L2 reads that keep missing: after kStreak misses in a row (principals that L2 has never
/// seen, e.g. a fleet of new units connecting) only every kProbeEvery-th read still goes to
/// Redis; the first hit ends the streak, so a warm L2 (a broker restart) is used again at once.
/// A skipped read costs nothing in correctness: the backend is asked, and the answer is still
/// written through. Thread-safe.
class L2MissStreak {
 public:
  static constexpr int kStreak = 16;
  static constexpr int kProbeEvery = 8;
  /// Whether to skip this read.
  bool skip();
  void record(bool hit);

 private:
  std::atomic<int> misses_{0};
  std::atomic<unsigned> skipped_{0};
};

/// One fetch, synchronously. A question goes to the check endpoint only (no L2, no write). A
/// rule set comes from L2 (unless skipped or absent), then the backend; the write-through
/// of a set the backend served is left in `write` (unset when there is nothing to write or L2
/// is absent or down). Never throws.
FetchResult resolveRulesDeferred(const FetchRequest& request, L2Store* l2, BackendApi& backend,
                                 CircuitBreaker& breaker, const ResolveConfig& config,
                                 std::optional<L2Write>& write, L2MissStreak* streak = nullptr);

/// Writes `write` to `l2`; a failure only costs the next broker an HTTP call. Never throws.
void writeThrough(L2Store* l2, const std::optional<L2Write>& write);

/// resolveRulesDeferred followed by its write-through. Never throws.
FetchResult resolveRules(const FetchRequest& request, L2Store* l2, BackendApi& backend,
                         CircuitBreaker& breaker, const ResolveConfig& config);

// ---- the worker pool ---------------------------------------------------------------------------

class Fetcher {
 public:
  struct Options {
    int workers = 2;
    std::size_t max_queued = 10000;
    ResolveConfig resolve;
    /// Per worker: its own L2 connection (may return null: no L2) and backend client.
    std::function<std::unique_ptr<L2Store>()> make_l2;
    std::function<std::unique_ptr<BackendApi>()> make_backend;
    /// Required: receives every result, on the worker that made it, without any lock held.
    std::function<void(const FetchResult&)> sink;
    /// Optional: where requests come from besides request(). An idle worker calls it (one at a
    /// time) and blocks in it until it returns new requests, then serves the first one itself
    /// while another idle worker takes over the intake — no thread hand-over between a request's
    /// arrival and its fetch. An empty result just loops; stop() must be made to return it.
    std::function<std::vector<FetchRequest>()> intake;
  };

  explicit Fetcher(Options options);
  ~Fetcher();
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  /// Starts the workers with every signal blocked (signals belong to the process's main thread).
  void start();
  /// Wakes and joins the workers; a fetch in progress finishes first (bounded by its timeouts).
  void stop();

  /// Queues a fetch, or merges it into the one queued/running for its key. Never blocks. False
  /// when the queue is full (the request is dropped).
  bool request(const FetchRequest& request);

 private:
  struct Pending {
    FetchRequest request;
    bool running = false;
    bool again = false;  ///< a request arrived while running: run once more afterwards
  };

  void work();
  /// request() with mutex_ held; false when the queue is full. `notify` wakes a worker.
  bool enqueueLocked(const FetchRequest& request, bool notify);

  Options options_;
  CircuitBreaker breaker_;
  L2MissStreak l2_streak_;
  std::mutex mutex_;
  std::condition_variable jobs_cv_;
  std::deque<std::string> queue_;
  std::unordered_map<std::string, Pending> pending_;
  bool stopping_ = false;
  bool intake_busy_ = false;  ///< a worker is inside Options::intake
  std::vector<std::thread> workers_;
};

}  // namespace pepeunit::authplugin
