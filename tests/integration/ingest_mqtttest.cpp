// MQTT ingest end to end: the real backend subscribed to a real Mosquitto, writing into a real
// PostgreSQL. Values are stored once per change with history; bad input on the bus (oversize,
// invalid UTF-8, unknown node, wrong destination, non-JSON state) is dropped and counted while
// the valid messages around it are all stored; after a broker restart the backend resubscribes
// by itself; two backend instances on shared subscriptions store each value exactly once; states
// advance the firmware update status and the sweeper fails silent updates; 2026 logs are stored.
// Rows are inserted straight into Postgres (the REST areas are tested elsewhere).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <chrono>
#include <pqxx/pqxx>
#include <regex>
#include <string>
#include <vector>

#include "bus/mqtt/mqtt_client.hpp"
#include "integration/harness/http_client.hpp"
#include "integration/harness/stack.hpp"
#include "integration/harness/wait.hpp"

using pepeunit::bus::mqtt::MqttClient;
using pepeunit::testing::pollUntil;
using pepeunit::testing::Stack;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

constexpr auto kDeadline = seconds(20);
const std::string kDomain = "127.0.0.1";  // the harness's BACKEND_DOMAIN

/// A user, repo, unit and nodes written straight into Postgres.
struct World {
  std::string unit;
  std::vector<std::string> nodes;
};

World makeWorld(Stack& stack, const std::string& tag, int node_count) {
  pqxx::connection c(stack.pg().url());
  pqxx::work tx(c);
  const auto user = tx.exec_params(
                          "INSERT INTO users (role, status, login, hashed_password, "
                          "cipher_dynamic_salt) VALUES ('User', 'Verified', $1, 'x', 'x') "
                          "RETURNING uuid::text",
                          "user_" + tag)[0][0]
                        .as<std::string>();
  const auto repo = tx.exec_params(
                          "INSERT INTO repos (name, repo_url, creator_uuid) VALUES ($1, "
                          "'https://example.com/r.git', $2) RETURNING uuid::text",
                          "repo_" + tag, user)[0][0]
                        .as<std::string>();
  World w;
  w.unit = tx.exec_params(
                 "INSERT INTO units (name, creator_uuid, repo_uuid) VALUES ($1, $2, $3) "
                 "RETURNING uuid::text",
                 "unit_" + tag, user, repo)[0][0]
               .as<std::string>();
  for (int i = 0; i < node_count; ++i) {
    w.nodes.push_back(tx.exec_params("INSERT INTO units_nodes (type, visibility_level, "
                                     "topic_name, creator_uuid, unit_uuid) VALUES ('Output', "
                                     "'Public', $1, $2, $3) RETURNING uuid::text",
                                     "out" + std::to_string(i) + "/pepeunit", user, w.unit)[0][0]
                          .as<std::string>());
  }
  tx.commit();
  return w;
}

std::string query(Stack& stack, const std::string& sql) {
  pqxx::connection c(stack.pg().url());
  pqxx::nontransaction tx(c);
  const auto r = tx.exec(sql);
  if (r.empty() || r[0][0].is_null())
    return "<null>";
  return r[0][0].as<std::string>();
}

long count(Stack& stack, const std::string& sql) {
  return std::stol(query(stack, sql));
}

std::string valueTopic(const std::string& node) {
  return kDomain + "/" + node + "/pepeunit";
}

/// `username` is a token the broker's auth plugin accepts: a unit's own (it may publish only its
/// Outputs and output_base_topic) or the backend's, the one identity that can put garbage on any
/// `<domain>/...` topic — which is what the bad-input cases need to reach the backend.
MqttClient::Options publisherOptions(Stack& stack, const std::string& id,
                                     const std::string& username) {
  MqttClient::Options o;
  o.port = stack.mqtt().port();
  o.client_id = id;
  o.username = username;
  o.keepalive_s = 5;
  o.reconnect_min = milliseconds(50);
  o.reconnect_max = milliseconds(500);
  return o;
}

/// Publishes `payload` until the node's stored state equals it: proves the backend is
/// subscribed and knows the node (its cache refreshes every 5 s).
bool publishUntilStored(Stack& stack, MqttClient& pub, const std::string& node,
                        const std::string& payload) {
  return pollUntil(
      [&] {
        pub.publish(valueTopic(node), payload, 1);
        return query(stack, "SELECT state FROM units_nodes WHERE uuid = '" + node + "'") == payload;
      },
      kDeadline, milliseconds(200));
}

