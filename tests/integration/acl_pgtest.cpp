// Broker authorization, backend side (issue 6 item 2) over real HTTP against the real backend
// with real Postgres and Redis: the plugin's rule-set endpoint (bearer token, principals, the
// direction-aware filters), the EMQX-compatible POST /units/auth, and the Redis write-through
// plus invalidation event after a permission is revoked through REST.
// Users register through REST; repo, units, nodes, edges and grants are written into Postgres
// directly (other areas own those endpoints); Unit tokens are minted with the stack's secret.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "cache/redis/redis_client.hpp"
#include "crypto/digest.hpp"
#include "crypto/jwt.hpp"
#include "domain/acl_rules.hpp"
#include "integration/harness/acl_world.hpp"
#include "integration/harness/http_client.hpp"
#include "integration/harness/stack.hpp"
#include "integration/harness/wait.hpp"

using nlohmann::json;
using pepeunit::testing::HttpClient;
using pepeunit::testing::HttpResponse;

namespace {

const std::string kApi = "/pepeunit/api/v1";
const std::string kPluginToken = "plugin-token-for-tests-0123456789";

pepeunit::testing::Stack& stack() {
  static pepeunit::testing::Stack instance(
      pepeunit::testing::StackOptions::withEnv({{"BACKEND_PLUGIN_TOKEN", kPluginToken}}));
  return instance;
}

HttpClient client() {
  return HttpClient("127.0.0.1", stack().backend().port());
}

std::string domainRoot() {
  return stack().backendEnv().at("BACKEND_DOMAIN");
}

const pepeunit::testing::AclUsers& users() {
  static const pepeunit::testing::AclUsers instance = [] {
    auto http = client();
    return pepeunit::testing::registerAclUsers(http, "acl");
  }();
  return instance;
}

std::string signed_(const nlohmann::ordered_json& claims) {
  return pepeunit::crypto::signJwt(claims, stack().backendEnv().at("BACKEND_SECRET_KEY"));
}

std::string unitToken(const std::string& unit) {
  nlohmann::ordered_json claims;
  claims["uuid"] = unit;
  claims["type"] = "Unit";
  return signed_(claims);
}

/// The shared fixture (harness/acl_world.hpp) on this file's stack.
struct World : pepeunit::testing::AclWorld {
  World() : AclWorld(stack(), users()) {}
};

/// Listens on the ACL events channel from construction (subscribed before it returns).
class EventRecorder {
 public:
  explicit EventRecorder(const pepeunit::cache::redis::RedisUrl& url)
      : subscriber_(url, {"pepeunit:acl:v1:events"},
                    {.on_message =
                         [this](std::string_view, std::string_view message) {
                           std::lock_guard lock(mutex_);
                           events_.push_back(json::parse(message, nullptr, false));
                         },
                     .on_subscribed = [this] { subscribed_ = true; },
                     .on_disconnected = nullptr}) {
    subscriber_.start();
    REQUIRE(pepeunit::testing::pollUntil([this] { return subscribed_.load(); },
                                         std::chrono::seconds(5)));
  }

  /// The first event with this kind ("" = any) and principal hash ("" = any), waited for.
  std::optional<json> await(const std::string& kind, const std::string& hash,
                            std::chrono::seconds timeout = std::chrono::seconds(5)) {
    std::optional<json> found;
    pepeunit::testing::pollUntil(
        [&] {
          std::lock_guard lock(mutex_);
          for (const auto& e : events_) {
            if (e.is_object() && (kind.empty() || e.value("kind", "") == kind) &&
                (hash.empty() || e.value("principal_hash", "") == hash)) {
              found = e;
              return true;
            }
          }
          return false;
        },
        timeout);
    return found;
  }

 private:
  std::mutex mutex_;
  std::vector<json> events_;
  std::atomic<bool> subscribed_{false};
  pepeunit::cache::redis::RedisSubscriber subscriber_;  // last: stops first
};

HttpResponse fetchRules(const std::string& principal, const std::string& bearer) {
  pepeunit::testing::HttpHeaders headers;
  if (!bearer.empty())
    headers.emplace("Authorization", "Bearer " + bearer);
  return client().post(kApi + "/mqtt/acl/rules", json{{"principal", principal}}, headers);
}

/// filter → action names of its rule (all rules are "allow").
std::map<std::string, std::set<std::string>> rulesByFilter(const json& body) {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& rule : body.at("rules")) {
    CHECK(rule.at("permission") == "allow");
    for (const auto& action : rule.at("actions"))
      out[rule.at("filter")].insert(action);
  }
  return out;
}

