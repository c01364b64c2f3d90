// The plugin's decisions, free of Mosquitto types so they are unit-tested without a broker
// (plugin.cpp is the thin extern "C" shell over this). Runs on the broker thread only.
//
// CONNECT (BASIC_AUTH): the username is a JWT verified locally (HS256 under BACKEND_SECRET_KEY;
//   any other algorithm, a bad signature or an expired token is refused).
//     {"type":"Unit","uuid":U}      → principal "unit:U"; its rules must be in memory, or
//                                      loadable within fetch_timeout (single-flight, bounded by
//                                      a stall budget); unknown/deleted units are refused;
//     {"type":"Backend","domain":D} → principal "backend": allowed everything under `D/#` and to
//                                      read the plugin's `$SYS/pepeunit/auth/#` counters;
//     anything else (User tokens, anonymous, garbage) → refused.
// ACL_CHECK: answered from memory (rule cache + decision LRU). A unit's own base topics come
//   from local rules that precede the fetched ones: publish `D/output_base_topic/U/+/pepeunit`,
//   subscribe/read `D/input_base_topic/U/+/pepeunit`. No rules in memory → deny and fetch.
//   A `partial` rule set (the backend capped the visible nodes it lists) denies a node topic
//   only after asking the check endpoint: the answer is kept for its ttl, the wait is bounded
//   like CONNECT's (same budget), and a timeout denies. Every new rule set of the principal
//   re-asks the allowed answers; one turned into a deny kicks the principal's clients.
// TICK: apply finished fetches and invalidation events, decide kicks (access shrank, principal
//   deleted, credential expired: the token's `exp` or the rule set's `expires_at`), refresh
//   rules ahead of their ttl, evict, produce counters.
// Fail policy: errors never change what is cached; rules are served until stale_ttl even while
//   Redis and the backend are down; nothing here disconnects anyone because of an outage.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "authplugin/fetcher.hpp"
#include "authplugin/invalidator.hpp"
#include "authplugin/options.hpp"
#include "authplugin/rule_cache.hpp"
#include "domain/acl_rules.hpp"

namespace pepeunit::authplugin {

/// Who a verified username is.
struct Identity {
  std::string principal;
  bool backend = false;
  std::int64_t expires_at = 0;  ///< unix seconds from `exp`; 0 = never
};

struct Clock {
  std::function<std::int64_t()> steady_ms;
  std::function<std::int64_t()> unix_s;
  static Clock system();
};

struct AuthCounters {
  std::uint64_t connects_allowed = 0;
  std::uint64_t connects_refused = 0;
  std::uint64_t connect_waits = 0;
  std::uint64_t connect_wait_timeouts = 0;
  std::uint64_t connect_budget_refused = 0;
  std::uint64_t acl_allowed = 0;
  std::uint64_t acl_denied = 0;
  std::uint64_t fetch_l2 = 0;
  std::uint64_t fetch_backend = 0;
  std::uint64_t fetch_not_found = 0;
  std::uint64_t fetch_errors = 0;
  std::uint64_t fetch_dropped = 0;
  std::uint64_t invalidations = 0;
  std::uint64_t kicks = 0;
  std::uint64_t remote_hits = 0;      ///< check-endpoint answers served from memory
  std::uint64_t remote_answers = 0;   ///< check-endpoint answers received
  std::uint64_t remote_waits = 0;     ///< ACL checks that waited for one
  std::uint64_t remote_timeouts = 0;  ///< ... and denied because it did not come in time
};

struct LogLine {
  enum class Level { kInfo, kWarning, kError };
  Level level = Level::kInfo;
  std::string text;  ///< never contains a token; principals appear hashed
};

struct TickOutput {
  /// Usernames to disconnect (mosquitto_kick_client_by_username), each at most once.
  std::vector<std::string> kick_usernames;
  /// (topic, payload) counters to publish, when due.
  std::vector<std::pair<std::string, std::string>> metrics;
  std::vector<LogLine> logs;
};

inline constexpr std::string_view kMetricsTopicPrefix = "$SYS/pepeunit/auth/";

class Authorizer {
 public:
  Authorizer(PluginOptions options, std::string jwt_key, RuleSource& source, EventQueue& events,
             Clock clock = Clock::system());

  /// Verifies a username JWT; nullopt = refuse. No I/O.
  std::optional<Identity> identify(const char* username) const;

