// L1: the in-process rule cache the broker thread answers every ACL check from
// (auth_plugin_anchors.md §6.2–§6.4). Owned and touched by the broker thread only, so the hot
// path takes no lock: worker threads hand finished fetches over through a queue that the TICK
// callback applies (see authorizer.hpp).
//
// Per principal it keeps the fetched rule set, an index of the effective rules (the locally
// derived base rules followed by the fetched ones), its freshness times, the set of connected
// usernames, and a bounded LRU of recent decisions so hot topics skip matching altogether.
// Times are steady-clock milliseconds passed in by the caller (tests drive them directly).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "domain/acl_rules.hpp"

namespace pepeunit::authplugin {

/// Remembered decisions of one principal by topic (or filter), least recently used dropped
/// first. One node per topic holds the answers for all four actions.
class DecisionLru {
 public:
  explicit DecisionLru(std::size_t capacity) : capacity_(capacity) {}
  DecisionLru(const DecisionLru&) = delete;
  DecisionLru& operator=(const DecisionLru&) = delete;

  /// The remembered answer, marking the topic most recently used.
  std::optional<bool> find(domain::AclAction action, std::string_view topic);
  void remember(domain::AclAction action, std::string_view topic, bool allow);
  void clear();
  std::size_t size() const { return index_.size(); }

 private:
  struct Node {
    std::string topic;
    std::uint8_t known = 0;    // action bits with an answer
    std::uint8_t allowed = 0;  // action bits answered "allow"
  };
  std::size_t capacity_;
  std::list<Node> order_;  // front: most recently used
  std::unordered_map<std::string_view, std::list<Node>::iterator> index_;  // views into order_
};

/// An answer of the backend's check endpoint, for a topic a `partial` rule set does not list.
struct RemoteDecision {
  bool allow = false;
  std::int64_t until_ms = 0;  ///< asked again after this (0: revalidate on the next check)
};

/// The key of PrincipalEntry::remote: the action, then the topic.
std::string remoteDecisionKey(domain::AclAction action, std::string_view topic);
/// The action and topic of such a key (the inverse of remoteDecisionKey).
std::pair<domain::AclAction, std::string_view> splitRemoteDecisionKey(std::string_view key);

struct PrincipalEntry {
  enum class State {
    kLoading,   ///< nothing usable yet (first fetch pending or failed)
    kRules,     ///< rules loaded (possibly stale)
    kNegative,  ///< the backend does not know this principal (until negative_until_ms)
  };

  PrincipalEntry(std::string principal_id, std::size_t decision_capacity);

  std::string principal;
  std::string hash;  ///< principalHash(principal)
  State state = State::kLoading;
  /// Synthesized here (the backend identity): never fetched, never stale.
  bool local = false;
  std::shared_ptr<const domain::RuleSet> rules;    ///< as fetched (null unless kRules)
  std::shared_ptr<const domain::RuleIndex> index;  ///< effective rules (null unless kRules)

  std::int64_t loaded_ms = 0;
  std::int64_t refresh_at_ms = 0;   ///< fresh until then (ttl with ±10 % jitter)
  std::int64_t stale_until_ms = 0;  ///< served while refetches fail until then; denied after
  std::int64_t negative_until_ms = 0;
  std::int64_t last_used_ms = 0;

  bool fetch_pending = false;
  std::int64_t retry_at_ms = 0;  ///< no new fetch before (after failures)
  int consecutive_failures = 0;

  /// Connected usernames (the JWTs) → their connection counts; kicks go by username.
  std::unordered_map<std::string, std::size_t> usernames;
  std::size_t connections = 0;

  DecisionLru decisions;
  /// By remoteDecisionKey; bounded by Limits::remote_decisions, dropped with the rules.
  std::unordered_map<std::string, RemoteDecision> remote;
};

/// Counters the cache bumps on the hot path (read by the metrics publisher).
struct CacheStats {
  std::uint64_t decision_hits = 0;
  std::uint64_t decision_misses = 0;  ///< answered by evaluating the rules
  std::uint64_t stale_served = 0;     ///< answered from rules past their ttl
  std::uint64_t expired_denied = 0;   ///< denied because the rules are past stale_ttl
  std::uint64_t cold_denied = 0;      ///< denied because no rules are loaded
};

class RuleCache {
 public:
  struct Limits {
    std::int64_t ttl_ms = 300'000;
    std::int64_t stale_ttl_ms = 3'600'000;
    std::int64_t negative_ttl_ms = 10'000;
    std::size_t max_principals = 100'000;
    std::size_t decision_cache_size = 256;
    std::size_t remote_decisions = 1024;
  };
  /// Rules derived locally for a principal (e.g. a unit's own base topics), evaluated before the
  /// fetched ones.
  using BaseRules = std::function<std::vector<domain::AclRule>(std::string_view principal)>;

  enum class Verdict { kAllow, kDeny, kNoRules, kExpired };

  RuleCache(Limits limits, BaseRules base_rules);

  std::shared_ptr<PrincipalEntry> find(std::string_view principal) const;
  std::shared_ptr<PrincipalEntry> findByHash(std::string_view hash) const;
  std::shared_ptr<PrincipalEntry> getOrCreate(std::string_view principal, std::int64_t now_ms);

  struct InstallOutcome {
    bool installed = false;  ///< false: older than what is cached, ignored
    bool shrank = false;     ///< access went down (or the principal had been negative)
  };
  /// A fetched rule set. Versions lower than the cached one are ignored (late fetches).
  InstallOutcome install(PrincipalEntry& entry, std::shared_ptr<const domain::RuleSet> rules,
                         std::int64_t now_ms);
  /// A rule set made here; never expires.
  void installLocal(PrincipalEntry& entry, domain::RuleSet rules, std::int64_t now_ms);
  /// The backend says the principal does not exist.
  void markNegative(PrincipalEntry& entry, std::int64_t now_ms);
  void erase(const std::string& principal);

  /// The decision for a connected principal: from the decision LRU, else by evaluating the rules.
  Verdict check(PrincipalEntry& entry, domain::AclAction action, std::string_view topic,
                std::int64_t now_ms);

  /// Remembers a check-endpoint answer, making room first (expired answers, then any).
  void rememberRemote(PrincipalEntry& entry, std::string key, RemoteDecision decision,
                      std::int64_t now_ms) const;

  /// Drops unreferenced entries that are useless (negative/past stale_ttl/failed loads), then the
  /// least recently used unreferenced ones above max_principals. Returns how many went.
  std::size_t evict(std::int64_t now_ms);

  void forEach(const std::function<void(PrincipalEntry&)>& visit);
  std::size_t size() const { return entries_.size(); }
  const CacheStats& stats() const { return stats_; }
  const Limits& limits() const { return limits_; }

 private:
  Limits limits_;
  BaseRules base_rules_;
  std::unordered_map<std::string, std::shared_ptr<PrincipalEntry>> entries_;
  std::unordered_map<std::string, std::string> by_hash_;  // hash -> principal
  CacheStats stats_;
};

}  // namespace pepeunit::authplugin
