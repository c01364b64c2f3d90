// AclService (issue 6 item 2): the rule set of a unit from its facts (direction-aware node
// ACLs of DESIGN §4), the backend's superuser set, the EMQX-style topic decision, ttl capping by
// grant expiry, monotonic versions, and what is published after a change.
#include "service/acl_service.hpp"

#include <doctest/doctest.h>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "crypto/jwt.hpp"

namespace {

using pepeunit::cache::AclChangeKind;
using pepeunit::domain::AclAction;
using pepeunit::domain::AclRule;
using pepeunit::domain::actionBit;
using pepeunit::domain::RuleSet;
using pepeunit::domain::UnitNodeType;
using pepeunit::domain::Uuid;
using pepeunit::service::AclService;
using pepeunit::store::AclFacts;
using pepeunit::store::AclNode;

constexpr std::int64_t kNow = 1'800'000'000;
constexpr std::uint8_t kPub = actionBit(AclAction::kPublish);
constexpr std::uint8_t kRecv = actionBit(AclAction::kSubscribe) | actionBit(AclAction::kRead);

Uuid id(int n) {
  Uuid::Bytes bytes{};
  bytes[0] = 0x20;
  bytes[15] = static_cast<std::uint8_t>(n);
  return Uuid(bytes);
}

class FakeAclStore : public pepeunit::store::AclStore {
 public:
  std::map<std::string, AclFacts> units;
  std::size_t last_max = 0;
  int reads = 0;

  std::optional<AclFacts> factsFor(const Uuid& unit, std::int64_t, std::size_t max) override {
    last_max = max;
    ++reads;
    const auto it = units.find(unit.toString());
    if (it == units.end())
      return std::nullopt;
    return it->second;
  }
  /// (unit, node) -> the node, for visibleForeignNode.
  std::map<std::pair<std::string, std::string>, AclNode> visible;
  int node_reads = 0;
  std::optional<AclNode> visibleForeignNode(const Uuid& unit, const Uuid& node,
                                            std::int64_t) override {
    ++node_reads;
    const auto it = visible.find({unit.toString(), node.toString()});
    if (it == visible.end())
      return std::nullopt;
    return it->second;
  }
  /// unit -> valid_until of its one time-limited grant.
  std::map<std::string, std::int64_t> grant_lapses;
  std::vector<std::pair<std::int64_t, std::int64_t>> lapse_windows;
  bool lapses_fail = false;
  std::vector<Uuid> unitsWithGrantsLapsed(std::int64_t after, std::int64_t until) override {
    if (lapses_fail)
      throw std::runtime_error("database down");
    lapse_windows.emplace_back(after, until);
    std::vector<Uuid> out;
    for (const auto& [unit, at] : grant_lapses) {
      if (at > after && at <= until)
        out.push_back(*Uuid::parse(unit));
    }
    return out;
  }
};

struct Published {
  std::string kind;  // "rules", "deleted", "all"
  std::string hash;
  std::string json;
  std::uint64_t version = 0;
  std::int64_t ttl = 0;
  AclChangeKind change = AclChangeKind::kGrant;
};

class RecordingPublisher : public pepeunit::cache::AclPublisher {
 public:
  std::vector<Published> calls;
  void publishRules(const std::string& hash, const std::string& json, std::uint64_t version,
                    std::chrono::seconds ttl, AclChangeKind kind) override {
    calls.push_back({"rules", hash, json, version, ttl.count(), kind});
  }
  void publishDeleted(const std::string& hash, std::uint64_t version) override {
    calls.push_back({"deleted", hash, "", version, 0, AclChangeKind::kDeleted});
  }
  void publishAll(std::uint64_t version) override {
    calls.push_back({"all", "", "", version, 0, AclChangeKind::kGrant});
  }
};

AclService::Options options() {
  AclService::Options o;
  o.domain = "pepe.test";
  o.secret_key = "0123456789abcdef-secret";
  o.max_visible_nodes = 7;
  return o;
}

/// The mask of the rule whose filter is exactly `filter`; 0 when absent.
std::uint8_t maskOf(const RuleSet& rules, const std::string& filter) {
  for (const auto& rule : rules.rules) {
    if (rule.filter == filter) {
      CHECK(rule.allow);
      return rule.actions_mask;
    }
  }
  return 0;
}

struct Fixture {
  FakeAclStore store;
  RecordingPublisher publisher;
  AclService acl{store, &publisher, options(), [] { return kNow; }};
  Uuid unit = id(1);
  std::string d = "pepe.test/";

