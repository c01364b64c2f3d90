// Authorizer with a fake rule source and a fake clock: token identification, CONNECT with the
// bounded single-flight wait and its budget, ACL decisions from memory, TICK (results, events,
// kicks, refresh, expiry, counters) and the outage policy.
#include "authplugin/authorizer.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "authplugin/principal.hpp"
#include "crypto/base64.hpp"
#include "crypto/jwt.hpp"

namespace ap = pepeunit::authplugin;
namespace pd = pepeunit::domain;
using pd::AclAction;

namespace {

constexpr const char* kKey = "unit-test-secret";
constexpr const char* kDomain = "unit.example.com";
const std::string kUnit = "0f8fad5b-d9cb-469f-a165-70867728950e";
const std::string kOther = "11111111-2222-4333-8444-555555555555";
const std::string kNode = "99999999-2222-4333-8444-555555555555";

std::string unitToken(const std::string& uuid, const std::string& key = kKey) {
  nlohmann::ordered_json claims;
  claims["uuid"] = uuid;
  claims["type"] = "Unit";
  return pepeunit::crypto::signJwt(claims, key);
}

std::string backendToken(std::int64_t exp, const std::string& domain = kDomain) {
  nlohmann::ordered_json claims;
  claims["domain"] = domain;
  claims["type"] = "Backend";
  claims["exp"] = exp;
  return pepeunit::crypto::signJwt(claims, kKey);
}

std::string userToken() {
  nlohmann::ordered_json claims;
  claims["uuid"] = kUnit;
  claims["type"] = "User";
  claims["exp"] = 4'000'000'000LL;
  return pepeunit::crypto::signJwt(claims, kKey);
}

std::string algNoneToken(const std::string& uuid) {
  const auto b64 = [](const std::string& s) { return pepeunit::crypto::base64UrlEncode(s); };
  return b64(R"({"alg":"none","typ":"JWT"})") + "." +
         b64(R"({"uuid":")" + uuid + R"(","type":"Unit"})") + ".";
}

struct FakeClock {
  std::int64_t ms = 1'000'000;
  std::int64_t unix_s = 1'700'000'000;
  ap::Clock clock() {
    return ap::Clock{[this] { return ms; }, [this] { return unix_s; }};
  }
};

/// A rule source whose "workers" are the test: results are placed by hand.
class FakeSource : public ap::RuleSource {
 public:
  explicit FakeSource(FakeClock& clock) : clock_(clock) {}

  bool request(const ap::FetchRequest& request) override {
    requests.push_back(request);
    return accept;
  }
  std::optional<ap::FetchResult> waitFor(const std::string& key,
                                         std::chrono::milliseconds timeout) override {
    waits.push_back(timeout);
    const auto it = answer_in_time.find(key);
    if (it == answer_in_time.end()) {
      clock_.ms += timeout.count();  // the whole wait passes without an answer
      return std::nullopt;
    }
    auto result = std::move(it->second);
    answer_in_time.erase(it);
    clock_.ms += 1;
    return result;
  }
  std::vector<ap::FetchResult> drain() override {
    std::vector<ap::FetchResult> out(finished.begin(), finished.end());
    finished.clear();
    return out;
  }

  std::vector<ap::FetchRequest> requests;
  std::vector<std::chrono::milliseconds> waits;
  std::map<std::string, ap::FetchResult> answer_in_time;  // by FetchRequest::key, for waitFor
  std::deque<ap::FetchResult> finished;                   // returned by drain (TICK)
  bool accept = true;