  /// MOSQ_EVT_BASIC_AUTH. `client` only identifies the connection (for DISCONNECT).
  bool basicAuth(const void* client, const char* username, const char* password);
  /// MOSQ_EVT_ACL_CHECK for a client connected as `username`.
  bool aclCheck(const char* username, domain::AclAction action, std::string_view topic);
  /// The same, found by the connection first: a pointer lookup instead of hashing and comparing
  /// a ~150-byte token on every message. A connection unknown here (the will, checked after
  /// DISCONNECT) falls back to the username.
  bool aclCheck(const void* client, const char* username, domain::AclAction action,
                std::string_view topic);
  /// MOSQ_EVT_DISCONNECT. Rules stay cached (the will is checked after this event).
  void disconnect(const void* client);
  /// MOSQ_EVT_TICK: cheap when nothing is pending.
  TickOutput tick();

  /// The local rules preceding a unit's fetched ones.
  static std::vector<domain::AclRule> unitBaseRules(std::string_view domain,
                                                    std::string_view unit_uuid);
  /// The backend identity's whole rule set.
  static domain::RuleSet backendRuleSet(std::string_view domain);

  const AuthCounters& counters() const { return counters_; }
  const RuleCache& cache() const { return cache_; }
  /// Usernames with at least one live connection.
  std::size_t sessions() const { return connected_sessions_; }

 private:
  /// A verified username and what it maps to. Kept for session_grace_s after its last
  /// connection closed: the will is ACL-checked after DISCONNECT (and delayed wills later), and
  /// a persistent session's queued messages are checked on reconnect.
  struct Session {
    std::shared_ptr<PrincipalEntry> entry;
    std::int64_t expires_at = 0;
    std::size_t connections = 0;
    std::int64_t idle_since_ms = 0;
    /// The backend identity: everything under `<domain>/` is allowed without a rule lookup
    /// (its own reads are one check per ingested message).
    bool backend = false;
  };
  struct Connection {
    std::string username;
    Session* session = nullptr;  // stable: a session with live connections is never erased
  };
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept {
      return std::hash<std::string_view>{}(text);
    }
  };

  bool check(Session& session, domain::AclAction action, std::string_view topic);
  /// A denied node topic of a partial rule set: the check endpoint decides (see the header).
  bool askBackend(PrincipalEntry& entry, domain::AclAction action, std::string_view topic,
                  std::int64_t now_ms);
  /// After a new rule set: drops remembered denies and re-asks the allowed answers.
  void revalidateRemote(PrincipalEntry& entry);
  void applyAnswer(PrincipalEntry& entry, const FetchResult& result, std::int64_t now_ms);
  void attach(const void* client, const std::string& username,
              const std::shared_ptr<PrincipalEntry>& entry, const Identity& identity);
  void requestFetch(PrincipalEntry& entry, const FetchRequest& request);
  void apply(FetchResult result, std::int64_t now_ms);
  void handle(const InvalidationEvent& event, std::int64_t now_ms);
  void kick(PrincipalEntry& entry, std::string_view reason);
  void housekeeping(std::int64_t now_ms);
  std::vector<std::pair<std::string, std::string>> metrics() const;
  /// How long CONNECT may still wait in the current one-second window.
  std::chrono::milliseconds waitAllowance(std::int64_t now_ms);
  void log(LogLine::Level level, std::string text);

  PluginOptions options_;
  std::string jwt_key_;
  RuleSource& source_;
  EventQueue& events_;
  Clock clock_;
  RuleCache cache_;
  AuthCounters counters_;

  std::unordered_map<std::string, Session, StringHash, std::equal_to<>> sessions_;
  std::unordered_map<const void*, Connection> clients_;
  /// A direct-mapped cache in front of clients_: the map's lookup was the plugin's most
  /// expensive line in B3 (a cache miss into a scattered node per check). Slots point into
  /// clients_' nodes, which never move; disconnect clears its slot.
  struct ClientSlot {
    const void* client = nullptr;
    Connection* connection = nullptr;
  };
  static constexpr std::size_t kClientSlots = 1024;
  static std::size_t clientSlot(const void* client);
  std::vector<ClientSlot> client_slots_ = std::vector<ClientSlot>(kClientSlots);
  std::size_t connected_sessions_ = 0;

  std::vector<std::string> pending_kicks_;
  std::vector<LogLine> pending_logs_;
  std::int64_t last_housekeeping_ms_ = 0;
  std::int64_t last_metrics_ms_ = 0;
  std::int64_t budget_window_ms_ = 0;
  std::int64_t budget_used_ms_ = 0;
};

}  // namespace pepeunit::authplugin
