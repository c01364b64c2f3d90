// pepeunit_auth.so inside a real Mosquitto 2.0.11, with a real Redis and a fake backend (an
// in-test cpp-httplib server serving the rule-set endpoint from a mutable map, counting calls,
// with a programmable delay). Clients are libmosquitto clients speaking MQTT 3.1.1.
//
// Covers: who may connect (unit, backend, forged/alg:none/other-key/user/anonymous/unknown),
// publish/subscribe/delivery for base and node topics and the wildcard filters, revocation and
// deletion through Redis events (kick within 1 s, new rules on reconnect), the outage policy
// (Redis and backend down: connected units keep working and stay connected, unknown ones are
// refused, all is well after recovery) and the stall test (backend answering after 5 s, Redis
// SIGSTOPped: a warm publisher → 10 subscribers path keeps delivering).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <httplib.h>
#include <mosquitto.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "authplugin/principal.hpp"
#include "cache/redis/redis_client.hpp"
#include "crypto/base64.hpp"
#include "crypto/jwt.hpp"
#include "integration/harness/mosquitto_server.hpp"
#include "integration/harness/mqtt_packets.hpp"
#include "integration/harness/mqtt_probe.hpp"
#include "integration/harness/redis_server.hpp"
#include "integration/harness/tcp_probe.hpp"
#include "integration/harness/temp_dir.hpp"
#include "integration/harness/wait.hpp"

using pepeunit::testing::MosquittoServer;
using pepeunit::testing::pollUntil;
using pepeunit::testing::RedisServer;
using pepeunit::testing::TempDir;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Json = nlohmann::json;

namespace {

constexpr const char* kDomain = "unit.example.com";
constexpr const char* kSecret = "integration-secret-key";
constexpr const char* kBrokerToken = "broker-bearer-token";
constexpr const char* kRulesPath = "/pepeunit/api/v1/mqtt/acl/rules";
constexpr int kConnackRefused = pepeunit::testing::kConnackNotAuthorized;
using pepeunit::testing::kSubackFailure;

const std::string kUnitA = "0a000000-0000-4000-8000-00000000000a";
const std::string kUnitB = "0b000000-0000-4000-8000-00000000000b";
const std::string kUnitC = "0c000000-0000-4000-8000-00000000000c";
const std::string kUnknown = "0e000000-0000-4000-8000-00000000000e";
const std::string kNodeA = "1a000000-0000-4000-8000-00000000001a";  // an Output of unit A
const std::string kNodeX = "1f000000-0000-4000-8000-00000000001f";

struct MosquittoLib {
  MosquittoLib() { mosquitto_lib_init(); }
  ~MosquittoLib() { mosquitto_lib_cleanup(); }
} mosquitto_lib;

std::string d(const std::string& rest) {
  return std::string(kDomain) + "/" + rest;
}
std::string inputBase(const std::string& unit, const std::string& name = "update") {
  return d("input_base_topic/" + unit + "/" + name + "/pepeunit");
}
std::string outputBase(const std::string& unit, const std::string& name = "state") {
  return d("output_base_topic/" + unit + "/" + name + "/pepeunit");
}
std::string principalOf(const std::string& unit) {
  return "unit:" + unit;
}

// ---- tokens ------------------------------------------------------------------------------------

std::string unitToken(const std::string& uuid, const std::string& key = kSecret) {
  nlohmann::ordered_json claims;
  claims["uuid"] = uuid;
  claims["type"] = "Unit";
  return pepeunit::crypto::signJwt(claims, key);
}
std::string backendToken() {
  nlohmann::ordered_json claims;
  claims["domain"] = kDomain;
  claims["type"] = "Backend";
  claims["exp"] =
      std::chrono::duration_cast<seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count() +
      3600;
  return pepeunit::crypto::signJwt(claims, kSecret);
}
std::string userToken(const std::string& uuid) {
  nlohmann::ordered_json claims;
  claims["uuid"] = uuid;
  claims["type"] = "User";
  claims["exp"] = 4'000'000'000LL;
  return pepeunit::crypto::signJwt(claims, kSecret);
}
std::string algNoneToken(const std::string& uuid) {
  const auto b64 = [](const std::string& s) { return pepeunit::crypto::base64UrlEncode(s); };
  return b64(R"({"alg":"none","typ":"JWT"})") + "." +
         b64(R"({"uuid":")" + uuid + R"(","type":"Unit"})") + ".";
}
std::string forgedToken(const std::string& uuid) {
  auto token = unitToken(uuid);
  char& c = token[token.size() - 2];
  c = c == 'A' ? 'B' : 'A';
  return token;
}

// ---- rule sets served by the fake backend
// ---------------------------------------------------------

Json rule(const std::string& permission, std::vector<std::string> actions,
          const std::string& filter) {
  return Json{{"permission", permission}, {"actions", std::move(actions)}, {"filter", filter}};
}
Json ruleSet(std::uint64_t version, std::vector<Json> rules, int ttl = 0) {
  Json out{{"version", version}, {"superuser", false}, {"rules", std::move(rules)}};
  if (ttl > 0) {
    out["ttl"] = ttl;
  }
  return out;
}

/// The backend's rule-set endpoint, faked: answers from a map, counts calls, may be slowed down.
class FakeBackend {
 public:
  explicit FakeBackend(std::string token) : token_(std::move(token)) {}
  ~FakeBackend() { stop(); }