 private:
  FakeClock& clock_;
};

ap::FetchResult rulesResult(const std::string& principal, std::uint64_t version,
                            std::vector<pd::AclRule> rules) {
  auto set = std::make_shared<pd::RuleSet>();
  set->version = version;
  set->rules = std::move(rules);
  ap::FetchResult result;
  result.principal = principal;
  result.status = ap::FetchStatus::kRules;
  result.source = ap::FetchSource::kBackend;
  result.rules = std::move(set);
  return result;
}

ap::FetchResult statusResult(const std::string& principal, ap::FetchStatus status) {
  ap::FetchResult result;
  result.principal = principal;
  result.status = status;
  result.error = "test failure";
  return result;
}

ap::PluginOptions testOptions() {
  ap::PluginOptions options;
  options.domain = kDomain;
  options.fetch_timeout = std::chrono::milliseconds(20);
  options.stall_budget_per_s = std::chrono::milliseconds(200);
  options.ttl_s = 60;
  options.stale_ttl_s = 600;
  options.negative_ttl_s = 10;
  options.metrics_interval_s = 5;
  return options;
}

constexpr std::uint8_t kSubRead =
    pd::actionBit(AclAction::kSubscribe) | pd::actionBit(AclAction::kRead);

struct Fixture {
  FakeClock clock;
  FakeSource source{clock};
  ap::EventQueue events;
  ap::Authorizer authorizer{testOptions(), kKey, source, events, clock.clock()};
  int client_tag[8] = {};  // addresses used as connection identities

  const void* client(int i) { return &client_tag[i]; }
  std::string principal(const std::string& uuid = kUnit) { return ap::unitPrincipal(uuid); }

  /// Connects `uuid` with the backend answering `rules` in time.
  std::string connectUnit(const std::string& uuid, std::vector<pd::AclRule> rules, int slot,
                          std::uint64_t version = 1) {
    auto token = unitToken(uuid);
    source.answer_in_time[principal(uuid)] =
        rulesResult(principal(uuid), version, std::move(rules));
    REQUIRE(authorizer.basicAuth(client(slot), token.c_str(), ""));
    return token;
  }
  bool acl(const std::string& token, AclAction action, const std::string& topic) {
    return authorizer.aclCheck(token.c_str(), action, topic);
  }
};

}  // namespace

TEST_CASE("authplugin/authorizer: identify accepts unit and backend tokens only") {
  Fixture f;
  const auto unit = f.authorizer.identify(unitToken(kUnit).c_str());
  REQUIRE(unit.has_value());
  CHECK(unit->principal == "unit:" + kUnit);
  CHECK_FALSE(unit->backend);
  CHECK(unit->expires_at == 0);

  std::string upper = kUnit;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  CHECK(f.authorizer.identify(unitToken(upper).c_str())->principal == "unit:" + kUnit);

  const auto backend = f.authorizer.identify(backendToken(f.clock.unix_s + 100).c_str());
  REQUIRE(backend.has_value());
  CHECK(backend->backend);
  CHECK(backend->principal == "backend");
  CHECK(backend->expires_at == f.clock.unix_s + 100);

  CHECK_FALSE(f.authorizer.identify(nullptr));
  CHECK_FALSE(f.authorizer.identify(""));
  CHECK_FALSE(f.authorizer.identify("garbage"));
  CHECK_FALSE(f.authorizer.identify(userToken().c_str()));
  CHECK_FALSE(f.authorizer.identify(unitToken(kUnit, "another-key").c_str()));
  CHECK_FALSE(f.authorizer.identify(algNoneToken(kUnit).c_str()));
  CHECK_FALSE(f.authorizer.identify(unitToken("not-a-uuid").c_str()));
  CHECK_FALSE(f.authorizer.identify(backendToken(f.clock.unix_s - 1).c_str()));  // expired
  CHECK_FALSE(f.authorizer.identify(backendToken(f.clock.unix_s + 100, "other.com").c_str()));
  auto forged = unitToken(kUnit);
  forged[forged.size() - 2] = forged[forged.size() - 2] == 'A' ? 'B' : 'A';
  CHECK_FALSE(f.authorizer.identify(forged.c_str()));
}