  Fixture() {
    AclFacts facts;
    facts.own_nodes = {{id(10), UnitNodeType::kOutput, false},
                       {id(11), UnitNodeType::kInput, true}};
    facts.linked_outputs = {id(20)};
    facts.visible_nodes = {{id(30), UnitNodeType::kInput, true},
                           {id(31), UnitNodeType::kInput, false},
                           {id(32), UnitNodeType::kOutput, false},
                           {id(20), UnitNodeType::kOutput, false}};
    store.units[unit.toString()] = facts;
  }
};

}  // namespace

TEST_CASE("AclService: rule set of a unit is direction-aware") {
  Fixture f;
  const auto rules = f.acl.ruleSetFor(f.unit);
  REQUIRE(rules);
  CHECK_FALSE(rules->superuser);
  const std::string u = f.unit.toString();
  CHECK(maskOf(*rules, f.d + "output_base_topic/" + u + "/+/pepeunit") == kPub);
  CHECK(maskOf(*rules, f.d + "input_base_topic/" + u + "/+/pepeunit") == kRecv);
  for (const std::string suffix : {"", "/pepeunit"}) {
    CHECK(maskOf(*rules, f.d + id(10).toString() + suffix) == (kPub | kRecv));  // own Output
    CHECK(maskOf(*rules, f.d + id(11).toString() + suffix) == kRecv);  // own Input: no publish
    CHECK(maskOf(*rules, f.d + id(20).toString() + suffix) == kRecv);  // linked Output
    CHECK(maskOf(*rules, f.d + id(30).toString() + suffix) == (kPub | kRecv));  // rewritable
    CHECK(maskOf(*rules, f.d + id(31).toString() + suffix) == kRecv);
    CHECK(maskOf(*rules, f.d + id(32).toString() + suffix) == kRecv);
  }
  // 2 base rules + 2 per distinct node (id(20) is both linked and visible: merged).
  CHECK(rules->rules.size() == 2 + 2 * 6);
  CHECK(f.store.last_max == 7);
  CHECK(rules->ttl_s == 300);
  CHECK(rules->stale_ttl_s == 3600);
  // The plugin's parser accepts what we produce.
  const auto parsed = pepeunit::domain::parseRuleSet(pepeunit::domain::serializeRuleSet(*rules));
  REQUIRE(parsed);
  CHECK(*parsed == *rules);
}

TEST_CASE("AclService: principals") {
  Fixture f;
  CHECK(f.acl.ruleSetForPrincipal("unit:" + f.unit.toString()));
  CHECK_FALSE(f.acl.ruleSetForPrincipal("unit:" + id(99).toString()));
  CHECK_FALSE(f.acl.ruleSetForPrincipal("unit:not-a-uuid"));
  CHECK_FALSE(f.acl.ruleSetForPrincipal(f.unit.toString()));
  CHECK_FALSE(f.acl.ruleSetForPrincipal("user:" + f.unit.toString()));
  const auto backend = f.acl.ruleSetForPrincipal("backend");
  REQUIRE(backend);
  CHECK(backend->superuser);
  REQUIRE(backend->rules.size() == 1);
  CHECK(backend->rules[0] == AclRule{true, pepeunit::domain::kAllActions, "pepe.test/#"});
}

TEST_CASE("AclService: versions increase strictly") {
  Fixture f;
  const auto a = f.acl.ruleSetFor(f.unit)->version;
  const auto b = f.acl.ruleSetFor(f.unit)->version;
  const auto c = f.acl.backendRuleSet().version;
  CHECK(a > 1'600'000'000'000ull);  // milliseconds since the epoch
  CHECK(b > a);
  CHECK(c > b);
}