  void start(int port = 0) {
    stop();
    releasing_ = false;
    server_ = std::make_unique<httplib::Server>();
    server_->set_tcp_nodelay(true);
    server_->Post(kRulesPath, [this](const httplib::Request& req, httplib::Response& res) {
      ++calls_;
      ++inflight_;
      {
        std::unique_lock lock(mutex_);
        released_.wait_for(lock, milliseconds(delay_ms_.load()), [this] { return releasing_; });
      }
      if (req.get_header_value("Authorization") != "Bearer " + token_) {
        ++unauthorized_;
        res.status = 401;
      } else {
        const auto body = Json::parse(req.body, nullptr, false);
        const std::string principal =
            body.is_object() ? body.value("principal", std::string()) : std::string();
        std::lock_guard lock(mutex_);
        if (const auto it = rules_.find(principal); it != rules_.end()) {
          res.set_content(it->second.dump(), "application/json");
          res.status = 200;
        } else {
          res.status = 404;
        }
      }
      --inflight_;
    });
    port_ = port == 0 ? server_->bind_to_any_port("127.0.0.1")
                      : (server_->bind_to_port("127.0.0.1", port) ? port : -1);
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    REQUIRE(pollUntil([this] { return server_->is_running(); }, seconds(5)));
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      releasing_ = true;  // slow handlers finish now
    }
    released_.notify_all();
    if (server_) {
      server_->stop();
    }
    if (thread_.joinable()) {
      thread_.join();
    }
    server_.reset();
  }

  void set(const std::string& unit, Json rules) {
    std::lock_guard lock(mutex_);
    rules_[principalOf(unit)] = std::move(rules);
  }
  void remove(const std::string& unit) {
    std::lock_guard lock(mutex_);
    rules_.erase(principalOf(unit));
  }
  void setDelay(milliseconds delay) { delay_ms_ = static_cast<int>(delay.count()); }

  int port() const { return port_; }
  int calls() const { return calls_; }
  int inflight() const { return inflight_; }
  int unauthorized() const { return unauthorized_; }

 private:
  std::string token_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  std::condition_variable released_;
  bool releasing_ = false;
  std::map<std::string, Json> rules_;
  std::atomic<int> delay_ms_{0};
  std::atomic<int> calls_{0};
  std::atomic<int> inflight_{0};
  std::atomic<int> unauthorized_{0};
};

using Client = pepeunit::testing::MqttProbe;

// ---- the stack -------------------------------------------------------------------------------

using PluginOpts = std::vector<std::pair<std::string, std::string>>;

struct Stack {
  TempDir dir;
  RedisServer redis{dir.path() / "redis"};
  FakeBackend backend{kBrokerToken};
  std::unique_ptr<MosquittoServer> broker;  // last: stops first