TEST_CASE("authplugin/authorizer: a unit's base topics and fetched node rules") {
  Fixture f;
  const auto token =
      f.connectUnit(kUnit,
                    {{true, pd::actionBit(AclAction::kPublish), std::string(kDomain) + "/" + kNode},
                     {true, kSubRead, std::string(kDomain) + "/" + kNode + "/pepeunit"}},
                    0);
  CHECK(f.source.requests.size() == 1);
  CHECK(f.source.waits.size() == 1);
  const std::string d = kDomain;
  CHECK(f.acl(token, AclAction::kPublish, d + "/output_base_topic/" + kUnit + "/state/pepeunit"));
  CHECK_FALSE(
      f.acl(token, AclAction::kPublish, d + "/output_base_topic/" + kOther + "/state/pepeunit"));
  CHECK_FALSE(
      f.acl(token, AclAction::kPublish, d + "/input_base_topic/" + kUnit + "/update/pepeunit"));
  CHECK(f.acl(token, AclAction::kSubscribe, d + "/input_base_topic/" + kUnit + "/update/pepeunit"));
  CHECK(f.acl(token, AclAction::kSubscribe, d + "/input_base_topic/" + kUnit + "/+/pepeunit"));
  CHECK(f.acl(token, AclAction::kRead, d + "/input_base_topic/" + kUnit + "/update/pepeunit"));
  CHECK_FALSE(
      f.acl(token, AclAction::kSubscribe, d + "/input_base_topic/" + kOther + "/update/pepeunit"));
  CHECK_FALSE(f.acl(token, AclAction::kSubscribe, d + "/input_base_topic/" + kUnit + "/#"));
  CHECK(f.acl(token, AclAction::kPublish, d + "/" + kNode));
  CHECK(f.acl(token, AclAction::kSubscribe, d + "/" + kNode + "/pepeunit"));
  CHECK(f.acl(token, AclAction::kSubscribe, "$share/g/" + d + "/" + kNode + "/pepeunit"));
  for (const std::string& filter :
       std::vector<std::string>{"#", d + "/#", d + "/+", "$SYS/#", "+/#"}) {
    INFO("filter " << filter);
    CHECK_FALSE(f.acl(token, AclAction::kSubscribe, filter));
  }
  CHECK(f.acl(token, AclAction::kUnsubscribe, "#"));
  CHECK(f.source.requests.size() == 1);  // everything answered from memory
}

TEST_CASE("authplugin/authorizer: refused connects") {
  Fixture f;
  CHECK_FALSE(f.authorizer.basicAuth(f.client(0), nullptr, nullptr));
  CHECK_FALSE(f.authorizer.basicAuth(f.client(0), userToken().c_str(), ""));
  CHECK_FALSE(f.authorizer.basicAuth(f.client(0), algNoneToken(kUnit).c_str(), ""));
  CHECK(f.source.requests.empty());  // nothing unverified ever reaches the backend
  CHECK(f.authorizer.counters().connects_refused == 3);

  // Unknown unit: the backend says 404 in time -> refused and remembered.
  const auto token = unitToken(kOther);
  f.source.answer_in_time[f.principal(kOther)] =
      statusResult(f.principal(kOther), ap::FetchStatus::kNotFound);
  CHECK_FALSE(f.authorizer.basicAuth(f.client(0), token.c_str(), ""));
  CHECK(f.source.requests.size() == 1);
  CHECK_FALSE(f.authorizer.basicAuth(f.client(0), token.c_str(), ""));
  CHECK(f.source.requests.size() == 1);  // negative cache: no new fetch
  f.clock.ms += 10'001;
  f.source.answer_in_time[f.principal(kOther)] =
      rulesResult(f.principal(kOther), 1, {});  // created meanwhile
  CHECK(f.authorizer.basicAuth(f.client(0), token.c_str(), ""));
  CHECK(f.source.requests.size() == 2);
}

TEST_CASE("authplugin/authorizer: a slow fetch refuses now and admits the retry") {
  Fixture f;
  const auto token = unitToken(kUnit);
  CHECK_FALSE(f.authorizer.basicAuth(f.client(0), token.c_str(), ""));
  CHECK(f.source.waits.back() == std::chrono::milliseconds(20));
  CHECK(f.authorizer.counters().connect_wait_timeouts == 1);
  // The worker finishes later; TICK applies it.
  f.source.finished.push_back(rulesResult(f.principal(), 1, {}));
  f.authorizer.tick();
  CHECK(f.authorizer.basicAuth(f.client(0), token.c_str(), ""));
  CHECK(f.source.waits.size() == 1);  // no second wait
}