const std::set<std::string> kRecv{"subscribe", "read"};
const std::set<std::string> kAll3{"publish", "subscribe", "read"};

std::string check(const std::string& token, const std::string& topic) {
  const auto r = client().post(kApi + "/units/auth", json{{"token", token}, {"topic", topic}});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  return r.json().at("result");
}

}  // namespace

TEST_CASE("rules endpoint: bearer token and principals") {
  const World w;
  const std::string principal = "unit:" + w.unit_a;
  CHECK(fetchRules(principal, "").status == 403);
  CHECK(fetchRules(principal, kPluginToken + "x").status == 403);
  CHECK(fetchRules(principal, kPluginToken.substr(1)).status == 403);
  {
    // A user token in the header the REST API uses is not the plugin's token.
    pepeunit::testing::HttpHeaders headers{{"x-auth-token", w.u.alice.token}};
    CHECK(client().post(kApi + "/mqtt/acl/rules", json{{"principal", principal}}, headers).status ==
          403);
  }
  CHECK(fetchRules(principal, kPluginToken).status == 200);
  CHECK(fetchRules("unit:" + w.u.alice.uuid, kPluginToken).status == 404);  // a user uuid
  CHECK(fetchRules("unit:nope", kPluginToken).status == 404);
  CHECK(fetchRules(w.unit_a, kPluginToken).status == 404);

  const auto backend = fetchRules("backend", kPluginToken);
  REQUIRE_MESSAGE(backend.status == 200, backend.body);
  CHECK(backend.json().at("superuser") == true);
  const auto parsed = pepeunit::domain::parseRuleSet(backend.body);
  REQUIRE(parsed);
  CHECK(parsed->superuser);
}

TEST_CASE("rules endpoint: direction-aware rule set of a unit") {
  const World w;
  const auto r = fetchRules("unit:" + w.unit_a, kPluginToken);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  const auto body = r.json();
  REQUIRE(pepeunit::domain::parseRuleSet(r.body));  // the plugin's own parser accepts it
  CHECK(body.at("superuser") == false);
  CHECK(body.at("ttl").get<int>() > 0);
  CHECK(body.at("stale_ttl").get<int>() >= body.at("ttl").get<int>());
  const auto v1 = body.at("version").get<std::uint64_t>();
  const auto rules = rulesByFilter(body);
  const std::string d = domainRoot() + "/";
  const auto at = [&](const std::string& filter) {
    const auto it = rules.find(filter);
    return it == rules.end() ? std::set<std::string>{} : it->second;
  };
  CHECK(at(d + "output_base_topic/" + w.unit_a + "/+/pepeunit") ==
        std::set<std::string>{"publish"});
  CHECK(at(d + "input_base_topic/" + w.unit_a + "/+/pepeunit") == kRecv);
  for (const std::string suffix : {"", "/pepeunit"}) {
    CHECK(at(d + w.a_out + suffix) == kAll3);      // own Output
    CHECK(at(d + w.a_in + suffix) == kRecv);       // own Input
    CHECK(at(d + w.b_out + suffix) == kRecv);      // linked (and Internal)
    CHECK(at(d + w.b_in + suffix) == kAll3);       // another unit's rewritable Input
    CHECK(at(d + w.b_fixed + suffix) == kRecv);    // not rewritable
    CHECK(at(d + w.b_granted + suffix) == kRecv);  // Private with a grant
    CHECK(at(d + w.b_hidden + suffix).empty());    // Private without
  }
  // No base topics of another unit.
  for (const auto& [filter, actions] : rules) {
    CHECK(filter.find(w.unit_b) == std::string::npos);
  }
  // Unchanged access: the same set again (from the backend's cache while it hears the events
  // channel, else recomputed with a newer version); never an older one.
  const auto again = fetchRules("unit:" + w.unit_a, kPluginToken);
  CHECK(again.json().at("version").get<std::uint64_t>() >= v1);
  CHECK(again.json().at("rules") == r.json().at("rules"));
}