  explicit Stack(const PluginOpts& extra_opts = {}) {
    redis.start();
    backend.start();
    const auto key_file = dir.path() / "jwt.key";
    const auto token_file = dir.path() / "broker.token";
    std::ofstream(key_file) << kSecret << "\n";
    std::ofstream(token_file) << kBrokerToken << "\n";
    MosquittoServer::Options options;
    options.allow_anonymous = false;
    options.tls = false;
    options.plugin = PEPEUNIT_PLUGIN_PATH;
    options.plugin_opts = {
        {"jwt_key_file", key_file.string()},
        {"domain", kDomain},
        {"backend_url", "http://127.0.0.1:" + std::to_string(backend.port())},
        {"backend_token_file", token_file.string()},
        {"redis_url", redis.url()},
        {"metrics_interval_s", "1"},
    };
    options.plugin_opts.insert(options.plugin_opts.end(), extra_opts.begin(), extra_opts.end());
    broker = std::make_unique<MosquittoServer>(dir.path() / "mqtt", options);
    broker->start();
  }

  int port() const { return broker->port(); }

  /// A connected client, retrying while the plugin is still loading the principal's rules
  /// (a CONNECT may be refused when the load takes longer than fetch_timeout_ms).
  std::unique_ptr<Client> connected(const std::string& username) {
    std::unique_ptr<Client> client;
    const bool ok = pollUntil(
        [&] {
          client = std::make_unique<Client>(port(), username);
          return client->connect() == 0;
        },
        seconds(10), milliseconds(50));
    INFO("broker log:\n" << broker->logText());
    REQUIRE(ok);
    return client;
  }

  int connackFor(std::optional<std::string> username) {
    Client client(port(), std::move(username));
    return client.connect();
  }

  void publishEvent(const std::string& unit, std::uint64_t version, const std::string& kind) {
    pepeunit::cache::redis::RedisClient redis_client(
        *pepeunit::cache::redis::parseRedisUrl(redis.url()), milliseconds(1000));
    const Json event{{"principal_hash", pepeunit::authplugin::principalHash(principalOf(unit))},
                     {"version", version},
                     {"kind", kind}};
    REQUIRE(redis_client.publish("pepeunit:acl:v1:events", event.dump()));
  }
};

/// Connects with a will and drops the TCP connection without DISCONNECT; true if accepted.
bool connectAndVanish(int port, const std::string& client_id, const std::string& username,
                      const std::string& will_topic, const std::string& will_message) {
  const auto reply = pepeunit::testing::tcpExchange(
      port,
      pepeunit::testing::mqttConnectPacket({.client_id = client_id,
                                            .username = username,
                                            .will = std::pair{will_topic, will_message},
                                            .keepalive_s = 10}),
      [](std::string_view got) { return got.size() >= 4; }, seconds(5));
  return reply && (*reply)[0] == '\x20' && (*reply)[3] == '\0';
}

/// Publishes `payload` on `topic` until `receiver` has it (subscriptions settle asynchronously).
bool publishUntilReceived(Client& publisher, Client& receiver, const std::string& topic,
                          const std::string& payload) {
  return pollUntil(
      [&] {
        publisher.publish(topic, payload);
        return pollUntil([&] { return receiver.received(topic, payload); }, milliseconds(200));
      },
      seconds(10));
}

}  // namespace