TEST_CASE("authplugin/authorizer: the stall budget caps waiting per second") {
  auto options = testOptions();
  options.stall_budget_per_s = std::chrono::milliseconds(30);
  FakeClock clock;
  FakeSource source(clock);
  ap::EventQueue events;
  ap::Authorizer authorizer(options, kKey, source, events, clock.clock());
  int tags[4];
  const std::string uuids[] = {"00000000-0000-4000-8000-000000000001",
                               "00000000-0000-4000-8000-000000000002",
                               "00000000-0000-4000-8000-000000000003"};
  CHECK_FALSE(authorizer.basicAuth(&tags[0], unitToken(uuids[0]).c_str(), ""));
  CHECK_FALSE(authorizer.basicAuth(&tags[1], unitToken(uuids[1]).c_str(), ""));
  CHECK_FALSE(authorizer.basicAuth(&tags[2], unitToken(uuids[2]).c_str(), ""));
  REQUIRE(source.waits.size() == 2);
  CHECK(source.waits[0].count() == 20);
  CHECK(source.waits[1].count() == 10);  // what was left of the 30 ms
  CHECK(authorizer.counters().connect_budget_refused == 1);
  CHECK(source.requests.size() == 3);  // all three still load in the background
  clock.ms += 1000;
  CHECK_FALSE(authorizer.basicAuth(&tags[3], unitToken(uuids[2]).c_str(), ""));
  CHECK(source.waits.size() == 3);  // a new window
}

TEST_CASE("authplugin/authorizer: the backend identity needs no fetch") {
  Fixture f;
  const auto token = backendToken(f.clock.unix_s + 3600);
  REQUIRE(f.authorizer.basicAuth(f.client(0), token.c_str(), ""));
  CHECK(f.source.requests.empty());
  CHECK(f.acl(token, AclAction::kSubscribe, std::string(kDomain) + "/#"));
  CHECK(f.acl(token, AclAction::kSubscribe,
              "$share/backend/" + std::string(kDomain) + "/+/pepeunit"));
  CHECK(f.acl(token, AclAction::kPublish, std::string(kDomain) + "/" + kNode));
  CHECK(f.acl(token, AclAction::kRead, "$SYS/pepeunit/auth/kicks"));
  CHECK_FALSE(f.acl(token, AclAction::kSubscribe, "#"));
  CHECK_FALSE(f.acl(token, AclAction::kSubscribe, "$SYS/#"));
  CHECK_FALSE(f.acl(token, AclAction::kPublish, "other.com/x"));

  // Its token expires: TICK kicks it (Mosquitto never re-authenticates by itself).
  f.clock.unix_s += 3600;
  f.clock.ms += 1000;
  const auto out = f.authorizer.tick();
  CHECK(out.kick_usernames == std::vector<std::string>{token});
}

