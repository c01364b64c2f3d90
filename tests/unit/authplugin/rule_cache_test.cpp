// L1 rule cache: decision LRU, install ordering and shrink detection, base rules, freshness and
// expiry verdicts, eviction of unreferenced entries.
#include "authplugin/rule_cache.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "authplugin/principal.hpp"

namespace ap = pepeunit::authplugin;
namespace pd = pepeunit::domain;
using pd::AclAction;
using Verdict = ap::RuleCache::Verdict;

namespace {

constexpr std::uint8_t kPub = pd::actionBit(AclAction::kPublish);
constexpr std::uint8_t kSub = pd::actionBit(AclAction::kSubscribe);

std::shared_ptr<const pd::RuleSet> ruleSet(std::uint64_t version, std::vector<pd::AclRule> rules,
                                           std::int64_t ttl_s = 0) {
  auto set = std::make_shared<pd::RuleSet>();
  set->version = version;
  set->rules = std::move(rules);
  set->ttl_s = ttl_s;
  return set;
}

ap::RuleCache makeCache(ap::RuleCache::Limits limits = {}) {
  return ap::RuleCache(limits, [](std::string_view principal) {
    std::vector<pd::AclRule> base;
    if (principal == "unit:u1") {
      base.push_back(pd::AclRule{true, kPub, "D/own/#"});
    }
    return base;
  });
}

}  // namespace

TEST_CASE("authplugin/rule_cache: DecisionLru keeps the most recent topics, per action") {
  ap::DecisionLru lru(2);
  CHECK_FALSE(lru.find(AclAction::kRead, "a").has_value());
  lru.remember(AclAction::kRead, "a", true);
  lru.remember(AclAction::kPublish, "a", false);
  CHECK(lru.find(AclAction::kRead, "a") == std::optional<bool>(true));
  CHECK(lru.find(AclAction::kPublish, "a") == std::optional<bool>(false));
  CHECK_FALSE(lru.find(AclAction::kSubscribe, "a").has_value());
  lru.remember(AclAction::kRead, "b", false);
  CHECK(lru.find(AclAction::kRead, "a").has_value());  // a is now the most recent
  lru.remember(AclAction::kRead, "c", true);           // evicts b
  CHECK_FALSE(lru.find(AclAction::kRead, "b").has_value());
  CHECK(lru.find(AclAction::kRead, "a").has_value());
  CHECK(lru.find(AclAction::kRead, "c").has_value());
  CHECK(lru.size() == 2);
  lru.clear();
  CHECK(lru.size() == 0);
  ap::DecisionLru off(0);
  off.remember(AclAction::kRead, "a", true);
  CHECK_FALSE(off.find(AclAction::kRead, "a").has_value());
}

TEST_CASE("authplugin/rule_cache: install, base rules first, verdicts and counters") {
  auto cache = makeCache();
  auto entry = cache.getOrCreate("unit:u1", 0);
  CHECK(entry->hash == ap::principalHash("unit:u1"));
  CHECK(cache.findByHash(entry->hash) == entry);
  CHECK(cache.check(*entry, AclAction::kPublish, "D/own/x", 0) == Verdict::kNoRules);

  const auto outcome = cache.install(*entry, ruleSet(1, {{true, kSub, "D/node"}}), 0);
  CHECK(outcome.installed);
  CHECK_FALSE(outcome.shrank);
  CHECK(cache.check(*entry, AclAction::kPublish, "D/own/x", 0) == Verdict::kAllow);  // base rule
  CHECK(cache.check(*entry, AclAction::kSubscribe, "D/node", 0) == Verdict::kAllow);
  CHECK(cache.check(*entry, AclAction::kSubscribe, "D/other", 0) == Verdict::kDeny);
  CHECK(cache.check(*entry, AclAction::kSubscribe, "D/node", 0) == Verdict::kAllow);
  CHECK(cache.stats().decision_hits == 1);
  CHECK(cache.stats().decision_misses == 3);
  CHECK(cache.stats().cold_denied == 1);
}

TEST_CASE("authplugin/rule_cache: older versions are ignored, shrinking is reported") {
  auto cache = makeCache();
  auto entry = cache.getOrCreate("unit:u2", 0);
  cache.install(*entry, ruleSet(5, {{true, kSub, "D/a"}, {true, kSub, "D/b"}}), 0);
  CHECK(cache.check(*entry, AclAction::kSubscribe, "D/b", 0) == Verdict::kAllow);

  CHECK_FALSE(cache.install(*entry, ruleSet(4, {}), 0).installed);
  CHECK(cache.check(*entry, AclAction::kSubscribe, "D/b", 0) == Verdict::kAllow);

  const auto grow = cache.install(*entry, ruleSet(6, {{true, kSub, "D/#"}}), 0);
  CHECK(grow.installed);
  CHECK_FALSE(grow.shrank);
  const auto shrink = cache.install(*entry, ruleSet(7, {{true, kSub, "D/a"}}), 0);
  CHECK(shrink.shrank);
  // the decision LRU was cleared: the old "allow" for D/b is gone
  CHECK(cache.check(*entry, AclAction::kSubscribe, "D/b", 0) == Verdict::kDeny);
}

