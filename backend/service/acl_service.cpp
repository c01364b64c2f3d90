// Rule sets for the broker plugin and the EMQX hook; see the header for the rules.
#include "service/acl_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <unordered_map>
#include <vector>

#include "crypto/digest.hpp"
#include "crypto/jwt.hpp"
#include "domain/topic.hpp"

namespace pepeunit::service {
namespace {

using domain::AclAction;
using domain::AclRule;
using domain::actionBit;
using domain::RuleSet;

constexpr std::uint8_t kPublish = actionBit(AclAction::kPublish);
constexpr std::uint8_t kReceive = actionBit(AclAction::kSubscribe) | actionBit(AclAction::kRead);

/// Per-node action masks in first-seen order (so the output is deterministic).
class NodeMasks {
 public:
  void add(const domain::Uuid& node, std::uint8_t mask) {
    auto key = node.toString();
    const auto [it, inserted] = index_.emplace(key, order_.size());
    if (inserted) {
      order_.emplace_back(std::move(key), mask);
    } else {
      order_[it->second].second |= mask;
    }
  }
  const std::vector<std::pair<std::string, std::uint8_t>>& order() const { return order_; }

 private:
  std::unordered_map<std::string, std::size_t> index_;
  std::vector<std::pair<std::string, std::uint8_t>> order_;
};

}  // namespace

AclService::AclService(store::AclStore& store, cache::AclPublisher* publisher, Options options,
                       Clock clock)
    : store_(store),
      publisher_(publisher),
      options_(std::move(options)),
      clock_(std::move(clock)),
      lapse_checked_until_(clock_()) {}

std::string AclService::principalHash(std::string_view principal) {
  return crypto::toHex(crypto::sha256(principal));
}

std::string AclService::unitPrincipal(const domain::Uuid& unit) {
  return std::string(kUnitPrefix) + unit.toString();
}

std::uint64_t AclService::nextVersion() {
  const auto now_ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  auto last = last_version_.load();
  std::uint64_t next = 0;
  do {
    next = std::max(now_ms, last + 1);
  } while (!last_version_.compare_exchange_weak(last, next));
  return next;
}

RuleSet AclService::backendRuleSet() {
  RuleSet rules;
  rules.superuser = true;
  rules.version = nextVersion();
  rules.ttl_s = options_.ttl_s;
  rules.stale_ttl_s = options_.stale_ttl_s;
  rules.rules.push_back(AclRule{true, domain::kAllActions, options_.domain + "/#"});
  return rules;
}

std::optional<RuleSet> AclService::ruleSetForPrincipal(std::string_view principal) {
  if (principal == kBackendPrincipal) {
    return backendRuleSet();
  }
  if (!principal.starts_with(kUnitPrefix)) {
    return std::nullopt;
  }
  const auto unit = domain::Uuid::parse(principal.substr(kUnitPrefix.size()));
  if (!unit) {
    return std::nullopt;
  }
  return ruleSetFor(*unit);
}

std::optional<RuleSet> AclService::ruleSetFor(const domain::Uuid& unit) {
  const auto set = cachedSet(unit);
  if (!set) {
    return std::nullopt;
  }
  return set->rules();
}

std::shared_ptr<const std::string> AclService::serializedRuleSetForPrincipal(
    std::string_view principal) {
  if (principal == kBackendPrincipal) {
    return std::make_shared<const std::string>(domain::serializeRuleSet(backendRuleSet()));
  }
  if (!principal.starts_with(kUnitPrefix)) {
    return nullptr;
  }
  const auto unit = domain::Uuid::parse(principal.substr(kUnitPrefix.size()));
  if (!unit) {
    return nullptr;
  }
  const auto set = cachedSet(*unit);
  return set ? set->json : nullptr;
}

std::optional<AclService::CachedSet> AclService::cachedSet(const domain::Uuid& unit) {
  const std::int64_t now = clock_();
  const bool caching = options_.cache_ttl_s > 0 && remote_live_.load();
  std::uint64_t generation = 0;
  if (caching) {
    std::shared_lock lock(cache_mutex_);
    if (const auto it = cache_.find(unit); it != cache_.end() && now < it->second.valid_until) {
      return it->second;
    }
    generation = generation_;
  }
  auto rules = computeRuleSet(unit, now);
  if (!rules) {
    return std::nullopt;
  }
  CachedSet set;
  set.json = std::make_shared<const std::string>(domain::serializeRuleSet(*rules));
  set.valid_until = now + std::min(options_.cache_ttl_s, rules->ttl_s);
  set.set = std::make_shared<const IndexedSet>(std::move(*rules));
  if (caching) {
    std::unique_lock lock(cache_mutex_);
    if (generation == generation_) {  // no change was announced while we read
      if (cache_.size() >= options_.cache_max_entries) {
        cache_.clear();
      }
      cache_[unit] = set;
    }
  }
  return set;
}

void AclService::invalidate(const domain::Uuid* unit) {
  std::unique_lock lock(cache_mutex_);
  ++generation_;
  if (unit != nullptr) {
    cache_.erase(*unit);
  } else {
    cache_.clear();
  }
}

std::size_t AclService::announceLapsedGrants() {
  std::lock_guard lock(lapse_mutex_);
  const std::int64_t now = clock_();
  if (now <= lapse_checked_until_) {
    return 0;
  }
  std::vector<domain::Uuid> units;
  try {
    units = store_.unitsWithGrantsLapsed(lapse_checked_until_, now);
  } catch (const std::exception& e) {
    spdlog::warn("acl: lapsed grants not checked: {}", e.what());
    return 0;  // the window stays open: the next call covers it
  }
  lapse_checked_until_ = now;
  for (const auto& unit : units) {
    accessChanged(unit, cache::AclChangeKind::kRevoke);
  }
  return units.size();
}

void AclService::forgetCachedRuleSets() {
  invalidate(nullptr);
}

void AclService::setRemoteInvalidationLive(bool live) {
  remote_live_ = live;
  invalidate(nullptr);
}

std::optional<RuleSet> AclService::computeRuleSet(const domain::Uuid& unit, std::int64_t now) {
  // The version is taken BEFORE the read: a change committed after it gets a larger version,
  // so a cache holding this set still accepts the newer one announced for that change.
  const std::uint64_t version = nextVersion();
  const auto facts = store_.factsFor(unit, now, options_.max_visible_nodes);
  if (!facts) {
    return std::nullopt;
  }
  if (facts->truncated) {
    spdlog::info("acl: unit {} sees more than {} foreign nodes; the rest is checked per topic",
                 unit.toString(), options_.max_visible_nodes);
  }
  const std::string& d = options_.domain;
  const std::string u = unit.toString();
  RuleSet rules;
  rules.version = version;
  rules.rules.push_back(AclRule{true, kPublish, d + "/output_base_topic/" + u + "/+/pepeunit"});
  rules.rules.push_back(AclRule{true, kReceive, d + "/input_base_topic/" + u + "/+/pepeunit"});

  NodeMasks masks;
  for (const auto& node : facts->own_nodes) {
    masks.add(node.uuid, node.type == domain::UnitNodeType::kOutput
                             ? static_cast<std::uint8_t>(kPublish | kReceive)
                             : kReceive);
  }
  for (const auto& output : facts->linked_outputs) {
    masks.add(output, kReceive);
  }
  for (const auto& node : facts->visible_nodes) {
    const bool writable = node.type == domain::UnitNodeType::kInput && node.is_rewritable_input;
    masks.add(node.uuid, writable ? static_cast<std::uint8_t>(kPublish | kReceive) : kReceive);
  }
  rules.rules.reserve(rules.rules.size() + masks.order().size() * 2);
  for (const auto& [node, mask] : masks.order()) {
    std::string topic = d;
    topic += '/';
    topic += node;
    std::string with_suffix = topic;
    with_suffix += "/pepeunit";
    rules.rules.push_back(AclRule{true, mask, std::move(topic)});
    rules.rules.push_back(AclRule{true, mask, std::move(with_suffix)});
  }

  std::int64_t ttl = options_.ttl_s;
  std::int64_t stale = options_.stale_ttl_s;
  if (facts->next_grant_expiry) {
    const std::int64_t left = std::max<std::int64_t>(1, *facts->next_grant_expiry - now);
    ttl = std::min(ttl, left);
    stale = std::min(stale, left);
  }
  rules.ttl_s = ttl;
  rules.stale_ttl_s = std::max(stale, ttl);
  rules.partial = facts->truncated;
  return rules;
}

bool AclService::unitMayUse(const domain::Uuid& unit, std::string_view topic) {
  if (!domain::isValidMqttTopic(topic)) {
    return false;  // wildcards, empty, NUL: the hook decides concrete topics only
  }
  const auto read = checkTopic(unitPrincipal(unit), AclAction::kRead, topic);
  if (!read || read->allow) {
    return read.has_value();
  }
  // Whatever the node lookup of a partial set could add is readable, so it was asked above;
  // only the rule set itself can still allow publishing or subscribing here.
  const auto set = cachedSet(unit);
  return set && (set->set->index().decide(AclAction::kPublish, topic) ||
                 set->set->index().decide(AclAction::kSubscribe, topic));
}

std::optional<AclService::TopicDecision> AclService::checkTopic(std::string_view principal,
                                                                AclAction action,
                                                                std::string_view topic) {
  if (principal == kBackendPrincipal) {
    const domain::RuleIndex index(backendRuleSet());
    return TopicDecision{index.decide(action, topic), options_.ttl_s};
  }
  if (!principal.starts_with(kUnitPrefix)) {
    return std::nullopt;
  }
  const auto unit = domain::Uuid::parse(principal.substr(kUnitPrefix.size()));
  if (!unit) {
    return std::nullopt;
  }
  const auto set = cachedSet(*unit);
  if (!set) {
    return std::nullopt;
  }
  TopicDecision decision{set->set->index().decide(action, topic), set->rules().ttl_s};
  if (decision.allow || !set->rules().partial || action == AclAction::kUnsubscribe) {
    return decision;
  }
  // A node the capped set may have left out: its visibility decides (as computeRuleSet would).
  const auto inner = action == AclAction::kSubscribe ? domain::stripSharePrefix(topic) : topic;
  if (!inner) {
    return decision;
  }
  const auto parsed = domain::parsePepeunitTopic(*inner, options_.domain);
  const auto* node_topic = std::get_if<domain::NodeTopic>(&parsed);
  if (node_topic == nullptr) {
    return decision;
  }
  const auto node = store_.visibleForeignNode(*unit, node_topic->node, clock_());
  decision.allow =
      node && (action != AclAction::kPublish ||
               (node->type == domain::UnitNodeType::kInput && node->is_rewritable_input));
  return decision;
}

bool AclService::isBackendToken(std::string_view token) const {
  const auto verified = crypto::verifyJwt(token, options_.secret_key, clock_());
  if (!verified.ok() || !verified.payload.is_object()) {
    return false;
  }
  const auto& claims = verified.payload;
  const auto type = claims.find("type");
  const auto domain = claims.find("domain");
  return type != claims.end() && type->is_string() && *type == "Backend" &&
         domain != claims.end() && domain->is_string() && *domain == options_.domain;
}

void AclService::accessChanged(const domain::Uuid& unit, cache::AclChangeKind kind) {
  invalidate(&unit);  // before the recomputation below, which must read the change
  if (publisher_ == nullptr) {
    return;
  }
  const std::string hash = principalHash(unitPrincipal(unit));
  try {
    const auto set = cachedSet(unit);
    if (!set) {
      publisher_->publishDeleted(hash, nextVersion());
      return;
    }
    publisher_->publishRules(hash, *set->json, set->rules().version,
                             std::chrono::seconds(set->rules().stale_ttl_s), kind);
  } catch (const std::exception& e) {
    spdlog::warn("acl: could not publish the rule set of a unit: {}", e.what());
  }
}

void AclService::everythingChanged() {
  invalidate(nullptr);
  if (publisher_ == nullptr) {
    return;
  }
  try {
    publisher_->publishAll(nextVersion());
  } catch (const std::exception& e) {
    spdlog::warn("acl: could not publish a global invalidation: {}", e.what());
  }
}

}  // namespace pepeunit::service
