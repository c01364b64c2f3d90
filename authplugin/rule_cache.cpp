// L1 rule cache: install/expire/evict rule sets and answer checks through the decision LRU.
#include "authplugin/rule_cache.hpp"

#include <algorithm>

#include "authplugin/principal.hpp"

namespace pepeunit::authplugin {
namespace {

using domain::AclAction;
using domain::actionBit;

/// ±10 % of `ttl_ms`, fixed per principal (from its hash) so refreshes of principals loaded
/// together spread out instead of arriving as a wave.
std::int64_t jittered(std::int64_t ttl_ms, std::string_view hash) {
  const unsigned byte =
      hash.size() >= 2 ? std::stoul(std::string(hash.substr(0, 2)), nullptr, 16) : 128u;  // 0..255
  const std::int64_t spread = ttl_ms / 10;
  return ttl_ms - spread + (2 * spread * static_cast<std::int64_t>(byte)) / 255;
}

}  // namespace

// ---- DecisionLru ------------------------------------------------------------------------------

std::optional<bool> DecisionLru::find(AclAction action, std::string_view topic) {
  const auto it = index_.find(topic);
  if (it == index_.end() || (it->second->known & actionBit(action)) == 0) {
    return std::nullopt;
  }
  if (it->second != order_.begin()) {
    order_.splice(order_.begin(), order_, it->second);
  }
  return (it->second->allowed & actionBit(action)) != 0;
}

void DecisionLru::remember(AclAction action, std::string_view topic, bool allow) {
  if (capacity_ == 0) {
    return;
  }
  auto it = index_.find(topic);
  if (it == index_.end()) {
    if (index_.size() >= capacity_) {
      index_.erase(std::string_view(order_.back().topic));
      order_.pop_back();
    }
    order_.push_front(Node{std::string(topic), 0, 0});
    it = index_.emplace(std::string_view(order_.front().topic), order_.begin()).first;
  } else if (it->second != order_.begin()) {
    order_.splice(order_.begin(), order_, it->second);
  }
  Node& node = *it->second;
  node.known |= actionBit(action);
  if (allow) {
    node.allowed |= actionBit(action);
  } else {
    node.allowed &= static_cast<std::uint8_t>(~actionBit(action));
  }
}

void DecisionLru::clear() {
  index_.clear();
  order_.clear();
}

// ---- RuleCache --------------------------------------------------------------------------------

PrincipalEntry::PrincipalEntry(std::string principal_id, std::size_t decision_capacity)
    : principal(std::move(principal_id)),
      hash(principalHash(principal)),
      decisions(decision_capacity) {}

std::string remoteDecisionKey(AclAction action, std::string_view topic) {
  std::string key(1, static_cast<char>('0' + static_cast<int>(action)));
  key += topic;
  return key;
}

std::pair<AclAction, std::string_view> splitRemoteDecisionKey(std::string_view key) {
  return {static_cast<AclAction>(key[0] - '0'), key.substr(1)};
}

RuleCache::RuleCache(Limits limits, BaseRules base_rules)
    : limits_(limits), base_rules_(std::move(base_rules)) {}

std::shared_ptr<PrincipalEntry> RuleCache::find(std::string_view principal) const {
  const auto it = entries_.find(std::string(principal));
  return it == entries_.end() ? nullptr : it->second;
}

std::shared_ptr<PrincipalEntry> RuleCache::findByHash(std::string_view hash) const {
  const auto it = by_hash_.find(std::string(hash));
  return it == by_hash_.end() ? nullptr : find(it->second);
}

std::shared_ptr<PrincipalEntry> RuleCache::getOrCreate(std::string_view principal,
                                                       std::int64_t now_ms) {
  auto entry = find(principal);
  if (!entry) {
    entry = std::make_shared<PrincipalEntry>(std::string(principal), limits_.decision_cache_size);
    entry->last_used_ms = now_ms;
    by_hash_[entry->hash] = entry->principal;
    entries_[entry->principal] = entry;
  }
  return entry;
}

RuleCache::InstallOutcome RuleCache::install(PrincipalEntry& entry,
                                             std::shared_ptr<const domain::RuleSet> rules,
                                             std::int64_t now_ms) {
  InstallOutcome outcome;
  if (entry.state == PrincipalEntry::State::kRules && entry.rules &&
      rules->version < entry.rules->version) {
    return outcome;
  }
  outcome.installed = true;
  outcome.shrank = entry.state == PrincipalEntry::State::kRules && entry.rules &&
                   domain::shrank(*entry.rules, *rules);

  domain::RuleSet effective;
  effective.superuser = rules->superuser;
  effective.version = rules->version;
  if (base_rules_) {
    effective.rules = base_rules_(entry.principal);
  }
  effective.rules.insert(effective.rules.end(), rules->rules.begin(), rules->rules.end());

  const std::int64_t ttl_ms = rules->ttl_s > 0 ? rules->ttl_s * 1000 : limits_.ttl_ms;
  const std::int64_t stale_ms =
      std::max(ttl_ms, rules->stale_ttl_s > 0 ? rules->stale_ttl_s * 1000 : limits_.stale_ttl_ms);

  entry.index = std::make_shared<const domain::RuleIndex>(std::move(effective));
  entry.rules = std::move(rules);
  entry.state = PrincipalEntry::State::kRules;
  entry.loaded_ms = now_ms;
  entry.refresh_at_ms = now_ms + jittered(ttl_ms, entry.hash);
  entry.stale_until_ms = now_ms + stale_ms;
  entry.negative_until_ms = 0;
  entry.consecutive_failures = 0;
  entry.retry_at_ms = 0;
  entry.decisions.clear();
  return outcome;
}

void RuleCache::installLocal(PrincipalEntry& entry, domain::RuleSet rules, std::int64_t now_ms) {
  auto shared = std::make_shared<const domain::RuleSet>(std::move(rules));
  entry.index = std::make_shared<const domain::RuleIndex>(*shared);
  entry.rules = std::move(shared);
  entry.state = PrincipalEntry::State::kRules;
  entry.local = true;
  entry.loaded_ms = now_ms;
  entry.decisions.clear();
}

void RuleCache::markNegative(PrincipalEntry& entry, std::int64_t now_ms) {
  entry.state = PrincipalEntry::State::kNegative;
  entry.rules.reset();
  entry.index.reset();
  entry.negative_until_ms = now_ms + limits_.negative_ttl_ms;
  entry.decisions.clear();
  entry.remote.clear();
}

void RuleCache::rememberRemote(PrincipalEntry& entry, std::string key, RemoteDecision decision,
                               std::int64_t now_ms) const {
  if (limits_.remote_decisions == 0) {
    return;
  }
  if (entry.remote.size() >= limits_.remote_decisions && !entry.remote.contains(key)) {
    std::erase_if(entry.remote,
                  [now_ms](const auto& item) { return item.second.until_ms <= now_ms; });
    if (entry.remote.size() >= limits_.remote_decisions) {
      entry.remote.erase(entry.remote.begin());
    }
  }
  entry.remote[std::move(key)] = decision;
}

void RuleCache::erase(const std::string& principal) {
  const auto it = entries_.find(principal);
  if (it == entries_.end()) {
    return;
  }
  by_hash_.erase(it->second->hash);
  entries_.erase(it);
}

RuleCache::Verdict RuleCache::check(PrincipalEntry& entry, AclAction action, std::string_view topic,
                                    std::int64_t now_ms) {
  if (entry.state != PrincipalEntry::State::kRules) {
    ++stats_.cold_denied;
    return Verdict::kNoRules;
  }
  if (!entry.local) {
    if (now_ms >= entry.stale_until_ms) {
      ++stats_.expired_denied;
      return Verdict::kExpired;
    }
    if (now_ms >= entry.refresh_at_ms) {
      ++stats_.stale_served;
    }
  }
  if (const auto known = entry.decisions.find(action, topic)) {
    ++stats_.decision_hits;
    return *known ? Verdict::kAllow : Verdict::kDeny;
  }
  ++stats_.decision_misses;
  const bool allow = entry.index->decide(action, topic);
  entry.decisions.remember(action, topic, allow);
  return allow ? Verdict::kAllow : Verdict::kDeny;
}

std::size_t RuleCache::evict(std::int64_t now_ms) {
  std::size_t removed = 0;
  std::vector<std::string> doomed;
  for (const auto& [principal, entry] : entries_) {
    if (entry->connections > 0 || entry->local) {
      continue;
    }
    const bool useless =
        (entry->state == PrincipalEntry::State::kNegative && now_ms >= entry->negative_until_ms) ||
        (entry->state == PrincipalEntry::State::kRules && now_ms >= entry->stale_until_ms) ||
        (entry->state == PrincipalEntry::State::kLoading && !entry->fetch_pending);
    if (useless) {
      doomed.push_back(principal);
    }
  }
  for (const auto& principal : doomed) {
    erase(principal);
    ++removed;
  }
  if (entries_.size() <= limits_.max_principals) {
    return removed;
  }
  std::vector<std::pair<std::int64_t, std::string>> idle;
  for (const auto& [principal, entry] : entries_) {
    if (entry->connections == 0 && !entry->local && !entry->fetch_pending) {
      idle.emplace_back(entry->last_used_ms, principal);
    }
  }
  std::sort(idle.begin(), idle.end());
  const std::size_t excess = entries_.size() - limits_.max_principals;
  for (std::size_t i = 0; i < idle.size() && i < excess; ++i) {
    erase(idle[i].second);
    ++removed;
  }
  return removed;
}

void RuleCache::forEach(const std::function<void(PrincipalEntry&)>& visit) {
  for (auto& [principal, entry] : entries_) {
    visit(*entry);
  }
}

}  // namespace pepeunit::authplugin
