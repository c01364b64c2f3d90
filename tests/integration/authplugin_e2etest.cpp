// Broker authorization end to end (issue 6 acceptance): real Mosquitto 2.0.11 loading
// pepeunit_auth.so, real Redis, the real backend computing rule sets from real Postgres rows.
// Clients are libmosquitto probes (MQTT 3.1.1) holding real tokens.
//
// Covers the allow/deny matrix for connect, publish, subscribe and delivery (own and foreign base
// topics, own/foreign Output and Input nodes × visibility × grant × is_rewritable_input, the
// broad wildcards, $SYS, $share, the backend identity, user/forged/alg:none/foreign-key/deleted
// tokens); revocation through REST (permission revoked, node made Private, edge deleted, unit
// deleted) stopping deliveries and kicking within 1 s; an outage of Redis and then the backend
// that disconnects nobody; and a stalled backend with a frozen Redis that does not stall a warm
// publisher → 10 subscribers path.
//
// Publishes are judged by a sentinel: after the publish under test the same client publishes to
// its own Output, which the backend probe (subscribed to `<domain>/#`) receives in order — so
// once the sentinel is in, a publish the broker accepted would be in too. No sleeps.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crypto/base64.hpp"
#include "crypto/jwt.hpp"
#include "integration/harness/acl_world.hpp"
#include "integration/harness/http_client.hpp"
#include "integration/harness/mqtt_probe.hpp"
#include "integration/harness/stack.hpp"
#include "integration/harness/wait.hpp"

using pepeunit::testing::AclUsers;
using pepeunit::testing::AclWorld;
using pepeunit::testing::apiPath;
using pepeunit::testing::authHeader;
using pepeunit::testing::HttpClient;
using pepeunit::testing::kConnackNotAuthorized;
using pepeunit::testing::kSubackFailure;
using pepeunit::testing::MqttProbe;
using pepeunit::testing::pollUntil;
using pepeunit::testing::Stack;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Json = nlohmann::json;

namespace {

constexpr int kGranted = 1;  // SUBACK for a QoS 1 subscription the broker accepted
constexpr auto kDeadline = seconds(10);
/// The acceptance bound for revocations (issue 6): affected clients are cut off within 1 s.
constexpr auto kRevocationBound = milliseconds(1000);

/// A connected probe; retried while the plugin is still loading the principal's rules.
std::unique_ptr<MqttProbe> connectedProbe(Stack& stack, const std::string& token) {
  std::unique_ptr<MqttProbe> probe;
  const bool ok = pollUntil(
      [&] {
        probe = std::make_unique<MqttProbe>(stack.mqtt().port(), token);
        return probe->connect() == 0;
      },
      kDeadline, milliseconds(50));
  REQUIRE_MESSAGE(ok, "no CONNACK 0; broker log:\n" << stack.mqtt().logText());
  return probe;
}

/// One stack + users + world for the whole file's read-only cases; mutating cases build their
/// own world (rows are per world, so they never see each other's changes).
class Fixture {
 public:
  explicit Fixture(Stack::Options options = {})
      : stack_(std::move(options)), http_("127.0.0.1", stack_.backend().port()) {
    users_ = pepeunit::testing::registerAclUsers(http_, "e2e");
  }

  Stack& stack() { return stack_; }
  HttpClient& http() { return http_; }
  const AclUsers& users() const { return users_; }
  std::string d(const std::string& rest) const { return stack_.domain() + "/" + rest; }
  std::string node(const std::string& uuid) const { return d(uuid + "/pepeunit"); }

  std::unique_ptr<MqttProbe> connected(const std::string& token) {
    return connectedProbe(stack_, token);
  }
  int connackFor(const std::optional<std::string>& token) {
    MqttProbe probe(stack_.mqtt().port(), token);
    return probe.connect();
  }

