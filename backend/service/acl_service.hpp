// Broker authorization, backend side (issue 6 item 2; auth_plugin_anchors.md §6.3–§6.5, §6.9;
// pepeunit_backend_spec.md §4.2–§4.3; DESIGN §4): computes the rule set of a principal for the
// Mosquitto plugin, decides single topics for the EMQX-compatible hook, and pushes new rule sets
// plus invalidation events to Redis after changes that affect access.
//
// Rule set of `unit:<U>` (all rules "allow", literal filters except the two base topics; first
// match wins, default deny, so the order does not matter):
//   * publish                 D/output_base_topic/U/+/pepeunit
//   * subscribe, read         D/input_base_topic/U/+/pepeunit
//   * own Output node N       publish, subscribe, read   on D/N and D/N/pepeunit
//   * own Input node N        subscribe, read. NOT publish: a device only consumes its inputs;
//                             writes come from the backend or from linked/rewriting units.
//   * linked Output N (edge into one of U's inputs)            subscribe, read
//   * visible node N of another unit (Public, Internal, Private with an active grant)
//                             subscribe, read; plus publish when N is an Input with
//                             is_rewritable_input
// Visible foreign nodes are capped (Options::max_visible_nodes, default 10 000, explicit grants
// first); a capped set says `partial`, and the plugin asks checkTopic about the node topics it
// does not list. Own and linked nodes are never capped.
// Version: milliseconds since the epoch at computation time, forced strictly increasing within
// the process: every change yields a larger version than any set computed before it.
// TTL: Options::ttl_s, shortened to the next expiry of a time-limited node grant, so an expired
// grant stops counting at the plugin's next refresh; the stale ttl is capped the same way.
// `backend` is a superuser (D/#).
// Cache: computed unit sets are remembered for Options::cache_ttl_s (never past their own ttl,
// so a grant's expiry still counts) while remote invalidation is live, i.e. while this process
// hears the Redis events of every backend instance (setRemoteInvalidationLive). Any change
// announced here or there drops what may be stale; a set computed from a read that raced with a
// change is not kept (a generation counter decides).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cache/acl_publisher.hpp"
#include "domain/acl_rules.hpp"
#include "domain/uuid.hpp"
#include "service/access_events.hpp"
#include "store/acl_store.hpp"

namespace pepeunit::service {

class AclService : public AccessEvents {
 public:
  using Clock = std::function<std::int64_t()>;  // unix seconds

  struct Options {
    std::string domain;
    /// BACKEND_SECRET_KEY: verifies the backend's own MQTT token for the EMQX hook.
    std::string secret_key;
    std::int64_t ttl_s = 300;
    std::int64_t stale_ttl_s = 3600;
    std::size_t max_visible_nodes = 10000;
    /// 0: every request reads Postgres.
    std::int64_t cache_ttl_s = 10;
    std::size_t cache_max_entries = 100000;
  };

  static constexpr std::string_view kBackendPrincipal = "backend";
  static constexpr std::string_view kUnitPrefix = "unit:";

  /// `publisher` may be null (no Redis write-through / events).
  AclService(store::AclStore& store, cache::AclPublisher* publisher, Options options, Clock clock);

  /// `unit:<uuid>` of an existing unit, or `backend`; nullopt for anything else (→ 404).
  std::optional<domain::RuleSet> ruleSetForPrincipal(std::string_view principal);
  /// nullopt when the unit does not exist.
  std::optional<domain::RuleSet> ruleSetFor(const domain::Uuid& unit);
  /// ruleSetForPrincipal as the wire JSON (domain::serializeRuleSet), serialized once per
  /// cached set: what the rule-set endpoint sends. nullptr for anything else (→ 404).
  std::shared_ptr<const std::string> serializedRuleSetForPrincipal(std::string_view principal);
  domain::RuleSet backendRuleSet();