void publishAll(MqttClient& pub, const std::string& topic, const std::string& payload) {
  REQUIRE(pollUntil([&] { return pub.publish(topic, payload, 1); }, kDeadline, milliseconds(10)));
}

std::vector<std::string> history(Stack& stack, const std::string& node) {
  pqxx::connection c(stack.pg().url());
  pqxx::nontransaction tx(c);
  std::vector<std::string> out;
  for (const auto& row : tx.exec_params("SELECT value FROM unit_node_values WHERE unit_node_uuid "
                                        "= $1 ORDER BY created_at",
                                        node)) {
    out.push_back(row[0].as<std::string>());
  }
  return out;
}

/// The counters the backend logs when it stops ("ingest: in=... dropped=[...]").
std::string finalStats(pepeunit::testing::BackendProcess& backend) {
  backend.stop();
  const auto log = backend.logText();
  const auto pos = log.rfind("ingest: in=");
  return pos == std::string::npos ? std::string() : log.substr(pos, log.find('\n', pos) - pos);
}

long statValue(const std::string& stats, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(stats, m, std::regex("[ \\[]" + key + "=([0-9]+)")))
    return 0;
  return std::stol(m[1]);
}

}  // namespace

TEST_CASE("values: one row per change, bad input dropped and counted, the rest all stored") {
  Stack stack(Stack::Options::withEnv({{"MQTT_MAX_PAYLOAD_SIZE", "64"}}));
  const auto w = makeWorld(stack, "values", 2);
  const auto& a = w.nodes[0];
  // Restart so the nodes are in the cache from the start: no probe is counted as unknown.
  stack.backend().stop();
  stack.startBackend();
  MqttClient pub(publisherOptions(stack, "ingest-test-values", stack.backendMqttToken()));
  pub.start();
  REQUIRE(publishUntilStored(stack, pub, a, "probe"));

  const auto unknown = std::string("0f8fad5b-d9cb-469f-a165-70867728950e");
  publishAll(pub, valueTopic(a), "1");
  publishAll(pub, valueTopic(a), "1");
  publishAll(pub, valueTopic(a), std::string(65, 'x'));  // over the limit
  publishAll(pub, valueTopic(a), "2");
  publishAll(pub, valueTopic(a), std::string("\xff\xfe bad", 6));  // invalid UTF-8
  publishAll(pub, valueTopic(unknown), "9");                       // unknown node
  publishAll(pub, kDomain + "/output_base_topic/" + w.unit + "/nope/pepeunit", "{}");
  publishAll(pub, kDomain + "/input_base_topic/" + w.unit + "/update/pepeunit", "{}");
  publishAll(pub, kDomain + "/output_base_topic/" + w.unit + "/state/pepeunit", "not json");
  publishAll(pub, valueTopic(a), "2");
  publishAll(pub, valueTopic(w.nodes[1]), "{\"t\": \"quote\\\" and, comma\"}");
  publishAll(pub, valueTopic(a), "3.5");
  publishAll(pub, valueTopic(a), "3.5");
  publishAll(pub, valueTopic(a), "done");

  REQUIRE(pollUntil(
      [&] {
        return query(stack, "SELECT state FROM units_nodes WHERE uuid = '" + a + "'") == "done";
      },
      kDeadline));
  CHECK(history(stack, a) == std::vector<std::string>{"probe", "1", "2", "3.5", "done"});
  CHECK(history(stack, w.nodes[1]) ==
        std::vector<std::string>{"{\"t\": \"quote\\\" and, comma\"}"});
  CHECK(query(stack, "SELECT numeric_value FROM unit_node_values WHERE value = '3.5'") == "3.5");
  CHECK(count(stack, "SELECT count(*) FROM unit_node_values WHERE numeric_value IS NULL") == 3);
  // Daily partitions from yesterday to 3 days ahead exist; nothing fell into the default one.
  CHECK(count(stack,
              "SELECT count(*) FROM pg_inherits WHERE inhparent = "
              "'unit_node_values'::regclass") >= 6);
  CHECK(count(stack, "SELECT count(*) FROM unit_node_values_default") == 0);
  // The backend is still serving.
  pepeunit::testing::HttpClient http("127.0.0.1", stack.backend().port());
  CHECK(http.get("/pepeunit").status == 200);

  pub.stop();
  const auto stats = finalStats(stack.backend());
  INFO(stats);
  CHECK(statValue(stats, "oversize") == 1);
  CHECK(statValue(stats, "invalid_utf8") == 1);
  CHECK(statValue(stats, "unknown_node") == 1);
  CHECK(statValue(stats, "wrong_destination") == 1);
  CHECK(statValue(stats, "own_command") == 1);
  CHECK(statValue(stats, "bad_state") == 1);
  CHECK(statValue(stats, "unchanged") >= 3);
}