TEST_CASE("check endpoint: one decision per principal, action and topic") {
  const World w;
  const std::string d = domainRoot() + "/";
  const auto ask = [](const json& body, const std::string& bearer = kPluginToken) {
    pepeunit::testing::HttpHeaders headers;
    if (!bearer.empty())
      headers.emplace("Authorization", "Bearer " + bearer);
    return client().post(kApi + "/mqtt/acl/check", body, headers);
  };
  const auto result = [&](const std::string& action, const std::string& topic) -> std::string {
    const auto r = ask({{"principal", "unit:" + w.unit_a}, {"action", action}, {"topic", topic}});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.json().at("ttl").get<int>() > 0);
    return r.json().at("result");
  };
  CHECK(result("publish", d + w.a_out) == "allow");
  CHECK(result("publish", d + w.a_in) == "deny");
  CHECK(result("publish", d + w.b_in + "/pepeunit") == "allow");  // rewritable
  CHECK(result("publish", d + w.b_fixed) == "deny");
  CHECK(result("subscribe", d + w.b_fixed) == "allow");
  CHECK(result("read", d + w.b_granted + "/pepeunit") == "allow");
  CHECK(result("read", d + w.b_hidden) == "deny");
  CHECK(result("subscribe", d + "#") == "deny");
  CHECK(result("unsubscribe", d + "#") == "allow");

  const json body{{"principal", "unit:" + w.unit_a}, {"action", "read"}, {"topic", d + w.a_out}};
  CHECK(ask(body, "").status == 403);
  CHECK(ask(body, kPluginToken + "x").status == 403);
  CHECK(ask({{"principal", "unit:" + w.u.alice.uuid}, {"action", "read"}, {"topic", "x"}}).status ==
        404);
  const auto bad_action =
      ask({{"principal", "unit:" + w.unit_a}, {"action", "write"}, {"topic", "x"}});
  CHECK(bad_action.status == 422);
  CHECK(bad_action.body.find("action") != std::string::npos);
  CHECK(ask({{"principal", "unit:" + w.unit_a}, {"action", "read"}}).status == 422);
}

TEST_CASE("POST /units/auth: EMQX-compatible decisions") {
  const World w;
  const std::string d = domainRoot() + "/";
  const auto a = unitToken(w.unit_a);
  CHECK(check(a, d + "output_base_topic/" + w.unit_a + "/state/pepeunit") == "allow");
  CHECK(check(a, d + "input_base_topic/" + w.unit_a + "/update/pepeunit") == "allow");
  CHECK(check(a, d + "input_base_topic/" + w.unit_b + "/update/pepeunit") == "deny");
  CHECK(check(a, d + "output_base_topic/" + w.unit_b + "/state/pepeunit") == "deny");
  CHECK(check(a, d + w.a_out + "/pepeunit") == "allow");
  CHECK(check(a, d + w.b_fixed + "/pepeunit") == "allow");  // visible: subscribe
  CHECK(check(a, d + w.b_granted) == "allow");
  CHECK(check(a, d + w.b_hidden + "/pepeunit") == "deny");
  CHECK(check(a, d + "+/pepeunit") == "deny");
  CHECK(check(a, d + "input_base_topic/" + w.unit_a + "/+/pepeunit") == "deny");
  CHECK(check(a, "#") == "deny");
  CHECK(check(a, d + "#") == "deny");
  CHECK(check(w.u.alice.token, d + w.a_out + "/pepeunit") == "deny");  // a user token
  CHECK(check("garbage", d + w.a_out + "/pepeunit") == "deny");
  // A token for a unit that does not exist, and one signed with another key.
  CHECK(check(unitToken(w.u.alice.uuid), d + w.a_out + "/pepeunit") == "deny");
  nlohmann::ordered_json claims;
  claims["uuid"] = w.unit_a;
  claims["type"] = "Unit";
  CHECK(check(pepeunit::crypto::signJwt(claims, "another-secret-key-0123"),
              d + w.a_out + "/pepeunit") == "deny");
  // The backend's own token may use anything under the domain.
  nlohmann::ordered_json backend;
  backend["domain"] = domainRoot();
  backend["type"] = "Backend";
  backend["exp"] = std::time(nullptr) + 600;
  CHECK(check(signed_(backend), d + w.b_hidden + "/pepeunit") == "allow");
  // Malformed bodies are a deny, never an error.
  const auto bad = client().post(kApi + "/units/auth", std::string("{not json"));
  REQUIRE(bad.status == 200);
  CHECK(bad.json().at("result") == "deny");
  const auto missing = client().post(kApi + "/units/auth", json{{"token", a}});
  REQUIRE(missing.status == 200);
  CHECK(missing.json().at("result") == "deny");
}