TEST_CASE("AclService: a time-limited grant caps ttl and stale ttl") {
  Fixture f;
  f.store.units[f.unit.toString()].next_grant_expiry = kNow + 42;
  auto rules = f.acl.ruleSetFor(f.unit);
  CHECK(rules->ttl_s == 42);
  CHECK(rules->stale_ttl_s == 42);
  f.store.units[f.unit.toString()].next_grant_expiry = kNow - 5;  // clock skew: still >= 1 s
  rules = f.acl.ruleSetFor(f.unit);
  CHECK(rules->ttl_s == 1);
  CHECK(rules->stale_ttl_s == 1);
}

TEST_CASE("AclService: EMQX topic decision ignores the action, denies wildcards") {
  Fixture f;
  const std::string u = f.unit.toString();
  CHECK(f.acl.unitMayUse(f.unit, f.d + "output_base_topic/" + u + "/state/pepeunit"));
  CHECK(f.acl.unitMayUse(f.unit, f.d + "input_base_topic/" + u + "/update/pepeunit"));
  CHECK_FALSE(
      f.acl.unitMayUse(f.unit, f.d + "input_base_topic/" + id(2).toString() + "/update/pepeunit"));
  CHECK_FALSE(f.acl.unitMayUse(f.unit, f.d + "input_base_topic/" + u + "/+/pepeunit"));
  CHECK(f.acl.unitMayUse(f.unit, f.d + id(31).toString() + "/pepeunit"));
  CHECK(f.acl.unitMayUse(f.unit, f.d + id(32).toString()));
  CHECK_FALSE(f.acl.unitMayUse(f.unit, f.d + id(40).toString() + "/pepeunit"));  // invisible
  CHECK_FALSE(f.acl.unitMayUse(f.unit, f.d + "+/pepeunit"));
  CHECK_FALSE(f.acl.unitMayUse(f.unit, "#"));
  CHECK_FALSE(f.acl.unitMayUse(f.unit, ""));
  CHECK_FALSE(f.acl.unitMayUse(id(99), f.d + id(31).toString()));  // unknown unit
}

TEST_CASE("AclService: a capped set says partial; the check endpoint decides what it left out") {
  Fixture f;
  const std::string u = f.unit.toString();
  const std::string principal = AclService::unitPrincipal(f.unit);
  const auto decide = [&](AclAction action, const std::string& topic) {
    const auto decision = f.acl.checkTopic(principal, action, topic);
    REQUIRE(decision.has_value());
    CHECK(decision->ttl_s == 300);
    return decision->allow;
  };

  SUBCASE("a complete set answers alone, without reading nodes") {
    CHECK_FALSE(f.acl.ruleSetFor(f.unit)->partial);
    CHECK(decide(AclAction::kPublish, f.d + id(10).toString()));
    CHECK_FALSE(decide(AclAction::kPublish, f.d + id(11).toString()));
    CHECK(decide(AclAction::kSubscribe, f.d + id(32).toString() + "/pepeunit"));
    CHECK_FALSE(decide(AclAction::kRead, f.d + id(40).toString()));
    CHECK(f.store.node_reads == 0);
  }
  SUBCASE("a partial set: node topics it does not list are looked up, others are not") {
    f.store.units[u].truncated = true;
    f.store.visible[{u, id(40).toString()}] = AclNode{id(40), UnitNodeType::kInput, true};
    f.store.visible[{u, id(41).toString()}] = AclNode{id(41), UnitNodeType::kInput, false};
    f.store.visible[{u, id(42).toString()}] = AclNode{id(42), UnitNodeType::kOutput, false};
    CHECK(f.acl.ruleSetFor(f.unit)->partial);
    CHECK(pepeunit::domain::serializeRuleSet(*f.acl.ruleSetFor(f.unit)).find("\"partial\":true") !=
          std::string::npos);

    CHECK(decide(AclAction::kSubscribe, f.d + id(32).toString()));  // listed
    CHECK(f.store.node_reads == 0);
    CHECK(decide(AclAction::kRead, f.d + id(40).toString() + "/pepeunit"));
    CHECK(decide(AclAction::kPublish, f.d + id(40).toString()));  // a rewritable input
    CHECK(decide(AclAction::kSubscribe, "$share/g/" + f.d + id(41).toString()));
    CHECK_FALSE(decide(AclAction::kPublish, f.d + id(41).toString()));  // not rewritable
    CHECK_FALSE(decide(AclAction::kPublish, f.d + id(42).toString()));  // an output
    CHECK(decide(AclAction::kRead, f.d + id(42).toString()));
    CHECK_FALSE(decide(AclAction::kRead, f.d + id(43).toString()));  // invisible
    const int reads = f.store.node_reads;
    CHECK_FALSE(decide(AclAction::kSubscribe, f.d + "+/pepeunit"));  // not a node topic
    CHECK_FALSE(decide(AclAction::kRead, "other.domain/" + id(40).toString()));
    CHECK_FALSE(decide(AclAction::kRead, f.d + id(40).toString() + "/extra"));
    CHECK(f.store.node_reads == reads);
    CHECK(f.acl.unitMayUse(f.unit, f.d + id(42).toString()));  // the EMQX hook agrees
    const int before_hook = f.store.node_reads;
    CHECK_FALSE(f.acl.unitMayUse(f.unit, f.d + id(43).toString()));
    CHECK(f.store.node_reads == before_hook + 1);  // one lookup, not one per action
  }
  SUBCASE("principals") {
    CHECK_FALSE(f.acl.checkTopic("unit:" + id(99).toString(), AclAction::kRead, f.d + "x"));
    CHECK_FALSE(f.acl.checkTopic("user:" + u, AclAction::kRead, f.d + "x"));
    const auto backend = f.acl.checkTopic("backend", AclAction::kPublish, f.d + "anything");
    REQUIRE(backend);
    CHECK(backend->allow);
    // A superuser, as its rule set says (the plugin never asks: it holds that set locally).
    CHECK(f.acl.checkTopic("backend", AclAction::kSubscribe, "#")->allow);
  }
}

