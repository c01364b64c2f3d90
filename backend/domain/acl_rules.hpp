// Broker authorization as data: a per-principal rule set (ordered allow/deny topic filters per
// action) that the backend computes and the Mosquitto plugin evaluates locally
// (auth_plugin_anchors.md §6.3, §6.7, §6.9). Caching rules instead of answers is what keeps the
// plugin's per-delivery READ checks in memory. Also the JSON wire format shared by the backend's
// rule-set endpoint, the Redis copy (L2) and the plugin.
//
// Evaluation (decide):
//   - UNSUBSCRIBE is always allowed (a client may always drop what it has);
//   - a superuser set allows everything else;
//   - otherwise rules are tried in order and the first one that applies wins; nothing applies
//     means deny. A rule applies when its action mask has the action and
//       PUBLISH/READ: the topic matches the rule's filter;
//       SUBSCRIBE: an allow rule *contains* the requested filter (filterContains), a deny rule
//       *intersects* it (filtersIntersect: conservative, a subscription that could receive
//       anything a deny rule covers is refused). `$share/<group>/` is stripped first.
//   - `$SYS` (any `$` first level) is never reached through a wildcard first level.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pepeunit::domain {

enum class AclAction : std::uint8_t { kPublish, kSubscribe, kRead, kUnsubscribe };

/// The bit of `action` in AclRule::actions_mask.
constexpr std::uint8_t actionBit(AclAction action) {
  return static_cast<std::uint8_t>(1u << static_cast<unsigned>(action));
}
inline constexpr std::uint8_t kAllActions = 0x0f;

/// "publish", "subscribe", "read", "unsubscribe".
std::string_view actionName(AclAction action);
/// The inverse of actionName; nullopt for anything else.
std::optional<AclAction> parseAclAction(std::string_view name);

struct AclRule {
  bool allow = false;
  std::uint8_t actions_mask = 0;
  std::string filter;

  friend bool operator==(const AclRule&, const AclRule&) = default;
};

struct RuleSet {
  bool superuser = false;
  /// Monotonic per principal; a cache never replaces a rule set with an older one.
  std::uint64_t version = 0;
  std::vector<AclRule> rules;
  /// Freshness (seconds) after which a cache should refetch; 0 = the cache's default.
  std::int64_t ttl_s = 0;
  /// Hard lifetime (seconds) during which a cache may still serve it while refetches fail;
  /// 0 = the cache's default.
  std::int64_t stale_ttl_s = 0;
  /// Unix seconds when the principal's credential expires; 0 = never.
  std::int64_t expires_at = 0;
  /// The backend left out visible nodes (too many to list): a topic the rules deny may still be
  /// allowed, and a cache asks the backend's check endpoint about it.
  bool partial = false;

  friend bool operator==(const RuleSet&, const RuleSet&) = default;
};

/// The decision for `action` on `topic_or_filter` (a topic for PUBLISH/READ, a filter for
/// SUBSCRIBE/UNSUBSCRIBE), by the rules in the header comment. Linear in the rule count.
bool decide(const RuleSet& rules, AclAction action, std::string_view topic_or_filter);

/// The same decisions as decide(), faster for large rule sets: literal filters are looked up in
/// a hash map and only wildcard rules are scanned (for concrete topics and literal filters).
class RuleIndex {
 public:
  explicit RuleIndex(RuleSet rules);
  // The map holds views into rules_: copying would leave them pointing into the source.
  RuleIndex(const RuleIndex&) = delete;
  RuleIndex& operator=(const RuleIndex&) = delete;

  bool decide(AclAction action, std::string_view topic_or_filter) const;
  const RuleSet& rules() const { return rules_; }

 private:
  /// First applicable rule for a concrete topic (or literal filter); SIZE_MAX if none.
  std::size_t firstMatch(AclAction action, std::string_view topic) const;

  RuleSet rules_;
  std::unordered_map<std::string_view, std::vector<std::uint32_t>> literal_;  // views into rules_
  std::vector<std::uint32_t> wildcard_;
};

/// The JSON object of the HTTP contract and the L2 copy:
/// `{"version":N,"ttl":S,"stale_ttl":S,"superuser":B,"expires_at":T?,"partial":B?,
///   "rules":[{"permission":"allow|deny","actions":["publish","subscribe","read"],"filter":"…"}]}`
/// (`"all"` is accepted as an action and means all four). Strict: a missing version or rules
/// array, a negative number, an unknown permission/action, an invalid filter or an unknown key
/// inside a rule (e.g. a qos/retain restriction we would not enforce) rejects the whole set.
std::optional<RuleSet> ruleSetFromJson(const nlohmann::json& json);
/// Same, from text; nullopt for anything that is not such a JSON object.
std::optional<RuleSet> parseRuleSet(std::string_view text);
nlohmann::json ruleSetToJson(const RuleSet& rules);
std::string serializeRuleSet(const RuleSet& rules);

/// True when `now` may allow less than `old` did, so clients holding `old` must be kicked and
/// re-checked. Conservative: it answers false only when it can show that everything `old`
/// allowed is still allowed (now superuser; or both without deny rules and every allow of `old`
/// contained by an allow of `now` for the same action; or `now` = `old` followed only by more
/// allow rules).
bool shrank(const RuleSet& old, const RuleSet& now);

}  // namespace pepeunit::domain