TEST_CASE("revoking a permission writes the rule set to Redis and publishes an event") {
  const World w;
  const std::string hash = pepeunit::crypto::toHex(pepeunit::crypto::sha256("unit:" + w.unit_a));
  const auto redis_url = pepeunit::cache::redis::parseRedisUrl(stack().redis().url());
  REQUIRE(redis_url);

  EventRecorder recorder(*redis_url);

  const auto before = fetchRules("unit:" + w.unit_a, kPluginToken);
  REQUIRE(before.status == 200);
  const auto version_before = before.json().at("version").get<std::uint64_t>();

  // bob created b_granted, so bob may revoke A's grant on it.
  const auto revoked =
      client().del(kApi + "/permission?agent_uuid=" + w.unit_a + "&resource_uuid=" + w.b_granted,
                   pepeunit::testing::HttpHeaders{{"x-auth-token", w.u.bob.token}});
  REQUIRE_MESSAGE(revoked.status / 100 == 2, revoked.body);

  const auto event = recorder.await("", hash);
  REQUIRE(event);
  CHECK(event->at("kind") == "revoke");
  const auto version = event->at("version").get<std::uint64_t>();
  CHECK(version > version_before);

  pepeunit::cache::redis::RedisClient redis(*redis_url, std::chrono::milliseconds(1000));
  const auto key = "pepeunit:acl:v1:rules:" + hash;
  const auto stored = redis.get(key);
  REQUIRE(stored);
  const auto rules = pepeunit::domain::parseRuleSet(*stored);
  REQUIRE(rules);
  CHECK(rules->version == version);
  const std::string d = domainRoot() + "/";
  bool still_granted = false;
  bool own_output = false;
  for (const auto& rule : rules->rules) {
    still_granted = still_granted || rule.filter.starts_with(d + w.b_granted);
    own_output = own_output || rule.filter == d + w.a_out;
  }
  CHECK_FALSE(still_granted);
  CHECK(own_output);
  const auto ttl = redis.ttl(key);
  REQUIRE(ttl);
  CHECK(*ttl > 0);
  CHECK(*ttl <= rules->stale_ttl_s);
  // No key carries a token or a raw uuid.
  const auto keys = redis.command({"KEYS", "pepeunit:acl:*"});
  for (const auto& k : keys.elements) {
    CHECK(k.str.find(w.unit_a) == std::string::npos);
  }

  // After the change the endpoint answers the same (current) rules.
  const auto after = fetchRules("unit:" + w.unit_a, kPluginToken);
  CHECK(after.body.find(w.b_granted) == std::string::npos);
}

TEST_CASE("visibility change and unit deletion are announced") {
  const World w;
  const std::string hash_a = pepeunit::crypto::toHex(pepeunit::crypto::sha256("unit:" + w.unit_a));
  const std::string hash_b = pepeunit::crypto::toHex(pepeunit::crypto::sha256("unit:" + w.unit_b));
  const auto redis_url = pepeunit::cache::redis::parseRedisUrl(stack().redis().url());
  REQUIRE(redis_url);
  EventRecorder recorder(*redis_url);
  const auto seen = [&](const std::string& kind, const std::string& hash) {
    return recorder.await(kind, hash).has_value();
  };

  // A stored rule set that the global invalidation must drop.
  pepeunit::cache::redis::RedisClient redis(*redis_url, std::chrono::milliseconds(1000));
  const auto key_a = "pepeunit:acl:v1:rules:" + hash_a;
  REQUIRE(redis.set(key_a, "{}", std::chrono::seconds(60)));

  const auto patched =
      client().patch(kApi + "/unit_nodes/" + w.b_fixed, json{{"visibility_level", "Private"}},
                     pepeunit::testing::HttpHeaders{{"x-auth-token", w.u.bob.token}});
  REQUIRE_MESSAGE(patched.status == 200, patched.body);
  CHECK(seen("all", ""));
  CHECK_FALSE(redis.get(key_a));
  const auto rules = fetchRules("unit:" + w.unit_a, kPluginToken);
  CHECK(rules.body.find(w.b_fixed) == std::string::npos);  // now Private, no grant

  const auto deleted = client().del(
      kApi + "/units/" + w.unit_b, pepeunit::testing::HttpHeaders{{"x-auth-token", w.u.bob.token}});
  REQUIRE_MESSAGE(deleted.status / 100 == 2, deleted.body);
  CHECK(seen("deleted", hash_b));
  CHECK(fetchRules("unit:" + w.unit_b, kPluginToken).status == 404);
}