 private:
  Stack stack_;
  HttpClient http_;
  AclUsers users_;
};

Fixture& fixture() {
  static Fixture instance;
  return instance;
}

/// The same, with rule sets that list no foreign visible node (BACKEND_ACL_MAX_VISIBLE_NODES=0):
/// every such node is decided through the plugin's questions to /mqtt/acl/check.
Fixture& partialFixture() {
  static Fixture instance(Stack::Options::withEnv({{"BACKEND_ACL_MAX_VISIBLE_NODES", "0"}}));
  return instance;
}

std::string algNoneToken(const std::string& unit) {
  const auto b64 = [](const std::string& s) { return pepeunit::crypto::base64UrlEncode(s); };
  return b64(R"({"alg":"none","typ":"JWT"})") + "." +
         b64(R"({"uuid":")" + unit + R"(","type":"Unit"})") + ".";
}

std::string forgedToken(const std::string& unit) {
  auto token = fixture().stack().unitMqttToken(unit);
  char& c = token[token.size() - 2];
  c = c == 'A' ? 'B' : 'A';
  return token;
}

std::string foreignKeyToken(const std::string& unit) {
  nlohmann::ordered_json claims;
  claims["uuid"] = unit;
  claims["type"] = "Unit";
  return pepeunit::crypto::signJwt(claims, "a-key-that-is-not-the-backends");
}

/// What the backend probe sees of a publish: true when `topic`/`payload` got through the broker.
/// `sentinel_topic` is the publisher's own Output (always allowed): it arrives after the publish
/// under test, so its arrival settles the question.
bool delivered(MqttProbe& publisher, MqttProbe& observer, const std::string& topic,
               const std::string& sentinel_topic) {
  static std::atomic<int> n{0};
  const std::string payload = "p" + std::to_string(++n);
  const std::string sentinel = "s" + std::to_string(n);
  REQUIRE(publisher.publish(topic, payload));
  REQUIRE(publisher.publish(sentinel_topic, sentinel));
  REQUIRE_MESSAGE(pollUntil([&] { return observer.received(sentinel_topic, sentinel); }, kDeadline),
                  "sentinel on " << sentinel_topic << " never arrived");
  return observer.received(topic, payload);
}

/// Publishes on `topic` (as `publisher`, whose publish there is allowed) until `receiver` has
/// it: subscriptions settle asynchronously.
bool publishUntilReceived(MqttProbe& publisher, MqttProbe& receiver, const std::string& topic,
                          const std::string& payload) {
  return pollUntil(
      [&] {
        publisher.publish(topic, payload);
        return pollUntil([&] { return receiver.received(topic, payload); }, milliseconds(200));
      },
      kDeadline);
}

/// The plugin's own lines of the broker log (for failure messages).
std::string pluginLog(Stack& stack) {
  std::istringstream log(stack.mqtt().logText());
  std::string out;
  for (std::string line; std::getline(log, line);) {
    if (line.find("pepeunit_auth") != std::string::npos) {
      out += line + "\n";
    }
  }
  return out;
}

}  // namespace

TEST_CASE("who may connect: units and the backend yes; users, forgeries and strangers no") {
  auto& f = fixture();
  const AclWorld w(f.stack(), f.users());
  CHECK(f.connackFor(f.stack().unitMqttToken(w.unit_a)) == 0);
  CHECK(f.connackFor(f.stack().unitMqttToken(w.unit_b)) == 0);
  CHECK(f.connackFor(f.stack().backendMqttToken()) == 0);

  CHECK(f.connackFor(f.users().alice.token) == kConnackNotAuthorized);  // a user token
  CHECK(f.connackFor(forgedToken(w.unit_a)) == kConnackNotAuthorized);
  CHECK(f.connackFor(algNoneToken(w.unit_a)) == kConnackNotAuthorized);
  CHECK(f.connackFor(foreignKeyToken(w.unit_a)) == kConnackNotAuthorized);
  CHECK(f.connackFor(std::nullopt) == kConnackNotAuthorized);  // anonymous
  CHECK(f.connackFor(std::string("garbage")) == kConnackNotAuthorized);
  CHECK(f.connackFor(f.stack().unitMqttToken("0e000000-0000-4000-8000-00000000000e")) ==
        kConnackNotAuthorized);  // a unit the backend never had

  // A deleted unit's token: refused from the moment the delete answers.
  const auto deleted = f.http().del(apiPath("/units/" + w.unit_b), authHeader(w.u.bob.token));
  REQUIRE_MESSAGE(deleted.status / 100 == 2, deleted.body);
  CHECK(pollUntil(
      [&] { return f.connackFor(f.stack().unitMqttToken(w.unit_b)) == kConnackNotAuthorized; },
      kRevocationBound));
}