  /// The EMQX hook's decision for a Unit: `topic` must be a concrete topic (any `+`/`#` is
  /// denied) allowed for at least one of publish/subscribe/read (EMQX does not send the
  /// action). An unknown unit is denied.
  bool unitMayUse(const domain::Uuid& unit, std::string_view topic);
  struct TopicDecision {
    bool allow = false;
    std::int64_t ttl_s = 0;  ///< how long a cache may keep the answer
  };
  /// The check endpoint's decision for one action of a principal (as ruleSetForPrincipal) on a
  /// topic or filter: by its rule set, and for a node topic that a partial set leaves out, by
  /// the node's visibility (uncapped). nullopt for an unknown principal (→ 404).
  std::optional<TopicDecision> checkTopic(std::string_view principal, domain::AclAction action,
                                          std::string_view topic);

  /// True for a valid, unexpired `{"type":"Backend","domain":<ours>}` token.
  bool isBackendToken(std::string_view token) const;

  /// After a change that affects `unit`'s access: recomputes its set, stores it and announces
  /// it with `kind`; announces "deleted" when the unit no longer exists. Never throws (a Redis
  /// failure is logged: the plugin's TTL still bounds staleness).
  void accessChanged(const domain::Uuid& unit, cache::AclChangeKind kind) override;
  /// After a change whose affected units are not cheaply known. Never throws.
  void everythingChanged() override;

  /// Announces (accessChanged, kRevoke) every unit whose time-limited grant lapsed since the
  /// previous call (the first call starts the window at construction time). Called about once a
  /// second by the backend; returns how many units were announced. Never throws.
  std::size_t announceLapsedGrants();

  /// Another instance (or we) announced a change on Redis: drop every cached set.
  void forgetCachedRuleSets();
  /// Whether this process currently hears those announcements; the cache is used only then.
  /// Switching either way drops what is cached.
  void setRemoteInvalidationLive(bool live);

  /// SHA-256 hex of a principal id: the only form that appears in Redis.
  static std::string principalHash(std::string_view principal);
  static std::string unitPrincipal(const domain::Uuid& unit);

 private:
  /// A computed set with its index, built on the first decision only: most sets are only ever
  /// sent to a plugin, and the index costs about as much as computing the set.
  class IndexedSet {
   public:
    explicit IndexedSet(domain::RuleSet rules) : rules_(std::move(rules)) {}
    const domain::RuleSet& rules() const { return rules_; }
    const domain::RuleIndex& index() const {
      std::call_once(built_, [this] { index_ = std::make_unique<domain::RuleIndex>(rules_); });
      return *index_;
    }

   private:
    domain::RuleSet rules_;
    mutable std::once_flag built_;
    mutable std::unique_ptr<domain::RuleIndex> index_;
  };
  /// Shared, so a cache hit copies two pointers instead of a rule vector.
  struct CachedSet {
    std::shared_ptr<const IndexedSet> set;
    std::shared_ptr<const std::string> json;  // domain::serializeRuleSet(rules), made once
    std::int64_t valid_until = 0;             // unix seconds
    const domain::RuleSet& rules() const { return set->rules(); }
  };

  std::uint64_t nextVersion();
  std::optional<domain::RuleSet> computeRuleSet(const domain::Uuid& unit, std::int64_t now);
  /// From the cache when live and fresh, else computed (and cached when live); nullopt when the
  /// unit does not exist.
  std::optional<CachedSet> cachedSet(const domain::Uuid& unit);
  /// Drops `unit`'s cached set, or every set when `unit` is null.
  void invalidate(const domain::Uuid* unit);

  store::AclStore& store_;
  cache::AclPublisher* publisher_;
  Options options_;
  Clock clock_;
  std::atomic<std::uint64_t> last_version_{0};
  std::mutex lapse_mutex_;
  std::int64_t lapse_checked_until_ = 0;  // unix seconds, guarded by lapse_mutex_

  std::atomic<bool> remote_live_{false};
  std::shared_mutex cache_mutex_;
  std::unordered_map<domain::Uuid, CachedSet> cache_;  // guarded by cache_mutex_
  std::uint64_t generation_ = 0;                       // guarded by cache_mutex_
};

}  // namespace pepeunit::service
