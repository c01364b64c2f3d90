// Rule-set evaluation (first match, default deny, containment for SUBSCRIBE, $share, $SYS),
// the indexed evaluator against the linear one, the JSON contract and the shrink test.
#include "domain/acl_rules.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace pd = pepeunit::domain;
using pd::AclAction;

namespace {

constexpr std::uint8_t kPub = pd::actionBit(AclAction::kPublish);
constexpr std::uint8_t kSub = pd::actionBit(AclAction::kSubscribe);
constexpr std::uint8_t kRead = pd::actionBit(AclAction::kRead);

pd::AclRule allow(std::uint8_t mask, std::string filter) {
  return pd::AclRule{true, mask, std::move(filter)};
}
pd::AclRule deny(std::uint8_t mask, std::string filter) {
  return pd::AclRule{false, mask, std::move(filter)};
}
pd::RuleSet rules(std::vector<pd::AclRule> list, std::uint64_t version = 1) {
  pd::RuleSet set;
  set.version = version;
  set.rules = std::move(list);
  return set;
}

constexpr AclAction kActions[] = {AclAction::kPublish, AclAction::kSubscribe, AclAction::kRead,
                                  AclAction::kUnsubscribe};

}  // namespace

TEST_CASE("domain/acl_rules: first match wins, default deny, actions are separate") {
  const auto set =
      rules({deny(kPub | kRead, "D/secret"), allow(kPub, "D/#"), allow(kSub | kRead, "D/in/+")});
  CHECK(pd::decide(set, AclAction::kPublish, "D/x"));
  CHECK_FALSE(pd::decide(set, AclAction::kPublish, "D/secret"));
  CHECK(pd::decide(set, AclAction::kPublish, "D/secret/deeper"));
  CHECK_FALSE(pd::decide(set, AclAction::kPublish, "E/x"));  // nothing applies
  CHECK(pd::decide(set, AclAction::kRead, "D/in/a"));
  CHECK_FALSE(pd::decide(set, AclAction::kRead, "D/x"));  // publish-only rule
  CHECK(pd::decide(set, AclAction::kSubscribe, "D/in/a"));
  CHECK(pd::decide(set, AclAction::kSubscribe, "D/in/+"));
  CHECK_FALSE(pd::decide(set, AclAction::kSubscribe, "D/in/#"));  // `+` does not contain `#`
  CHECK_FALSE(pd::decide(set, AclAction::kSubscribe, "D/x"));
  CHECK(pd::decide(set, AclAction::kUnsubscribe, "anything/#"));
  CHECK(pd::decide(pd::RuleSet{}, AclAction::kUnsubscribe, "x"));
  CHECK_FALSE(pd::decide(pd::RuleSet{}, AclAction::kPublish, "x"));
}

TEST_CASE("domain/acl_rules: a deny rule stops any subscription that could reach it") {
  const auto set = rules({deny(kSub, "D/private"), allow(kSub, "D/#")});
  CHECK(pd::decide(set, AclAction::kSubscribe, "D/public"));
  CHECK_FALSE(pd::decide(set, AclAction::kSubscribe, "D/private"));
  CHECK_FALSE(pd::decide(set, AclAction::kSubscribe, "D/+"));  // would receive D/private
  CHECK_FALSE(pd::decide(set, AclAction::kSubscribe, "D/#"));
  CHECK(pd::decide(set, AclAction::kSubscribe, "D/+/x"));  // cannot reach D/private
}

TEST_CASE("domain/acl_rules: $share is stripped, $SYS never through wildcards") {
  const auto set = rules({allow(kSub | kRead | kPub, "#")});
  CHECK(pd::decide(set, AclAction::kSubscribe, "$share/g/D/x"));
  CHECK_FALSE(pd::decide(set, AclAction::kSubscribe, "$share/g"));
  CHECK_FALSE(pd::decide(set, AclAction::kSubscribe, "$SYS/#"));
  CHECK_FALSE(pd::decide(set, AclAction::kSubscribe, "$share/g/$SYS/#"));
  CHECK_FALSE(pd::decide(set, AclAction::kRead, "$SYS/broker/uptime"));
  CHECK_FALSE(pd::decide(set, AclAction::kPublish, "$SYS/x"));
  const auto sys = rules({allow(kSub | kRead, "$SYS/pepeunit/#")});
  CHECK(pd::decide(sys, AclAction::kSubscribe, "$SYS/pepeunit/#"));
  CHECK(pd::decide(sys, AclAction::kRead, "$SYS/pepeunit/auth/kicks"));
  CHECK_FALSE(pd::decide(sys, AclAction::kSubscribe, "$SYS/#"));
}