namespace {

void directionAwareMatrix(Fixture& f) {
  const AclWorld w(f.stack(), f.users());
  auto backend = f.connected(f.stack().backendMqttToken());
  auto a = f.connected(f.stack().unitMqttToken(w.unit_a));
  auto b = f.connected(f.stack().unitMqttToken(w.unit_b));
  REQUIRE(backend->subscribe(f.d("#")) == kGranted);  // the backend identity: all of D
  const auto own_out = f.node(w.a_out);
  const auto output_base = [&](const std::string& unit) {
    return f.d("output_base_topic/" + unit + "/state/pepeunit");
  };
  const auto input_base = [&](const std::string& unit) {
    return f.d("input_base_topic/" + unit + "/+/pepeunit");
  };
  REQUIRE(publishUntilReceived(*a, *backend, own_out, "warm-up"));
  const auto pub = [&](const std::string& topic) {
    return delivered(*a, *backend, topic, own_out);
  };

  SUBCASE("publish") {
    CHECK(pub(output_base(w.unit_a)));        // own output base topic
    CHECK_FALSE(pub(output_base(w.unit_b)));  // another unit's
    CHECK_FALSE(pub(f.d("input_base_topic/" + w.unit_a + "/update/pepeunit")));  // commands
    CHECK(pub(own_out));                                                         // own Output
    CHECK(pub(f.d(w.a_out)));                                                    // its short form
    CHECK_FALSE(pub(f.node(w.a_in)));       // own Input: consumed, not written
    CHECK_FALSE(pub(f.node(w.b_out)));      // linked foreign Output
    CHECK(pub(f.node(w.b_in)));             // foreign rewritable Input
    CHECK_FALSE(pub(f.node(w.b_fixed)));    // foreign Input, not rewritable
    CHECK_FALSE(pub(f.node(w.b_granted)));  // granted Private Output: read only
    CHECK_FALSE(pub(f.node(w.b_hidden)));   // Private, no grant
    CHECK_FALSE(pub("elsewhere/topic"));    // outside the domain
  }
  SUBCASE("subscribe") {
    CHECK(a->subscribe(input_base(w.unit_a)) == kGranted);
    CHECK(a->subscribe(input_base(w.unit_b)) == kSubackFailure);
    CHECK(a->subscribe(own_out) == kGranted);
    CHECK(a->subscribe(f.node(w.a_in)) == kGranted);
    CHECK(a->subscribe(f.node(w.b_out)) == kGranted);      // linked Output
    CHECK(a->subscribe(f.node(w.b_in)) == kGranted);       // Public
    CHECK(a->subscribe(f.node(w.b_fixed)) == kGranted);    // Public
    CHECK(a->subscribe(f.node(w.b_granted)) == kGranted);  // Private with a grant
    CHECK(a->subscribe(f.node(w.b_hidden)) == kSubackFailure);
    for (const std::string& filter :
         std::vector<std::string>{"#", f.d("#"), f.d("+"), f.d("+/pepeunit"), "$SYS/#",
                                  "$SYS/pepeunit/auth/#", "+/+/pepeunit"}) {
      INFO(filter);
      CHECK(a->subscribe(filter) == kSubackFailure);
    }
    CHECK(a->subscribe("$share/g/" + own_out) == kGranted);
    CHECK(a->subscribe("$share/g/" + f.node(w.b_hidden)) == kSubackFailure);
    CHECK(a->subscribe("$share/g/" + f.d("#")) == kSubackFailure);
  }
  SUBCASE("delivery") {
    REQUIRE(a->subscribe(f.node(w.b_granted)) == kGranted);
    REQUIRE(a->subscribe(f.node(w.b_out)) == kGranted);
    REQUIRE(a->subscribe(input_base(w.unit_a)) == kGranted);
    CHECK(publishUntilReceived(*b, *a, f.node(w.b_granted), "granted-value"));
    CHECK(publishUntilReceived(*b, *a, f.node(w.b_out), "linked-value"));
    // The backend's command to A reaches A.
    const auto command = f.d("input_base_topic/" + w.unit_a + "/update/pepeunit");
    CHECK(publishUntilReceived(*backend, *a, command, R"({"COMMAND":"Update"})"));
    // b_hidden: A could not subscribe, so B's value never reaches it.
    REQUIRE(b->publish(f.node(w.b_hidden), "hidden-value"));
    REQUIRE(publishUntilReceived(*b, *a, f.node(w.b_out), "after-hidden"));
    CHECK_FALSE(a->received(f.node(w.b_hidden), "hidden-value"));
  }
  CHECK_FALSE(a->lost());
  CHECK_FALSE(b->lost());
  CHECK_FALSE(backend->lost());
}

}  // namespace