TEST_CASE("states advance the update status; the sweeper fails silent units; logs stored") {
  Stack stack(Stack::Options::withEnv({{"BACKEND_STATE_SEND_INTERVAL", "1"}}));
  const auto updating = makeWorld(stack, "upd", 0);
  const auto silent = makeWorld(stack, "silent", 0);
  {
    pqxx::connection c(stack.pg().url());
    pqxx::work tx(c);
    tx.exec(
        "UPDATE units SET firmware_update_status = 'RequestSent', "
        "firmware_update_target = 'sha-new', current_commit_version = 'sha-old', "
        "last_firmware_update_datetime = now() AT TIME ZONE 'UTC' WHERE uuid IN ('" +
        updating.unit + "', '" + silent.unit + "')");
    tx.commit();
  }
  MqttClient pub(publisherOptions(stack, "ingest-test-states", stack.backendMqttToken()));
  pub.start();
  const auto state_topic = kDomain + "/output_base_topic/" + updating.unit + "/state/pepeunit";
  const auto sent_at = std::chrono::steady_clock::now();
  REQUIRE(pollUntil(
      [&] {
        pub.publish(state_topic, R"({"pu_commit_version": "sha-new", "millis": 42, "secret": "x"})",
                    1);
        return query(stack, "SELECT firmware_update_status FROM units WHERE uuid = '" +
                                updating.unit + "'") == "Success";
      },
      kDeadline, milliseconds(200)));
  CHECK(query(stack, "SELECT current_commit_version FROM units WHERE uuid = '" + updating.unit +
                         "'") == "sha-new");
  const auto dict =
      query(stack, "SELECT unit_state_dict FROM units WHERE uuid = '" + updating.unit + "'");
  CHECK(dict.find("\"millis\":42.0") != std::string::npos);
  CHECK(dict.find("secret") == std::string::npos);
  CHECK(query(stack, "SELECT firmware_update_error FROM units WHERE uuid = '" + updating.unit +
                         "'") == "<null>");

  // The silent unit never sends a state: the sweeper fails it after 2 x 1 s.
  REQUIRE(pollUntil(
      [&] {
        return query(stack, "SELECT firmware_update_status FROM units WHERE uuid = '" +
                                silent.unit + "'") == "Error";
      },
      kDeadline));
  CHECK(std::chrono::steady_clock::now() - sent_at >= seconds(2));
  CHECK(
      query(stack, "SELECT firmware_update_error FROM units WHERE uuid = '" + silent.unit + "'") ==
      "11: Update Error: Device firmware update time is twice as fast as 1s times");
  CHECK(query(stack, "SELECT last_firmware_update_datetime FROM units WHERE uuid = '" +
                         silent.unit + "'") == "<null>");

  // 2026 logs: an array with ISO and epoch-ms times, one unreadable entry.
  publishAll(pub, kDomain + "/output_base_topic/" + updating.unit + "/log/pepeunit",
             R"([{"level":"info","text":"boot","create_datetime":1767225600123,"free_mem":1},
                 {"level":"Error","text":"oops","create_datetime":"2026-01-01T00:00:01Z"},
                 {"level":"loud","text":"skipped"}])");
  REQUIRE(pollUntil(
      [&] {
        return count(stack, "SELECT count(*) FROM unit_logs WHERE unit_uuid = '" + updating.unit +
                                "'") == 2;
      },
      kDeadline));
  CHECK(query(stack, "SELECT level FROM unit_logs WHERE text = 'boot'") == "Info");
  CHECK(query(stack, "SELECT create_datetime FROM unit_logs WHERE text = 'oops'") ==
        "2026-01-01 00:00:01");
  CHECK(count(stack, "SELECT count(*) FROM unit_logs WHERE expires_at > create_datetime") == 2);
}