TEST_CASE("domain/acl_rules: superuser allows everything, invalid input nothing") {
  pd::RuleSet su;
  su.superuser = true;
  CHECK(pd::decide(su, AclAction::kPublish, "any/topic"));
  CHECK(pd::decide(su, AclAction::kSubscribe, "#"));
  const auto set = rules({allow(pd::kAllActions, "#")});
  CHECK_FALSE(pd::decide(set, AclAction::kPublish, "a/+"));
  CHECK_FALSE(pd::decide(set, AclAction::kPublish, ""));
  CHECK_FALSE(pd::decide(set, AclAction::kSubscribe, "a/#/b"));
}

TEST_CASE("domain/acl_rules: RuleIndex decides exactly like decide() on random rule sets") {
  std::mt19937 rng(7);
  const std::vector<std::string> levels = {"a", "b", "+", "#", "$s"};
  const auto random_filter = [&](bool wildcards) {
    std::string f;
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int i = 0; i < n; ++i) {
      std::string level = levels[rng() % (wildcards ? levels.size() : 2)];
      if (level == "#" && i + 1 != n) {
        level = "+";
      }
      if (level == "$s" && i != 0) {
        level = "a";
      }
      f += (i ? "/" : "") + level;
    }
    return f;
  };
  for (int round = 0; round < 300; ++round) {
    std::vector<pd::AclRule> list;
    const int count = static_cast<int>(rng() % 6);
    for (int i = 0; i < count; ++i) {
      list.push_back(pd::AclRule{rng() % 3 != 0, static_cast<std::uint8_t>(1 + rng() % 15),
                                 random_filter(rng() % 2 == 0)});
    }
    const auto set = rules(list);
    const pd::RuleIndex index(set);
    for (int probe = 0; probe < 60; ++probe) {
      const auto action = kActions[rng() % 4];
      const std::string subject =
          action == AclAction::kSubscribe ? random_filter(true) : random_filter(false);
      INFO("round " << round << " subject " << subject);
      CHECK(index.decide(action, subject) == pd::decide(set, action, subject));
    }
  }
}

TEST_CASE("domain/acl_rules: JSON contract round trip") {
  const std::string text = R"({
    "version": 17, "ttl": 300, "stale_ttl": 3600, "superuser": false, "expires_at": 1767225600,
    "rules": [
      {"permission": "allow", "actions": ["publish"], "filter": "D/+/pepeunit"},
      {"permission": "deny", "actions": ["subscribe", "read"], "filter": "D/#"},
      {"permission": "allow", "actions": ["all"], "filter": "X"}
    ]})";
  const auto parsed = pd::parseRuleSet(text);
  REQUIRE(parsed.has_value());
  CHECK(parsed->version == 17);
  CHECK(parsed->ttl_s == 300);
  CHECK(parsed->stale_ttl_s == 3600);
  CHECK(parsed->expires_at == 1767225600);
  CHECK_FALSE(parsed->superuser);
  REQUIRE(parsed->rules.size() == 3);
  CHECK(parsed->rules[0] == allow(kPub, "D/+/pepeunit"));
  CHECK(parsed->rules[1] == deny(kSub | kRead, "D/#"));
  CHECK(parsed->rules[2].actions_mask == pd::kAllActions);

  const auto again = pd::parseRuleSet(pd::serializeRuleSet(*parsed));
  REQUIRE(again.has_value());
  CHECK(*again == *parsed);

  const auto minimal = pd::parseRuleSet(R"({"version": 0, "rules": []})");
  REQUIRE(minimal.has_value());
  CHECK(minimal->ttl_s == 0);
  CHECK(minimal->rules.empty());
  CHECK_FALSE(minimal->partial);
  CHECK(pd::serializeRuleSet(*minimal).find("partial") == std::string::npos);

  auto partial = *minimal;
  partial.partial = true;
  const auto partial_again = pd::parseRuleSet(pd::serializeRuleSet(partial));
  REQUIRE(partial_again.has_value());
  CHECK(partial_again->partial);
}