TEST_CASE("publish, subscribe and delivery: the direction-aware matrix") {
  directionAwareMatrix(fixture());
}

TEST_CASE("the same matrix when rule sets list no foreign node (asked per topic)") {
  auto& f = partialFixture();
  directionAwareMatrix(f);
  // The foreign nodes really were decided by questions: the plugin counted answers.
  auto counters = f.connected(f.stack().backendMqttToken());
  const std::string answers = "$SYS/pepeunit/auth/acl_remote_answers";
  REQUIRE(counters->subscribe(answers) == kGranted);
  CHECK_MESSAGE(pollUntil(
                    [&] {
                      const auto value = counters->last(answers);
                      return value && std::stoll(*value) > 0;
                    },
                    kDeadline),
                pluginLog(f.stack()));
}

namespace {

void revocations(Fixture& f) {
  const AclWorld w(f.stack(), f.users());
  auto backend = f.connected(f.stack().backendMqttToken());
  auto a = f.connected(f.stack().unitMqttToken(w.unit_a));
  auto b = f.connected(f.stack().unitMqttToken(w.unit_b));
  const auto reconnected_subscribe = [&](const std::string& topic) {
    auto again = f.connected(f.stack().unitMqttToken(w.unit_a));
    return again->subscribe(topic);
  };

  SUBCASE("a revoked permission") {
    const auto topic = f.node(w.b_granted);
    REQUIRE(a->subscribe(topic) == kGranted);
    REQUIRE(publishUntilReceived(*b, *a, topic, "before"));
    const auto r = f.http().del(
        apiPath("/permission?agent_uuid=" + w.unit_a + "&resource_uuid=" + w.b_granted),
        authHeader(w.u.bob.token));
    REQUIRE_MESSAGE(r.status / 100 == 2, r.body);
    CHECK(pollUntil([&] { return a->lost(); }, kRevocationBound));
    CHECK(reconnected_subscribe(topic) == kSubackFailure);
  }
  SUBCASE("a node made Private") {
    const auto topic = f.node(w.b_in);  // B's Input: the backend writes it, A reads it
    REQUIRE(a->subscribe(topic) == kGranted);
    REQUIRE(publishUntilReceived(*backend, *a, topic, "before"));
    const auto r = f.http().patch(apiPath("/unit_nodes/" + w.b_in),
                                  Json{{"visibility_level", "Private"}}, authHeader(w.u.bob.token));
    REQUIRE_MESSAGE(r.status / 100 == 2, r.body);
    CHECK(pollUntil([&] { return a->lost(); }, kRevocationBound));
    CHECK(reconnected_subscribe(topic) == kSubackFailure);
  }
  SUBCASE("a deleted edge") {
    // b_out is Internal, so A would still see it without the edge: make it Private first
    // (A keeps it through the edge), then delete the edge.
    const auto topic = f.node(w.b_out);
    auto r = f.http().patch(apiPath("/unit_nodes/" + w.b_out),
                            Json{{"visibility_level", "Private"}}, authHeader(w.u.bob.token));
    REQUIRE_MESSAGE(r.status / 100 == 2, r.body);
    auto linked = f.connected(f.stack().unitMqttToken(w.unit_a));
    REQUIRE(linked->subscribe(topic) == kGranted);
    REQUIRE(publishUntilReceived(*b, *linked, topic, "before"));
    r = f.http().del(apiPath("/unit_nodes/delete_unit_node_edge?input_uuid=" + w.a_in +
                             "&output_uuid=" + w.b_out),
                     authHeader(w.u.alice.token));
    REQUIRE_MESSAGE(r.status / 100 == 2, r.body);
    CHECK(pollUntil([&] { return linked->lost(); }, kRevocationBound));
    CHECK(reconnected_subscribe(topic) == kSubackFailure);
  }
  SUBCASE("a deleted unit") {
    const auto r = f.http().del(apiPath("/units/" + w.unit_a), authHeader(w.u.alice.token));
    REQUIRE_MESSAGE(r.status / 100 == 2, r.body);
    CHECK(pollUntil([&] { return a->lost(); }, kRevocationBound));
    CHECK(f.connackFor(f.stack().unitMqttToken(w.unit_a)) == kConnackNotAuthorized);
  }
  CHECK_FALSE(b->lost());  // B's own access never shrank
  CHECK_FALSE(backend->lost());
}

}  // namespace

TEST_CASE("revocation through REST cuts deliveries and kicks within 1 s") {
  revocations(fixture());
}