TEST_CASE("a time-limited grant that lapses is announced like a revoke") {
  const World w;
  const std::string hash = pepeunit::crypto::toHex(pepeunit::crypto::sha256("unit:" + w.unit_a));
  const auto redis_url = pepeunit::cache::redis::parseRedisUrl(stack().redis().url());
  REQUIRE(redis_url);
  EventRecorder recorder(*redis_url);
  {
    pqxx::connection conn(stack().pg().url());
    pqxx::work tx(conn);
    tx.exec_params(
        "INSERT INTO permissions (agent_type, agent_unit_uuid, resource_type,"
        " resource_unit_node_uuid, valid_until) VALUES ('Unit', $1, 'UnitNode', $2,"
        " (now() AT TIME ZONE 'UTC') + interval '2 seconds')",
        w.unit_a, w.b_hidden);
    tx.commit();
  }
  const std::string hidden = domainRoot() + "/" + w.b_hidden + "/pepeunit";
  CHECK(rulesByFilter(fetchRules("unit:" + w.unit_a, kPluginToken).json()).contains(hidden));
  // Nobody calls an endpoint: the backend notices the lapse by itself (checked every second).
  const auto event = recorder.await("revoke", hash, std::chrono::seconds(15));
  REQUIRE(event);
  CHECK_FALSE(rulesByFilter(fetchRules("unit:" + w.unit_a, kPluginToken).json()).contains(hidden));
}

TEST_CASE("a change made through another backend instance reaches this one's rule-set cache") {
  // A cache ttl far beyond the deadline: only the Redis event can make instance one forget.
  pepeunit::testing::Stack stack(
      pepeunit::testing::StackOptions::withEnv({{"BACKEND_ACL_CACHE_TTL", "3600"}}));
  auto env = stack.backendEnv();
  env["BACKEND_HTTP_PORT"] = std::to_string(pepeunit::testing::freePort());
  std::filesystem::create_directories(stack.dir() / "backend2");
  pepeunit::testing::BackendProcess second(stack.dir() / "backend2");
  second.start(env);
  second.waitReady();
  HttpClient one("127.0.0.1", stack.backend().port());
  HttpClient two("127.0.0.1", second.port());
  const auto users = pepeunit::testing::registerAclUsers(one, "cache");
  const pepeunit::testing::AclWorld w(stack, users);
  const auto rulesFrom = [&](HttpClient& http) {
    const auto r = http.post(
        kApi + "/mqtt/acl/rules", json{{"principal", "unit:" + w.unit_a}},
        pepeunit::testing::HttpHeaders{{"Authorization", "Bearer " + stack.pluginToken()}});
    REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.json();
  };
  const std::string granted = stack.domain() + "/" + w.b_granted + "/pepeunit";
  // Served from instance one's memory: the same version twice (once its event stream is live).
  REQUIRE(pepeunit::testing::pollUntil(
      [&] { return rulesFrom(one).at("version") == rulesFrom(one).at("version"); },
      std::chrono::seconds(10)));
  REQUIRE(rulesByFilter(rulesFrom(one)).contains(granted));

  const auto revoked =
      two.del(kApi + "/permission?agent_uuid=" + w.unit_a + "&resource_uuid=" + w.b_granted,
              pepeunit::testing::HttpHeaders{{"x-auth-token", users.bob.token}});
  REQUIRE_MESSAGE(revoked.status / 100 == 2, revoked.body);
  CHECK(pepeunit::testing::pollUntil(
      [&] { return !rulesByFilter(rulesFrom(one)).contains(granted); }, std::chrono::seconds(10)));
}

TEST_CASE("rules endpoint is disabled without BACKEND_PLUGIN_TOKEN") {
  // A broker without our plugin: with no token there is nothing for the plugin to present.
  auto options = pepeunit::testing::StackOptions::withEnv({{"BACKEND_PLUGIN_TOKEN", ""}});
  options.auth_plugin = false;
  pepeunit::testing::Stack bare(std::move(options));
  HttpClient http("127.0.0.1", bare.backend().port());
  const auto r = http.post(kApi + "/mqtt/acl/rules", json{{"principal", "backend"}},
                           pepeunit::testing::HttpHeaders{{"Authorization", "Bearer "}});
  CHECK(r.status == 404);
  const auto emqx = http.post(kApi + "/units/auth", json{{"token", "x"}, {"topic", "a/b"}});
  REQUIRE(emqx.status == 200);
  CHECK(emqx.json().at("result") == "deny");
}