TEST_CASE("AclService: backend token") {
  Fixture f;
  nlohmann::ordered_json claims;
  claims["domain"] = "pepe.test";
  claims["type"] = "Backend";
  claims["exp"] = kNow + 60;
  CHECK(f.acl.isBackendToken(pepeunit::crypto::signJwt(claims, "0123456789abcdef-secret")));
  CHECK_FALSE(f.acl.isBackendToken(pepeunit::crypto::signJwt(claims, "another-key-0123456")));
  claims["exp"] = kNow - 1;
  CHECK_FALSE(f.acl.isBackendToken(pepeunit::crypto::signJwt(claims, "0123456789abcdef-secret")));
  claims["exp"] = kNow + 60;
  claims["domain"] = "other.test";
  CHECK_FALSE(f.acl.isBackendToken(pepeunit::crypto::signJwt(claims, "0123456789abcdef-secret")));
  nlohmann::ordered_json unit;
  unit["uuid"] = f.unit.toString();
  unit["type"] = "Unit";
  CHECK_FALSE(f.acl.isBackendToken(pepeunit::crypto::signJwt(unit, "0123456789abcdef-secret")));
  CHECK_FALSE(f.acl.isBackendToken("garbage"));
}

TEST_CASE("AclService: publishing after changes") {
  Fixture f;
  const std::string hash = AclService::principalHash("unit:" + f.unit.toString());
  CHECK(hash.size() == 64);
  CHECK(hash.find(f.unit.toString()) == std::string::npos);

  f.acl.accessChanged(f.unit, AclChangeKind::kRevoke);
  REQUIRE(f.publisher.calls.size() == 1);
  CHECK(f.publisher.calls[0].kind == "rules");
  CHECK(f.publisher.calls[0].hash == hash);
  CHECK(f.publisher.calls[0].change == AclChangeKind::kRevoke);
  CHECK(f.publisher.calls[0].ttl == 3600);
  const auto stored = pepeunit::domain::parseRuleSet(f.publisher.calls[0].json);
  REQUIRE(stored);
  CHECK(stored->version == f.publisher.calls[0].version);

  f.store.units.clear();
  f.acl.accessChanged(f.unit, AclChangeKind::kRevoke);
  REQUIRE(f.publisher.calls.size() == 2);
  CHECK(f.publisher.calls[1].kind == "deleted");
  CHECK(f.publisher.calls[1].hash == hash);
  CHECK(f.publisher.calls[1].version > f.publisher.calls[0].version);

  f.acl.everythingChanged();
  REQUIRE(f.publisher.calls.size() == 3);
  CHECK(f.publisher.calls[2].kind == "all");
  CHECK(f.publisher.calls[2].version > f.publisher.calls[1].version);
}

