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
// first); beyond the cap they are denied until the set is recomputed. Own and linked nodes are
// never capped.
// Version: milliseconds since the epoch at computation time, forced strictly increasing within
// the process: every change yields a larger version than any set computed before it.
// TTL: Options::ttl_s, shortened to the next expiry of a time-limited node grant, so an expired
// grant stops counting at the plugin's next refresh; the stale ttl is capped the same way.
// `backend` is a superuser (D/#).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

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
  };

  static constexpr std::string_view kBackendPrincipal = "backend";
  static constexpr std::string_view kUnitPrefix = "unit:";

  /// `publisher` may be null (no Redis write-through / events).
  AclService(store::AclStore& store, cache::AclPublisher* publisher, Options options, Clock clock);

  /// `unit:<uuid>` of an existing unit, or `backend`; nullopt for anything else (→ 404).
  std::optional<domain::RuleSet> ruleSetForPrincipal(std::string_view principal);
  /// nullopt when the unit does not exist.
  std::optional<domain::RuleSet> ruleSetFor(const domain::Uuid& unit);
  domain::RuleSet backendRuleSet();

  /// The EMQX hook's decision for a Unit: `topic` must be a concrete topic (any `+`/`#` is
  /// denied) allowed for at least one of publish/subscribe/read (EMQX does not send the
  /// action). An unknown unit is denied.
  bool unitMayUse(const domain::Uuid& unit, std::string_view topic);
  /// True for a valid, unexpired `{"type":"Backend","domain":<ours>}` token.
  bool isBackendToken(std::string_view token) const;

  /// After a change that affects `unit`'s access: recomputes its set, stores it and announces
  /// it with `kind`; announces "deleted" when the unit no longer exists. Never throws (a Redis
  /// failure is logged: the plugin's TTL still bounds staleness).
  void accessChanged(const domain::Uuid& unit, cache::AclChangeKind kind) override;
  /// After a change whose affected units are not cheaply known. Never throws.
  void everythingChanged() override;

  /// SHA-256 hex of a principal id: the only form that appears in Redis.
  static std::string principalHash(std::string_view principal);
  static std::string unitPrincipal(const domain::Uuid& unit);

 private:
  std::uint64_t nextVersion();

  store::AclStore& store_;
  cache::AclPublisher* publisher_;
  Options options_;
  Clock clock_;
  std::atomic<std::uint64_t> last_version_{0};
};

}  // namespace pepeunit::service