TEST_CASE("the same revocations when rule sets list no foreign node") {
  revocations(partialFixture());
}

namespace {

/// The broker's child processes (the plugin's helper).
std::vector<pid_t> childrenOf(pid_t pid) {
  std::ifstream list("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<pid_t> out;
  for (pid_t child = 0; list >> child;) {
    out.push_back(child);
  }
  return out;
}

std::size_t threadsOf(pid_t pid) {
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  return static_cast<std::size_t>(std::distance(std::filesystem::directory_iterator(tasks),
                                                std::filesystem::directory_iterator()));
}

}  // namespace

TEST_CASE("the plugin's helper process: the broker runs one thread; a killed helper comes back") {
  auto& f = fixture();
  const AclWorld w(f.stack(), f.users());
  auto a = f.connected(f.stack().unitMqttToken(w.unit_a));
  auto b = f.connected(f.stack().unitMqttToken(w.unit_b));
  const pid_t broker = f.stack().mqtt().process().pid();
  // All blocking I/O lives in the helper: the broker process itself has its one thread.
  CHECK(threadsOf(broker) == 1);
  const auto helpers = childrenOf(broker);
  REQUIRE(helpers.size() == 1);
  REQUIRE(::kill(helpers[0], SIGKILL) == 0);

  // A unit the broker never saw is admitted once a new helper runs (restarts are ≤ 1 a second).
  const AclWorld fresh(f.stack(), f.users());
  CHECK(pollUntil([&] { return f.connackFor(f.stack().unitMqttToken(fresh.unit_a)) == 0; },
                  kDeadline, milliseconds(50)));
  const auto now = childrenOf(broker);
  REQUIRE(now.size() == 1);
  CHECK(now[0] != helpers[0]);
  // Invalidation events flow again: a revoked grant still kicks within the bound.
  const auto topic = f.node(w.b_granted);
  REQUIRE(a->subscribe(topic) == kGranted);
  REQUIRE(publishUntilReceived(*b, *a, topic, "after-restart"));
  const auto r =
      f.http().del(apiPath("/permission?agent_uuid=" + w.unit_a + "&resource_uuid=" + w.b_granted),
                   authHeader(w.u.bob.token));
  REQUIRE_MESSAGE(r.status / 100 == 2, r.body);
  CHECK(pollUntil([&] { return a->lost(); }, kRevocationBound));
  CHECK_FALSE(b->lost());  // the restart itself disconnected nobody
  CHECK(pluginLog(f.stack()).find("helper process") != std::string::npos);
}

TEST_CASE("an outage of Redis and then the backend disconnects nobody; unknown units fail closed") {
  // Its own stack: the outage must not touch the other cases. Rule sets live 1 s, so the plugin's
  // refreshes really fail during the outage instead of waiting out a 5-minute ttl.
  Stack stack(Stack::Options::withEnv({{"BACKEND_ACL_TTL", "1"}}));
  HttpClient http("127.0.0.1", stack.backend().port());
  const auto users = pepeunit::testing::registerAclUsers(http, "outage");
  const AclWorld w(stack, users);
  const AclWorld unseen(stack, users);  // its units connect for the first time mid-outage
  const auto node = [&](const std::string& uuid) {
    return stack.domain() + "/" + uuid + "/pepeunit";
  };
  const auto connect = [&](const std::string& token) { return connectedProbe(stack, token); };

  auto backend = connect(stack.backendMqttToken());
  REQUIRE(backend->subscribe("$SYS/pepeunit/auth/fetch_errors") == kGranted);
  auto a = connect(stack.unitMqttToken(w.unit_a));
  auto b = connect(stack.unitMqttToken(w.unit_b));
  REQUIRE(a->subscribe(node(w.b_granted)) == kGranted);
  REQUIRE(publishUntilReceived(*b, *a, node(w.b_granted), "warm"));

  stack.redis().stop();
  REQUIRE(publishUntilReceived(*b, *a, node(w.b_granted), "redis-down"));
  stack.backend().stop();
  // The plugin has really failed to refresh (its own counter says so) ...
  CHECK(pollUntil(
      [&] {
        const auto errors = backend->last("$SYS/pepeunit/auth/fetch_errors");
        return errors && std::stoi(*errors) > 0;
      },
      kDeadline));
  // ... and still serves the cached rules: deliveries go on, a known unit even reconnects.
  CHECK(publishUntilReceived(*b, *a, node(w.b_granted), "both-down"));
  auto a_again = connect(stack.unitMqttToken(w.unit_a));
  CHECK(a_again->subscribe(node(w.b_granted)) == kGranted);
  MqttProbe stranger(stack.mqtt().port(), stack.unitMqttToken(unseen.unit_a));
  CHECK(stranger.connect() == kConnackNotAuthorized);
  CHECK_FALSE(a->lost());
  CHECK_FALSE(b->lost());
  CHECK_FALSE(backend->lost());

  stack.redis().start();
  stack.startBackend();
  auto late = connect(stack.unitMqttToken(unseen.unit_a));  // back to normal
  CHECK(late->subscribe(node(unseen.a_out)) == kGranted);
  CHECK(publishUntilReceived(*b, *a, node(w.b_granted), "recovered"));
  CHECK_FALSE(a->lost());
  CHECK_FALSE(b->lost());
}

TEST_CASE("a stalled backend and a frozen Redis do not stall a warm publisher → 10 subscribers") {
  // Production fetch timeout (20 ms) and stall budget; rule sets live 1 s, so refreshes are in
  // flight during the stall.
  auto options = Stack::Options::withEnv({{"BACKEND_ACL_TTL", "1"}});
  options.plugin_opts = {{"fetch_timeout_ms", "20"}, {"stall_budget_ms_per_s", "200"}};
  Stack stack(std::move(options));
  HttpClient http("127.0.0.1", stack.backend().port());
  const auto users = pepeunit::testing::registerAclUsers(http, "stall");
  const AclWorld w(stack, users);
  std::vector<AclWorld> readers;  // ten more units, each reading b_out (Internal)
  for (int i = 0; i < 10; ++i) {
    readers.emplace_back(stack, users);
  }
  const auto unseen = AclWorld(stack, users);
  const auto topic = stack.domain() + "/" + w.b_out + "/pepeunit";
  const auto connect = [&](const std::string& token) { return connectedProbe(stack, token); };
  auto backend = connect(stack.backendMqttToken());
  REQUIRE(backend->subscribe("$SYS/pepeunit/auth/fetch_errors") == kGranted);
  auto publisher = connect(stack.unitMqttToken(w.unit_b));
  std::vector<std::unique_ptr<MqttProbe>> subscribers;
  for (const auto& reader : readers) {
    subscribers.push_back(connect(stack.unitMqttToken(reader.unit_a)));
    REQUIRE(subscribers.back()->subscribe(topic) == kGranted);
  }
  for (auto& subscriber : subscribers) {
    REQUIRE(publishUntilReceived(*publisher, *subscriber, topic, "warm"));
  }

  // The stall: the backend stops answering (SIGSTOP: connections are accepted by the kernel,
  // nothing replies) and Redis freezes; refreshes are stuck until they time out.
  stack.backend().process().signal(SIGSTOP);
  stack.redis().pause();
  struct Resume {
    Stack& stack;
    ~Resume() {
      stack.backend().process().signal(SIGCONT);
      stack.redis().resume();
    }
  } resume{stack};
  // Refreshes start when an expired set is used: keep the path busy until one has timed out.
  int warm = 0;
  REQUIRE_MESSAGE(pollUntil(
                      [&] {
                        publisher->publish(topic, "stalling" + std::to_string(++warm));
                        const auto errors = backend->last("$SYS/pepeunit/auth/fetch_errors");
                        return errors && std::stoi(*errors) > 0;
                      },
                      kDeadline, milliseconds(20)),
                  pluginLog(stack));

  constexpr int kMessages = 200;
  for (int i = 0; i < kMessages; ++i) {
    REQUIRE(publisher->publish(topic, "m" + std::to_string(i)));
  }
  // An unseen unit fails closed (within the stall budget), it does not wait for the backend.
  MqttProbe stranger(stack.mqtt().port(), stack.unitMqttToken(unseen.unit_a));
  CHECK(stranger.connect() == kConnackNotAuthorized);
  for (std::size_t i = 0; i < subscribers.size(); ++i) {
    INFO("subscriber " << i);
    CHECK(pollUntil(
        [&] {
          for (int m = 0; m < kMessages; ++m) {
            if (!subscribers[i]->received(topic, "m" + std::to_string(m))) {
              return false;
            }
          }
          return true;
        },
        kDeadline));
    CHECK_FALSE(subscribers[i]->lost());
  }
  CHECK_FALSE(publisher->lost());
}