TEST_CASE("authplugin: who may connect") {
  Stack stack(PluginOpts{{"fetch_timeout_ms", "1000"}});
  stack.backend.set(kUnitA, ruleSet(1, {}));

  auto backend = stack.connected(backendToken());
  REQUIRE(backend->subscribe("$SYS/pepeunit/auth/#") == 1);
  const auto metric = [&](const std::string& name) {
    const auto value = backend->last("$SYS/pepeunit/auth/" + name);
    return value ? std::stoi(*value) : -1;
  };
  CHECK(stack.connected(unitToken(kUnitA)));
  CHECK(stack.connackFor(unitToken(kUnitA)) == 0);                  // now from memory
  CHECK(stack.connackFor(unitToken(kUnknown)) == kConnackRefused);  // the backend says 404
  // Settle: every rules call the backend served has been applied by the plugin.
  CHECK(pollUntil(
      [&] {
        return metric("fetch_not_found") >= 1 &&
               metric("fetch_backend") + metric("fetch_not_found") == stack.backend.calls();
      },
      seconds(10)));
  const int calls = stack.backend.calls();
  CHECK(stack.connackFor(forgedToken(kUnitA)) == kConnackRefused);
  CHECK(stack.connackFor(algNoneToken(kUnitA)) == kConnackRefused);
  CHECK(stack.connackFor(unitToken(kUnitA, "another-secret")) == kConnackRefused);
  CHECK(stack.connackFor(userToken(kUnitA)) == kConnackRefused);
  CHECK(stack.connackFor(std::nullopt) == kConnackRefused);
  CHECK(stack.connackFor(std::string("garbage")) == kConnackRefused);
  CHECK(stack.connackFor(unitToken(kUnknown)) == kConnackRefused);  // remembered: no new call

  // Nothing unverified reached the backend, and every call carried the bearer token.
  CHECK(stack.backend.calls() == calls);
  CHECK(stack.backend.unauthorized() == 0);
  // The plugin's own log lines name no token (Mosquitto itself logs usernames on connect).
  std::istringstream log(stack.broker->logText());
  int plugin_lines = 0;
  for (std::string line; std::getline(log, line);) {
    if (line.find("pepeunit_auth") != std::string::npos) {
      ++plugin_lines;
      CHECK(line.find(unitToken(kUnitA)) == std::string::npos);
      CHECK(line.find(kBrokerToken) == std::string::npos);
      CHECK(line.find(kSecret) == std::string::npos);
    }
  }
  CHECK(plugin_lines > 0);
}

TEST_CASE("authplugin: publish, subscribe and delivery for base and node topics") {
  Stack stack(PluginOpts{{"fetch_timeout_ms", "1000"}});
  const std::string node_a = d(kNodeA + "/pepeunit");
  stack.backend.set(kUnitA, ruleSet(1, {rule("allow", {"publish"}, node_a),
                                        rule("allow", {"publish"}, d(kNodeA))}));
  stack.backend.set(kUnitB, ruleSet(1, {rule("allow", {"subscribe", "read"}, node_a)}));

  auto backend = stack.connected(backendToken());
  auto a = stack.connected(unitToken(kUnitA));
  auto b = stack.connected(unitToken(kUnitB));
  REQUIRE(backend->subscribe(d("#")) == 1);
  REQUIRE(backend->subscribe("$SYS/pepeunit/auth/#") == 1);

  // Subscriptions: own input base topic (also wildcarded, also shared) yes; others and
  // broad wildcards no.
  CHECK(a->subscribe(inputBase(kUnitA)) == 1);
  CHECK(a->subscribe(d("input_base_topic/" + kUnitA + "/+/pepeunit")) == 1);
  CHECK(a->subscribe("$share/g/" + inputBase(kUnitA, "env_update")) == 1);
  CHECK(a->subscribe(inputBase(kUnitB)) == kSubackFailure);
  CHECK(a->subscribe(outputBase(kUnitA)) == kSubackFailure);
  CHECK(a->subscribe(d("input_base_topic/" + kUnitA + "/#")) == kSubackFailure);
  for (const std::string& filter :
       {std::string("#"), d("#"), d("+"), std::string("$SYS/#"), "$share/g/" + d("#")}) {
    INFO("filter " << filter);
    CHECK(a->subscribe(filter) == kSubackFailure);
  }
  CHECK(b->subscribe(node_a) == 1);
  CHECK(b->subscribe(d(kNodeX + "/pepeunit")) == kSubackFailure);

  // Delivery: the backend commands A through its input base topic.
  CHECK(publishUntilReceived(*backend, *a, inputBase(kUnitA), R"({"COMMAND":"EnvUpdate"})"));
  // A's state reaches the backend; a publish to B's output base topic is dropped (the marker
  // sent after it on the same connection arrives, so the dropped one would have arrived first).
  CHECK(a->publish(outputBase(kUnitB), "spoofed"));
  CHECK(publishUntilReceived(*a, *backend, outputBase(kUnitA), "state-1"));
  CHECK_FALSE(backend->received(outputBase(kUnitB), "spoofed"));
  // A's Output node reaches B (linked) and the backend.
  CHECK(publishUntilReceived(*a, *b, node_a, "42"));
  CHECK(pollUntil([&] { return backend->received(node_a, "42"); }, seconds(5)));
  CHECK(a->publish(d(kNodeA), "raw"));  // the suffix-less form is a node topic as well
  // B may read the node but not write it.
  CHECK(b->publish(node_a, "hijack"));
  CHECK(b->publish(outputBase(kUnitB), "b-marker"));
  CHECK(pollUntil([&] { return backend->received(outputBase(kUnitB), "b-marker"); }, seconds(5)));
  CHECK_FALSE(backend->received(node_a, "hijack"));
  CHECK_FALSE(b->received(node_a, "hijack"));
  CHECK(pollUntil([&] { return backend->received(d(kNodeA), "raw"); }, seconds(5)));

  // Wills are checked after DISCONNECT: a will on A's own topic is delivered, one on B's is not.
  REQUIRE(connectAndVanish(stack.port(), "will-denied", unitToken(kUnitA), outputBase(kUnitB),
                           "will-spoofed"));
  REQUIRE(connectAndVanish(stack.port(), "will-allowed", unitToken(kUnitA), outputBase(kUnitA),
                           "will-offline"));
  CHECK(
      pollUntil([&] { return backend->received(outputBase(kUnitA), "will-offline"); }, seconds(5)));
  CHECK_FALSE(backend->received(outputBase(kUnitB), "will-spoofed"));

  // The plugin's counters, readable by the backend identity.
  CHECK(pollUntil(
      [&] {
        const auto value = backend->last("$SYS/pepeunit/auth/connects_allowed");
        return value && std::stoi(*value) >= 3;  // published every metrics_interval_s
      },
      seconds(5)));
  CHECK_FALSE(a->lost());
  CHECK_FALSE(b->lost());
}