TEST_CASE("AclService: the rule-set cache is used only while remote invalidation is live") {
  FakeAclStore store;
  RecordingPublisher publisher;
  std::int64_t now = kNow;
  auto opts = options();
  opts.cache_ttl_s = 10;
  AclService acl{store, &publisher, opts, [&now] { return now; }};
  const Uuid unit = id(1);
  store.units[unit.toString()] = AclFacts{};

  acl.ruleSetFor(unit);
  acl.ruleSetFor(unit);
  CHECK(store.reads == 2);  // not live: every request reads

  acl.setRemoteInvalidationLive(true);
  const auto first = acl.ruleSetFor(unit);
  const auto cached = acl.ruleSetFor(unit);
  CHECK(store.reads == 3);
  CHECK(cached->version == first->version);  // the same set, not a recomputation

  now += 10;  // cache_ttl_s later
  acl.ruleSetFor(unit);
  CHECK(store.reads == 4);

  // A local change recomputes (and re-caches) that unit's set; a remote one drops everything.
  acl.accessChanged(unit, pepeunit::cache::AclChangeKind::kRevoke);
  CHECK(store.reads == 5);
  acl.ruleSetFor(unit);
  CHECK(store.reads == 5);
  acl.forgetCachedRuleSets();
  acl.ruleSetFor(unit);
  CHECK(store.reads == 6);
  acl.everythingChanged();
  acl.ruleSetFor(unit);
  CHECK(store.reads == 7);

  // A time-limited grant bounds the cached copy too: its expiry must reach the brokers.
  store.units[unit.toString()].next_grant_expiry = now + 3;
  acl.forgetCachedRuleSets();
  acl.ruleSetFor(unit);
  now += 3;
  acl.ruleSetFor(unit);
  CHECK(store.reads == 9);

  // Losing the event stream drops the cache and stops using it.
  acl.setRemoteInvalidationLive(false);
  acl.ruleSetFor(unit);
  acl.ruleSetFor(unit);
  CHECK(store.reads == 11);
}

TEST_CASE("AclService: lapsed time-limited grants are announced once, like a revoke") {
  FakeAclStore store;
  RecordingPublisher publisher;
  std::int64_t now = kNow;
  AclService acl{store, &publisher, options(), [&now] { return now; }};
  const Uuid unit = id(1);
  store.units[unit.toString()] = AclFacts{};
  store.grant_lapses[unit.toString()] = kNow + 3;

  CHECK(acl.announceLapsedGrants() == 0);  // no time passed: nothing asked
  CHECK(store.lapse_windows.empty());
  now = kNow + 2;
  CHECK(acl.announceLapsedGrants() == 0);
  now = kNow + 5;
  store.lapses_fail = true;
  CHECK(acl.announceLapsedGrants() == 0);  // the store failed: the window stays open ...
  store.lapses_fail = false;
  CHECK(acl.announceLapsedGrants() == 1);  // ... and the next call covers it
  CHECK(store.lapse_windows ==
        std::vector<std::pair<std::int64_t, std::int64_t>>{{kNow, kNow + 2}, {kNow + 2, kNow + 5}});
  REQUIRE(publisher.calls.size() == 1);
  CHECK(publisher.calls[0].hash == AclService::principalHash("unit:" + unit.toString()));
  CHECK(publisher.calls[0].change == AclChangeKind::kRevoke);
  now = kNow + 9;
  CHECK(acl.announceLapsedGrants() == 0);  // announced once only
}