TEST_CASE("authplugin/authorizer: checks by connection decide exactly as by username") {
  Fixture f;
  const auto unit =
      f.connectUnit(kUnit, {{true, kSubRead, std::string(kDomain) + "/" + kNode + "/pepeunit"}}, 0);
  const auto backend = backendToken(f.clock.unix_s + 3600);
  REQUIRE(f.authorizer.basicAuth(f.client(1), backend.c_str(), ""));
  const std::string d = kDomain;
  const std::vector<std::pair<AclAction, std::string>> checks = {
      {AclAction::kPublish, d + "/output_base_topic/" + kUnit + "/state/pepeunit"},
      {AclAction::kPublish, d + "/output_base_topic/" + kOther + "/state/pepeunit"},
      {AclAction::kSubscribe, d + "/" + kNode + "/pepeunit"},
      {AclAction::kRead, d + "/" + kNode + "/pepeunit"},
      {AclAction::kPublish, d + "/" + kNode + "/pepeunit"},
      {AclAction::kSubscribe, d + "/#"},
      {AclAction::kSubscribe, d},
      {AclAction::kSubscribe, d + "x/#"},  // shares the domain as a prefix only
      {AclAction::kSubscribe, "$share/backend/" + d + "/+/pepeunit"},
      {AclAction::kRead, "$SYS/pepeunit/auth/kicks"},
      {AclAction::kSubscribe, "$SYS/#"},
      {AclAction::kSubscribe, "#"},
      {AclAction::kPublish, "other.com/x"},
  };
  for (const auto& [slot, token] : {std::pair{0, unit}, std::pair{1, backend}}) {
    for (const auto& [action, topic] : checks) {
      INFO("slot " << slot << " topic " << topic);
      CHECK(f.authorizer.aclCheck(f.client(slot), token.c_str(), action, topic) ==
            f.acl(token, action, topic));
    }
  }
  CHECK(f.authorizer.aclCheck(f.client(1), backend.c_str(), AclAction::kRead, d + "/a/pepeunit"));
  CHECK_FALSE(f.authorizer.aclCheck(f.client(1), backend.c_str(), AclAction::kRead, d + "x/a"));
  // After DISCONNECT (the will) the connection is unknown: the username still decides.
  f.authorizer.disconnect(f.client(0));
  CHECK(f.authorizer.aclCheck(f.client(0), unit.c_str(), AclAction::kPublish,
                              d + "/output_base_topic/" + kUnit + "/state/pepeunit"));
  CHECK(f.source.requests.size() == 1);
  // The same connection object reused by another unit answers for that unit only (the
  // connection cache forgets a closed connection).
  const auto other = f.connectUnit(kOther, {}, 0);
  const auto own_state = [&](const std::string& uuid) {
    return d + "/output_base_topic/" + uuid + "/state/pepeunit";
  };
  CHECK(f.authorizer.aclCheck(f.client(0), other.c_str(), AclAction::kPublish, own_state(kOther)));
  CHECK_FALSE(
      f.authorizer.aclCheck(f.client(0), other.c_str(), AclAction::kPublish, own_state(kUnit)));
}

TEST_CASE("authplugin/authorizer: unknown usernames are denied; a closed one keeps its will") {
  Fixture f;
  const auto token = f.connectUnit(kUnit, {}, 0);
  const std::string own = std::string(kDomain) + "/output_base_topic/" + kUnit + "/state/pepeunit";
  CHECK(f.acl(token, AclAction::kPublish, own));
  CHECK_FALSE(f.authorizer.aclCheck(nullptr, AclAction::kPublish, own));
  CHECK_FALSE(f.acl(unitToken(kOther), AclAction::kPublish, own));
  CHECK(f.authorizer.sessions() == 1);
  f.authorizer.disconnect(f.client(0));
  CHECK(f.authorizer.sessions() == 0);
  // Mosquitto checks the will (WRITE) after DISCONNECT: the username still maps to its rules.
  CHECK(f.acl(token, AclAction::kPublish, own));
  CHECK_FALSE(f.acl(token, AclAction::kPublish, std::string(kDomain) + "/elsewhere"));
  f.authorizer.disconnect(f.client(0));  // twice is harmless
  // After the grace period the mapping is gone.
  f.clock.ms += 300'000;
  f.authorizer.tick();
  CHECK_FALSE(f.acl(token, AclAction::kPublish, own));
  // Rules stay cached: reconnecting needs no fetch.
  REQUIRE(f.authorizer.basicAuth(f.client(1), token.c_str(), ""));
  CHECK(f.source.requests.size() == 1);
  CHECK(f.acl(token, AclAction::kPublish, own));
}

TEST_CASE("authplugin/authorizer: a rule set's expires_at ends the session") {
  Fixture f;
  const auto token = unitToken(kUnit);
  auto result = rulesResult(f.principal(), 1, {});
  auto rules = std::make_shared<pd::RuleSet>(*result.rules);
  rules->expires_at = f.clock.unix_s + 30;
  result.rules = rules;
  f.source.answer_in_time[f.principal()] = result;
  REQUIRE(f.authorizer.basicAuth(f.client(0), token.c_str(), ""));
  f.authorizer.tick();
  f.clock.unix_s += 30;
  f.clock.ms += 1000;
  CHECK(f.authorizer.tick().kick_usernames == std::vector<std::string>{token});
  // The reconnect needs fresh rules; until they come it is refused.
  CHECK_FALSE(f.authorizer.basicAuth(f.client(1), token.c_str(), ""));
  CHECK(f.source.requests.size() == 2);
}