TEST_CASE("authplugin: revocation and deletion take effect within 1 s") {
  Stack stack(PluginOpts{{"fetch_timeout_ms", "1000"}});
  const std::string node = d(kNodeX + "/pepeunit");
  stack.backend.set(kUnitA, ruleSet(1, {rule("allow", {"subscribe", "read"}, node)}));
  stack.backend.set(kUnitB, ruleSet(1, {}));
  stack.backend.set(kUnitC, ruleSet(1, {}));

  auto backend = stack.connected(backendToken());
  auto a = stack.connected(unitToken(kUnitA));
  auto b = stack.connected(unitToken(kUnitB));
  auto c = stack.connected(unitToken(kUnitC));
  REQUIRE(a->subscribe(node) == 1);
  REQUIRE(publishUntilReceived(*backend, *a, node, "before"));

  SUBCASE("revoke: kicked, and a reconnect gets the new rules") {
    stack.backend.set(kUnitA, ruleSet(2, {}));
    stack.publishEvent(kUnitA, 2, "revoke");
    CHECK(pollUntil([&] { return a->lost(); }, milliseconds(1000)));
    auto again = stack.connected(unitToken(kUnitA));
    CHECK(again->subscribe(node) == kSubackFailure);
    CHECK_FALSE(b->lost());  // nobody else is touched
  }
  SUBCASE("deleted: kicked, and refused afterwards") {
    stack.backend.remove(kUnitB);
    stack.publishEvent(kUnitB, 0, "deleted");
    CHECK(pollUntil([&] { return b->lost(); }, milliseconds(1000)));
    CHECK(stack.connackFor(unitToken(kUnitB)) == kConnackRefused);
    CHECK_FALSE(a->lost());
  }
  SUBCASE("grant: no kick, the new permission works on the same connection") {
    stack.backend.set(kUnitC, ruleSet(2, {rule("allow", {"subscribe", "read"}, node)}));
    stack.publishEvent(kUnitC, 2, "grant");
    CHECK(pollUntil([&] { return c->subscribe(node) == 1; }, seconds(5)));
    CHECK(publishUntilReceived(*backend, *c, node, "granted"));
    CHECK_FALSE(c->lost());
  }
}