TEST_CASE("broker restart: the backend resubscribes and stores every value published after") {
  Stack stack;
  const auto w = makeWorld(stack, "restart", 4);
  MqttClient pub(publisherOptions(stack, "ingest-test-restart", stack.unitMqttToken(w.unit)));
  pub.start();
  REQUIRE(publishUntilStored(stack, pub, w.nodes[0], "before"));
  for (int i = 0; i < 50; ++i)
    publishAll(pub, valueTopic(w.nodes[i % 4]), "pre" + std::to_string(i));

  stack.mqtt().restart();
  REQUIRE(publishUntilStored(stack, pub, w.nodes[0], "after"));
  constexpr int kAfter = 400;
  for (int i = 0; i < kAfter; ++i) {
    publishAll(pub, valueTopic(w.nodes[i % 4]), "v" + std::to_string(i));
  }
  REQUIRE(pollUntil(
      [&] {
        return count(stack, "SELECT count(*) FROM unit_node_values WHERE value LIKE 'v%'") ==
               kAfter;
      },
      kDeadline));
  for (int n = 0; n < 4; ++n) {
    CHECK(query(stack, "SELECT state FROM units_nodes WHERE uuid = '" + w.nodes[n] + "'") ==
          "v" + std::to_string(kAfter - 4 + n));
  }
}

TEST_CASE("two backend instances on shared subscriptions store each value exactly once") {
  Stack stack;
  auto env = stack.backendEnv();
  env["BACKEND_HTTP_PORT"] = std::to_string(pepeunit::testing::freePort());
  std::filesystem::create_directories(stack.dir() / "backend2");
  pepeunit::testing::BackendProcess second(stack.dir() / "backend2");
  second.start(env);
  second.waitReady();
  const auto w = makeWorld(stack, "twins", 10);
  // Both instances hold the shared subscription before the counted messages go out.
  REQUIRE(pollUntil(
      [&] {
        const auto log = stack.mqtt().logText();
        std::size_t n = 0;
        for (auto p = log.find("$share/pepeunit-backend/127.0.0.1/+/pepeunit");
             p != std::string::npos;
             p = log.find("$share/pepeunit-backend/127.0.0.1/+/pepeunit", p + 1)) {
          ++n;
        }
        return n >= 2;
      },
      kDeadline));
  MqttClient pub(publisherOptions(stack, "ingest-test-twins", stack.unitMqttToken(w.unit)));
  pub.start();
  for (const auto& node : w.nodes)
    REQUIRE(publishUntilStored(stack, pub, node, "probe"));

  constexpr int kMessages = 2000;
  for (int i = 0; i < kMessages; ++i) {
    publishAll(pub, valueTopic(w.nodes[i % 10]), "m" + std::to_string(i));
  }
  REQUIRE(pollUntil(
      [&] {
        return count(stack, "SELECT count(*) FROM unit_node_values WHERE value LIKE 'm%'") >=
               kMessages;
      },
      kDeadline));
  // Give a duplicate (if any) the time of a few flushes to show up, then count exactly.
  REQUIRE_FALSE(pollUntil(
      [&] {
        return count(stack, "SELECT count(*) FROM unit_node_values WHERE value LIKE 'm%'") >
               kMessages;
      },
      milliseconds(1000)));
  CHECK(count(stack, "SELECT count(DISTINCT value) FROM unit_node_values WHERE value LIKE 'm%'") ==
        kMessages);
  for (int n = 0; n < 10; ++n) {
    CHECK(query(stack, "SELECT state FROM units_nodes WHERE uuid = '" + w.nodes[n] + "'") ==
          "m" + std::to_string(kMessages - 10 + n));
  }
  pub.stop();
  const auto first_stats = finalStats(stack.backend());
  const auto second_stats = finalStats(second);
  INFO(first_stats);
  INFO(second_stats);
  // The stream was really split between the two.
  CHECK(statValue(first_stats, "values") > 0);
  CHECK(statValue(second_stats, "values") > 0);
}