TEST_CASE("authplugin/authorizer: revocation through events kicks only when access shrank") {
  Fixture f;
  const std::string node = std::string(kDomain) + "/" + kNode + "/pepeunit";
  const auto token = f.connectUnit(kUnit, {{true, kSubRead, node}}, 0, 1);
  const auto other = f.connectUnit(kOther, {}, 1, 1);
  const auto hash = ap::principalHash(f.principal());

  SUBCASE("revoke") {
    f.events.push({ap::InvalidationEvent::Kind::kRevoke, hash, 2});
    f.authorizer.tick();
    REQUIRE(f.source.requests.size() == 3);
    CHECK(f.source.requests.back().principal == f.principal());
    CHECK(f.source.requests.back().min_version == 2);
    CHECK_FALSE(f.source.requests.back().skip_l2);
    f.source.finished.push_back(rulesResult(f.principal(), 2, {}));
    const auto out = f.authorizer.tick();
    CHECK(out.kick_usernames == std::vector<std::string>{token});
    CHECK_FALSE(f.acl(token, AclAction::kSubscribe, node));
    CHECK(f.authorizer.counters().kicks == 1);
  }
  SUBCASE("grant") {
    f.events.push({ap::InvalidationEvent::Kind::kGrant, hash, 2});
    f.authorizer.tick();
    f.source.finished.push_back(
        rulesResult(f.principal(), 2, {{true, kSubRead, node}, {true, kSubRead, "x/y"}}));
    CHECK(f.authorizer.tick().kick_usernames.empty());
    CHECK(f.acl(token, AclAction::kSubscribe, "x/y"));
  }
  SUBCASE("an event for a version already held is ignored") {
    f.events.push({ap::InvalidationEvent::Kind::kRevoke, hash, 1});
    f.authorizer.tick();
    CHECK(f.source.requests.size() == 2);
  }
  SUBCASE("a late, older fetch does not roll back") {
    f.source.finished.push_back(rulesResult(f.principal(), 3, {}));
    f.authorizer.tick();
    f.source.finished.push_back(rulesResult(f.principal(), 2, {{true, kSubRead, node}}));
    f.authorizer.tick();
    CHECK_FALSE(f.acl(token, AclAction::kSubscribe, node));
  }
  SUBCASE("deleted: kicked at once, refused afterwards") {
    f.events.push({ap::InvalidationEvent::Kind::kDeleted, hash, 0});
    const auto out = f.authorizer.tick();
    CHECK(out.kick_usernames == std::vector<std::string>{token});
    CHECK_FALSE(f.acl(token, AclAction::kSubscribe, node));
    CHECK_FALSE(f.authorizer.basicAuth(f.client(2), token.c_str(), ""));
  }
  SUBCASE("deleted, as a 404 on refetch") {
    f.events.push({ap::InvalidationEvent::Kind::kRevoke, hash, 0});
    f.authorizer.tick();
    CHECK(f.source.requests.back().skip_l2);  // version unknown: ask the backend itself
    f.source.finished.push_back(statusResult(f.principal(), ap::FetchStatus::kNotFound));
    CHECK(f.authorizer.tick().kick_usernames == std::vector<std::string>{token});
  }
  SUBCASE("all: every connected principal is refetched from the backend") {
    f.events.push({ap::InvalidationEvent::Kind::kAll, {}, 0});
    f.authorizer.tick();
    REQUIRE(f.source.requests.size() == 4);
    CHECK(f.source.requests[2].skip_l2);
    CHECK(f.source.requests[3].skip_l2);
  }
  SUBCASE("an event for a principal not cached here does nothing") {
    f.events.push({ap::InvalidationEvent::Kind::kRevoke, ap::principalHash("unit:nobody"), 9});
    CHECK(f.authorizer.tick().kick_usernames.empty());
    CHECK(f.source.requests.size() == 2);
  }
  (void)other;
}