TEST_CASE("authplugin: an outage of Redis and the backend disconnects nobody") {
  // ttl 1 s: refreshes keep failing during the outage instead of waiting for a 5-minute ttl.
  Stack stack(PluginOpts{{"fetch_timeout_ms", "1000"}, {"ttl_s", "1"}});
  stack.backend.set(kUnitA, ruleSet(1, {}, 1));
  stack.backend.set(kUnknown, ruleSet(1, {}, 1));

  auto backend = stack.connected(backendToken());
  auto a = stack.connected(unitToken(kUnitA));
  REQUIRE(backend->subscribe(d("#")) == 1);
  REQUIRE(backend->subscribe("$SYS/pepeunit/auth/fetch_errors") == 1);
  REQUIRE(a->subscribe(inputBase(kUnitA)) == 1);
  REQUIRE(publishUntilReceived(*a, *backend, outputBase(kUnitA), "warm"));

  const int backend_port = stack.backend.port();
  stack.redis.stop();
  stack.backend.stop();
  // Wait until the plugin has really failed to refresh (its own counter says so).
  CHECK(pollUntil(
      [&] {
        const auto errors = backend->last("$SYS/pepeunit/auth/fetch_errors");
        return errors && std::stoi(*errors) > 0;
      },
      seconds(10)));

  CHECK(publishUntilReceived(*a, *backend, outputBase(kUnitA), "during-outage"));
  CHECK(publishUntilReceived(*backend, *a, inputBase(kUnitA), "command-during-outage"));
  auto second = stack.connected(unitToken(kUnitA));                 // a known unit still gets in
  CHECK(stack.connackFor(unitToken(kUnknown)) == kConnackRefused);  // an unseen one does not
  CHECK_FALSE(a->lost());
  CHECK_FALSE(backend->lost());
  CHECK_FALSE(second->lost());

  stack.redis.start();
  stack.backend.start(backend_port);
  auto late = stack.connected(unitToken(kUnknown));
  CHECK(publishUntilReceived(*late, *backend, outputBase(kUnknown), "after-recovery"));
  CHECK(publishUntilReceived(*a, *backend, outputBase(kUnitA), "after-recovery"));
  CHECK_FALSE(a->lost());
}

TEST_CASE("authplugin: a stalled backend and a frozen Redis do not stall delivery") {
  // Default fetch_timeout_ms (20); ttl 1 s so refreshes are in flight during the stall.
  Stack stack(PluginOpts{{"ttl_s", "1"}});
  const std::string node = d(kNodeX + "/pepeunit");
  std::vector<std::string> subscribers;
  for (int i = 0; i < 10; ++i) {
    subscribers.push_back("5" + std::to_string(i) + "000000-0000-4000-8000-000000000000");
    stack.backend.set(subscribers.back(),
                      ruleSet(1, {rule("allow", {"subscribe", "read"}, node)}, 1));
  }
  stack.backend.set(kUnitA, ruleSet(1, {rule("allow", {"publish"}, node)}, 1));

  auto publisher = stack.connected(unitToken(kUnitA));
  std::vector<std::unique_ptr<Client>> clients;
  for (const auto& unit : subscribers) {
    clients.push_back(stack.connected(unitToken(unit)));
    REQUIRE(clients.back()->subscribe(node) == 1);
  }
  for (auto& client : clients) {
    REQUIRE(publishUntilReceived(*publisher, *client, node, "warm"));
  }

  stack.backend.setDelay(seconds(5));
  stack.redis.pause();
  // The stall is real: refreshes are stuck in the backend.
  REQUIRE(pollUntil([&] { return stack.backend.inflight() > 0; }, seconds(10)));

  constexpr int kMessages = 100;
  for (int i = 0; i < kMessages; ++i) {
    REQUIRE(publisher->publish(node, "m" + std::to_string(i)));
  }
  CHECK(stack.connackFor(unitToken(kUnknown)) == kConnackRefused);  // fails closed, fast
  for (std::size_t i = 0; i < clients.size(); ++i) {
    INFO("subscriber " << i);
    CHECK(pollUntil(
        [&] {
          for (int m = 0; m < kMessages; ++m) {
            if (!clients[i]->received(node, "m" + std::to_string(m))) {
              return false;
            }
          }
          return true;
        },
        seconds(20)));
    CHECK_FALSE(clients[i]->lost());
  }
  CHECK_FALSE(publisher->lost());

  stack.backend.setDelay(milliseconds(0));
  stack.redis.resume();
}