TEST_CASE("authplugin/rule_cache: ttl with jitter, stale serving, expiry") {
  ap::RuleCache::Limits limits;
  limits.ttl_ms = 10'000;
  limits.stale_ttl_ms = 60'000;
  auto cache = makeCache(limits);
  auto entry = cache.getOrCreate("unit:u3", 1000);
  cache.install(*entry, ruleSet(1, {{true, kPub, "D/x"}}), 1000);
  CHECK(entry->refresh_at_ms >= 1000 + 9'000);
  CHECK(entry->refresh_at_ms <= 1000 + 11'000);
  CHECK(entry->stale_until_ms == 61'000);
  CHECK(cache.check(*entry, AclAction::kPublish, "D/x", 20'000) == Verdict::kAllow);
  CHECK(cache.stats().stale_served == 1);
  CHECK(cache.check(*entry, AclAction::kPublish, "D/x", 61'000) == Verdict::kExpired);
  CHECK(cache.stats().expired_denied == 1);

  // A rule set may carry its own ttl.
  auto other = cache.getOrCreate("unit:u4", 0);
  cache.install(*other, ruleSet(1, {}, /*ttl_s=*/2), 0);
  CHECK(other->refresh_at_ms <= 2'200);
}

TEST_CASE("authplugin/rule_cache: local rule sets never expire, negative entries deny") {
  auto cache = makeCache();
  auto backend = cache.getOrCreate("backend", 0);
  pd::RuleSet set;
  set.rules.push_back({true, pd::kAllActions, "D/#"});
  cache.installLocal(*backend, set, 0);
  CHECK(cache.check(*backend, AclAction::kPublish, "D/x", 1'000'000'000) == Verdict::kAllow);

  auto gone = cache.getOrCreate("unit:gone", 0);
  cache.install(*gone, ruleSet(1, {{true, kPub, "D/x"}}), 0);
  cache.markNegative(*gone, 0);
  CHECK(gone->state == ap::PrincipalEntry::State::kNegative);
  CHECK(cache.check(*gone, AclAction::kPublish, "D/x", 0) == Verdict::kNoRules);
}

TEST_CASE("authplugin/rule_cache: eviction spares connected and local principals") {
  ap::RuleCache::Limits limits;
  limits.negative_ttl_ms = 1000;
  limits.stale_ttl_ms = 5000;
  limits.ttl_ms = 5000;
  limits.max_principals = 4;
  auto cache = makeCache(limits);

  auto negative = cache.getOrCreate("unit:neg", 0);
  cache.markNegative(*negative, 0);
  auto connected = cache.getOrCreate("unit:conn", 0);
  cache.install(*connected, ruleSet(1, {}), 0);
  connected->connections = 1;
  auto local = cache.getOrCreate("backend", 0);
  cache.installLocal(*local, pd::RuleSet{}, 0);
  auto loading = cache.getOrCreate("unit:loading", 0);
  loading->fetch_pending = true;

  CHECK(cache.evict(500) == 0);
  CHECK(cache.evict(1000) == 1);  // the negative entry expired
  CHECK_FALSE(cache.find("unit:neg"));
  CHECK(cache.evict(10'000) == 0);  // connected is past stale_ttl but still connected
  CHECK(cache.find("unit:conn"));

  // Above max_principals the least recently used idle ones go first.
  for (int i = 0; i < 3; ++i) {
    auto idle = cache.getOrCreate("unit:idle" + std::to_string(i), 0);
    cache.install(*idle, ruleSet(1, {}), 10'000);
    idle->last_used_ms = 10'000 + i;
  }
  CHECK(cache.size() == 6);
  CHECK(cache.evict(10'010) == 2);
  CHECK(cache.size() == 4);
  CHECK(cache.find("unit:conn"));
  CHECK(cache.find("backend"));
  CHECK(cache.find("unit:loading"));
  CHECK(cache.find("unit:idle2"));
  CHECK_FALSE(cache.find("unit:idle1"));
  CHECK_FALSE(cache.findByHash(ap::principalHash("unit:idle0")));
}