TEST_CASE("authplugin/authorizer: outages change nothing until stale_ttl, and never kick") {
  Fixture f;
  const std::string own = std::string(kDomain) + "/output_base_topic/" + kUnit + "/state/pepeunit";
  const auto token = f.connectUnit(kUnit, {}, 0);
  // Past ttl: housekeeping asks for a refresh (no L2 copy older than what we hold).
  f.clock.ms += 70'000;
  f.authorizer.tick();
  REQUIRE(f.source.requests.size() == 2);
  CHECK(f.source.requests.back().min_version == 1);
  // Redis and the backend are down: errors come back, rules stay, nobody is kicked.
  f.source.finished.push_back(statusResult(f.principal(), ap::FetchStatus::kError));
  auto out = f.authorizer.tick();
  CHECK(out.kick_usernames.empty());
  REQUIRE(out.logs.size() == 1);
  CHECK(out.logs[0].text.find("serving cached rules") != std::string::npos);
  CHECK(out.logs[0].text.find(token) == std::string::npos);
  CHECK(f.acl(token, AclAction::kPublish, own));
  // A second client of the same known unit still gets in.
  CHECK(f.authorizer.basicAuth(f.client(1), token.c_str(), ""));
  // Retries back off instead of hammering.
  f.clock.ms += 500;
  f.authorizer.tick();
  CHECK(f.source.requests.size() == 2);
  f.clock.ms += 1000;
  f.authorizer.tick();
  CHECK(f.source.requests.size() == 3);
  // Beyond stale_ttl nothing is allowed any more, but still no kick.
  f.clock.ms += 600'000;
  CHECK_FALSE(f.acl(token, AclAction::kPublish, own));
  CHECK(f.acl(token, AclAction::kUnsubscribe, own));
  out = f.authorizer.tick();
  CHECK(out.kick_usernames.empty());
}

TEST_CASE("authplugin/authorizer: counters are published under $SYS/pepeunit/auth/") {
  Fixture f;
  const auto token = f.connectUnit(kUnit, {}, 0);
  f.acl(token, AclAction::kSubscribe, "#");
  auto out = f.authorizer.tick();
  REQUIRE_FALSE(out.metrics.empty());
  std::map<std::string, std::string> metrics(out.metrics.begin(), out.metrics.end());
  CHECK(metrics.at("$SYS/pepeunit/auth/connects_allowed") == "1");
  CHECK(metrics.at("$SYS/pepeunit/auth/acl_denied") == "1");
  CHECK(metrics.at("$SYS/pepeunit/auth/fetch_backend") == "1");
  CHECK(metrics.at("$SYS/pepeunit/auth/sessions") == "1");
  for (const auto& [topic, value] : out.metrics) {
    CHECK(topic.find(token) == std::string::npos);
  }
  CHECK(f.authorizer.tick().metrics.empty());  // not due yet
  f.clock.ms += 5000;
  CHECK_FALSE(f.authorizer.tick().metrics.empty());
}

TEST_CASE("authplugin/authorizer: a full fetch queue is counted, not fatal") {
  Fixture f;
  f.source.accept = false;
  CHECK_FALSE(f.authorizer.basicAuth(f.client(0), unitToken(kUnit).c_str(), ""));
  CHECK(f.authorizer.counters().fetch_dropped == 1);
}

namespace {

ap::FetchResult partialRules(const std::string& principal, std::uint64_t version,
                             std::vector<pd::AclRule> rules) {
  auto result = rulesResult(principal, version, std::move(rules));
  auto set = std::make_shared<pd::RuleSet>(*result.rules);
  set->partial = true;
  result.rules = std::move(set);
  return result;
}

ap::FetchResult answer(const ap::FetchRequest& request, bool allow, std::int64_t ttl_s) {
  ap::FetchResult result;
  result.principal = request.principal;
  result.question = request.question;
  result.status = ap::FetchStatus::kDecision;
  result.source = ap::FetchSource::kBackend;
  result.answer = ap::TopicAnswer{allow, ttl_s};
  return result;
}

}  // namespace