TEST_CASE("domain/acl_rules: the direct serializer writes what ruleSetToJson describes") {
  pd::RuleSet set;
  set.version = 18446744073709551615ULL;
  set.ttl_s = 300;
  set.stale_ttl_s = 3600;
  set.rules = {allow(kPub, "D/+/pepeunit"), deny(kSub | kRead, "D/#"),
               allow(pd::kAllActions, std::string("q\"uote/back\\slash/ctl\x01\x1f/caf\xc3\xa9"))};
  for (const bool partial : {false, true}) {
    for (const std::int64_t expires_at : {std::int64_t{0}, std::int64_t{1767225600}}) {
      set.partial = partial;
      set.expires_at = expires_at;
      const std::string text = pd::serializeRuleSet(set);
      INFO(text);
      CHECK(nlohmann::json::parse(text) == pd::ruleSetToJson(set));
      const auto again = pd::parseRuleSet(text);
      REQUIRE(again.has_value());
      CHECK(*again == set);
    }
  }
  pd::RuleSet empty;
  CHECK(nlohmann::json::parse(pd::serializeRuleSet(empty)) == pd::ruleSetToJson(empty));
}

TEST_CASE("domain/acl_rules: action names both ways") {
  for (const auto action :
       {AclAction::kPublish, AclAction::kSubscribe, AclAction::kRead, AclAction::kUnsubscribe}) {
    CHECK(pd::parseAclAction(pd::actionName(action)) == action);
  }
  CHECK_FALSE(pd::parseAclAction("all").has_value());
  CHECK_FALSE(pd::parseAclAction("Publish").has_value());
  CHECK_FALSE(pd::parseAclAction("").has_value());
}

TEST_CASE("domain/acl_rules: JSON contract is strict") {
  const char* rejected[] = {
      "not json",
      "[]",
      R"({"rules": []})",                           // no version
      R"({"version": -1, "rules": []})",            // negative version
      R"({"version": 1.5, "rules": []})",           // fractional version
      R"({"version": 1})",                          // no rules
      R"({"version": 1, "rules": {}})",             // rules not an array
      R"({"version": 1, "ttl": -5, "rules": []})",  // negative ttl
      R"({"version": 1, "superuser": "yes", "rules": []})",
      R"({"version": 1, "partial": 1, "rules": []})",
      R"({"version": 1, "rules": [{"permission": "maybe", "actions": ["read"], "filter": "a"}]})",
      R"({"version": 1, "rules": [{"permission": "allow", "actions": ["write"], "filter": "a"}]})",
      R"({"version": 1, "rules": [{"permission": "allow", "actions": [], "filter": "a"}]})",
      R"({"version": 1, "rules": [{"permission": "allow", "actions": ["read"], "filter": "a/#/b"}]})",
      R"({"version": 1, "rules": [{"permission": "allow", "actions": ["read"]}]})",
      R"({"version": 1, "rules": [{"permission": "allow", "actions": ["read"], "filter": "a",
                                   "qos": 1}]})",  // a restriction we would not enforce
  };
  for (const char* text : rejected) {
    INFO("text: " << text);
    CHECK_FALSE(pd::parseRuleSet(text).has_value());
  }
}

TEST_CASE("domain/acl_rules: shrank detects removed access and ignores pure growth") {
  const auto base = rules({allow(kPub, "D/a"), allow(kSub | kRead, "D/in/+")});
  CHECK_FALSE(pd::shrank(base, base));
  // growth
  CHECK_FALSE(pd::shrank(
      base, rules({allow(kPub, "D/a"), allow(kSub | kRead, "D/in/+"), allow(kPub, "D/b")})));
  CHECK_FALSE(pd::shrank(base, rules({allow(kPub, "D/#"), allow(kSub | kRead, "D/#")})));
  // loss
  CHECK(pd::shrank(base, rules({allow(kSub | kRead, "D/in/+")})));
  CHECK(pd::shrank(base, rules({allow(kPub, "D/a"), allow(kSub, "D/in/+")})));  // read lost
  CHECK(pd::shrank(base, rules({allow(kPub, "D/a"), allow(kSub | kRead, "D/in/x")})));
  // superuser
  pd::RuleSet su;
  su.superuser = true;
  CHECK(pd::shrank(su, base));
  CHECK_FALSE(pd::shrank(base, su));
  // with deny rules: appending allows is growth, anything else counts as a loss
  const auto guarded = rules({deny(kSub, "D/private"), allow(kSub, "D/#")});
  CHECK_FALSE(pd::shrank(guarded,
                         rules({deny(kSub, "D/private"), allow(kSub, "D/#"), allow(kPub, "D/x")})));
  CHECK(pd::shrank(guarded, rules({deny(kSub, "D/other"), allow(kSub, "D/#")})));
  CHECK(pd::shrank(base,
                   rules({deny(kPub, "D/a"), allow(kPub, "D/a"), allow(kSub | kRead, "D/in/+")})));
}