TEST_CASE("authplugin/authorizer: a partial rule set asks the check endpoint about node topics") {
  Fixture f;
  const std::string node = std::string(kDomain) + "/" + kNode;
  const std::string other_node = std::string(kDomain) + "/" + kOther + "/pepeunit";
  auto token = unitToken(kUnit);
  f.source.answer_in_time[f.principal()] = partialRules(f.principal(), 1, {});
  REQUIRE(f.authorizer.basicAuth(f.client(0), token.c_str(), ""));
  const ap::FetchRequest question{f.principal(), 0, false,
                                  ap::TopicQuestion{AclAction::kSubscribe, node}};
  const auto& counters = f.authorizer.counters();

  // Answered in time: allowed, and remembered for its ttl.
  f.source.answer_in_time[question.key()] = answer(question, true, 30);
  CHECK(f.acl(token, AclAction::kSubscribe, node));
  CHECK(counters.remote_waits == 1);
  CHECK(f.source.requests.back().question.has_value());
  const auto asked = f.source.requests.size();
  CHECK(f.acl(token, AclAction::kSubscribe, node));
  CHECK(counters.remote_hits == 1);
  CHECK(f.source.requests.size() == asked);
  // Another action on the same topic is its own question (nothing answered it: denied).
  CHECK_FALSE(f.acl(token, AclAction::kPublish, node));
  CHECK(counters.remote_timeouts == 1);

  SUBCASE("only node topics are asked about") {
    const auto before = f.source.requests.size();
    CHECK_FALSE(f.acl(token, AclAction::kSubscribe, std::string(kDomain) + "/+/pepeunit"));
    CHECK_FALSE(f.acl(token, AclAction::kRead, "elsewhere/" + kNode));
    CHECK_FALSE(f.acl(token, AclAction::kRead, node + "/deeper/still"));
    CHECK(f.source.requests.size() == before);
  }
  SUBCASE("a late answer is applied on TICK and then used without waiting") {
    const ap::FetchRequest late{f.principal(), 0, false,
                                ap::TopicQuestion{AclAction::kRead, other_node}};
    CHECK_FALSE(f.acl(token, AclAction::kRead, other_node));
    f.source.finished.push_back(answer(late, true, 30));
    f.authorizer.tick();
    const auto waits = counters.remote_waits;
    CHECK(f.acl(token, AclAction::kRead, other_node));
    CHECK(counters.remote_waits == waits);
  }
  SUBCASE("an answer expires after its ttl and is asked again") {
    f.clock.ms += 31'000;
    f.source.answer_in_time[question.key()] = answer(question, false, 30);
    CHECK_FALSE(f.acl(token, AclAction::kSubscribe, node));
  }
  SUBCASE("a new rule set re-asks the allowed answers; one turned deny kicks") {
    f.source.finished.push_back(partialRules(f.principal(), 2, {}));
    CHECK(f.authorizer.tick().kick_usernames.empty());
    REQUIRE(f.source.requests.back().question.has_value());
    CHECK(f.source.requests.back().key() == question.key());
    f.source.finished.push_back(answer(question, false, 30));
    CHECK(f.authorizer.tick().kick_usernames == std::vector<std::string>{token});
    CHECK_FALSE(f.acl(token, AclAction::kSubscribe, node));
  }
  SUBCASE("an unreachable backend keeps an allowed answer, denies an unknown one") {
    f.source.finished.push_back(partialRules(f.principal(), 2, {}));
    f.authorizer.tick();
    auto failed = statusResult(f.principal(), ap::FetchStatus::kError);
    failed.question = question.question;
    f.source.finished.push_back(failed);
    CHECK(f.authorizer.tick().kick_usernames.empty());
    CHECK(f.acl(token, AclAction::kSubscribe, node));
  }
  SUBCASE("a 404 for a question: the unit is gone") {
    auto gone = statusResult(f.principal(), ap::FetchStatus::kNotFound);
    gone.question = question.question;
    f.source.finished.push_back(gone);
    CHECK(f.authorizer.tick().kick_usernames == std::vector<std::string>{token});
    CHECK_FALSE(f.acl(token, AclAction::kSubscribe, node));
  }
}

TEST_CASE("authplugin/authorizer: a complete rule set never asks the check endpoint") {
  Fixture f;
  const auto token = f.connectUnit(kUnit, {}, 0);
  const auto before = f.source.requests.size();
  CHECK_FALSE(f.acl(token, AclAction::kSubscribe, std::string(kDomain) + "/" + kNode));
  CHECK(f.source.requests.size() == before);
  CHECK(f.authorizer.counters().remote_waits == 0);
}
