// The whole device loop with `firmware-templates/python-unit` running as a REAL device process
// (Debian's python3 + paho) against the real backend, Postgres, Redis and Mosquitto: provision over
// REST → the unit connects and its state arrives → a user sets an Input → the device echoes it
// to its Output → last value and history are stored → the user pins another commit → the device
// downloads its archive with its own token, re-execs and reports the new version → `Success`; a
// unit whose device never runs goes `RequestSent` → `Error` by the sweeper; a second device whose
// Input is linked to the first one's Output receives its values through the broker after the
// SchemaUpdate the edge triggers.
//
// BACKEND_DOMAIN carries the HTTP port (`127.0.0.1:<port>`) because the device builds its REST
// base from PEPEUNIT_URL = BACKEND_DOMAIN; the topics then start with that text, which MQTT allows.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>

#include "integration/harness/api_fixtures.hpp"
#include "integration/harness/git_fixtures.hpp"
#include "integration/harness/http_client.hpp"
#include "integration/harness/mqtt_probe.hpp"
#include "integration/harness/process.hpp"
#include "integration/harness/stack.hpp"
#include "integration/harness/temp_dir.hpp"
#include "integration/harness/wait.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using pepeunit::testing::apiPath;
using pepeunit::testing::ApiUser;
using pepeunit::testing::authHeader;
using pepeunit::testing::CommitSpec;
using pepeunit::testing::expectStatus;
using pepeunit::testing::HttpClient;
using pepeunit::testing::LocalRepo;
using pepeunit::testing::MqttProbe;
using pepeunit::testing::pollUntil;
using pepeunit::testing::Process;
using pepeunit::testing::SpawnOptions;
using pepeunit::testing::Stack;
using pepeunit::testing::TempDir;
using pepeunit::testing::TemplateRepoSpec;

namespace {

// Small, so a state arrives every few seconds and the sweeper gives up after 2× this. Large
// enough that download + re-exec + the first periodic state fit comfortably inside 2×.
constexpr int kStateInterval = 4;
constexpr auto kDeviceTimeout = std::chrono::seconds(45);
constexpr const char* kPython = "/usr/bin/python3";

// Unpacks the backend's tgz (a zlib stream, wbits 9, around a tar) like the device does.
constexpr const char* kUnpackScript = R"PY(
import io, sys, tarfile, zlib
data = zlib.decompress(open(sys.argv[1], 'rb').read(), 9)
with tarfile.open(fileobj=io.BytesIO(data), mode='r:') as t:
    t.extractall(sys.argv[2])
)PY";

Stack::Options stackOptions(int http_port) {
  Stack::Options options;
  options.backend_env_overrides = {
      {"BACKEND_HTTP_PORT", std::to_string(http_port)},
      {"BACKEND_DOMAIN", "127.0.0.1:" + std::to_string(http_port)},
      {"BACKEND_STATE_SEND_INTERVAL", std::to_string(kStateInterval)},
  };
  return options;
}

struct World {
  int http_port = pepeunit::testing::freePort();
  TempDir git_dir;
  TempDir devices_dir;
  Stack stack{stackOptions(http_port)};
  HttpClient http{"127.0.0.1", stack.backend().port()};
  ApiUser admin = pepeunit::testing::registerAndLogin(http, "device_admin");
  ApiUser owner = pepeunit::testing::registerAndLogin(http, "device_owner");
  // python-unit: c0 the template as it is (v1.0.0), c1 bumps VERSION (v1.1.0).
  LocalRepo git = pepeunit::testing::createLocalTemplateRepo(
      git_dir.path(),
      TemplateRepoSpec{.name = "device",
                       .template_name = "python-unit",
                       .first_tag = "v1.0.0",
                       .main_commits = {CommitSpec{
                           "Bump version", {{"VERSION", "1.1.0\n"}}, {}, "v1.1.0", false}},
                       .dev_commits = {}});
  std::string repo = pepeunit::testing::createRepo(http, owner.token, "device-repo", git.fileUrl(),
                                                   "Public", "main");

  pqxx::connection db() { return pqxx::connection(stack.pg().url()); }
};

World& world() {
  static World w;
  return w;
}

json getUnit(const std::string& uuid) {
  auto& w = world();
  const auto response = w.http.get(apiPath("/units/" + uuid), authHeader(w.owner.token));
  expectStatus(response, 200, "GET /units/" + uuid);
  return response.json();
}

std::string createPinnedUnit(const std::string& name, const std::string& commit) {
  auto& w = world();
  const auto response = w.http.post(apiPath("/units"),
                                    json{{"repo_uuid", w.repo},
                                         {"visibility_level", "Public"},
                                         {"name", name},
                                         {"is_auto_update_from_repo_unit", false},
                                         {"repo_branch", "main"},
                                         {"repo_commit", commit}},
                                    authHeader(w.owner.token));
  expectStatus(response, 201, "POST /units " + name);
  return response.json().at("uuid").get<std::string>();
}

void pinCommit(const std::string& unit, const std::string& commit) {
  auto& w = world();
  const auto response = w.http.patch(apiPath("/units/" + unit),
                                     json{{"is_auto_update_from_repo_unit", false},
                                          {"repo_branch", "main"},
                                          {"repo_commit", commit}},
                                     authHeader(w.owner.token));
  expectStatus(response, 200, "PATCH /units/" + unit);
}

void patchEnv(const std::string& unit) {
  auto& w = world();
  const auto response = w.http.patch(
      apiPath("/units/env/" + unit),
      json{{"env_json_string", json{{"DELAY_PUB_MSG", 1}, {"START_VALUE", "0"}}.dump()}},
      authHeader(w.owner.token));
  expectStatus(response, 204, "PATCH /units/env/" + unit);
}

/// Downloads the unit's tgz and unpacks it into a fresh directory; returns it.
fs::path provisionDevice(const std::string& unit) {
  auto& w = world();
  const auto response = w.http.get(apiPath("/units/firmware/tgz/" + unit + "?wbits=9&level=9"),
                                   authHeader(w.owner.token));
  expectStatus(response, 200, "GET /units/firmware/tgz/" + unit);
  const auto dir = w.devices_dir.path() / unit;
  fs::create_directories(dir);
  const auto archive = w.devices_dir.path() / (unit + ".tgz");
  {
    std::ofstream out(archive, std::ios::binary);
    out << response.body;
  }
  auto unpack = Process::spawn({kPython, "-c", kUnpackScript, archive.string(), dir.string()});
  if (unpack.wait(std::chrono::seconds(30)) != 0) {
    throw std::runtime_error("python3 could not unpack the firmware of " + unit);
  }
  if (!fs::exists(dir / "main.py") || !fs::exists(dir / "env.json") ||
      !fs::exists(dir / "schema.json")) {
    throw std::runtime_error("the firmware of " + unit + " lacks main.py/env.json/schema.json");
  }
  return dir;
}

Process startDevice(const fs::path& dir) {
  SpawnOptions options;
  options.argv = {kPython, "-B", "main.py"};
  options.working_dir = dir;
  options.log_file = dir.parent_path() / (dir.filename().string() + ".log");
  return Process::launch(options);
}

/// `(uuid of the Input node, uuid of the Output node)` of a python-unit Unit.
std::pair<std::string, std::string> nodesOf(const std::string& unit) {
  auto conn = world().db();
  pqxx::nontransaction tx(conn);
  const auto rows = tx.exec_params(
      "SELECT uuid::text, type FROM units_nodes WHERE unit_uuid = $1 ORDER BY topic_name", unit);
  std::string input;
  std::string output;
  for (const auto& row : rows) {
    (row[1].as<std::string>() == "Input" ? input : output) = row[0].as<std::string>();
  }
  if (input.empty() || output.empty()) {
    throw std::runtime_error("unit " + unit + " lacks an Input or an Output node");
  }
  return {input, output};
}

std::optional<std::string> nodeState(const std::string& node) {
  auto conn = world().db();
  pqxx::nontransaction tx(conn);
  const auto rows = tx.exec_params("SELECT state FROM units_nodes WHERE uuid = $1", node);
  if (rows.empty() || rows[0][0].is_null())
    return std::nullopt;
  return rows[0][0].as<std::string>();
}

long historyRows(const std::string& node, const std::string& value) {
  auto conn = world().db();
  pqxx::nontransaction tx(conn);
  return tx
      .exec_params("SELECT count(*) FROM unit_node_values WHERE unit_node_uuid = $1 AND value = $2",
                   node, value)[0][0]
      .as<long>();
}

std::string textField(const json& unit, const char* key) {
  return unit.contains(key) && unit.at(key).is_string() ? unit.at(key).get<std::string>() : "";
}

std::string deviceLog(const Process& device) {
  return pepeunit::testing::readFileTail(device.logFile(), 3000);
}

}  // namespace

TEST_CASE("a python-unit device: state, input echo, value history, OTA update to Success") {
  auto& w = world();
  const auto c0 = w.git.main_commits.at(0);
  const auto c1 = w.git.main_commits.at(1);
  const auto unit = createPinnedUnit("device-one", c0);
  patchEnv(unit);
  auto device = startDevice(provisionDevice(unit));

  // The device connects and its state (with the commit it runs) arrives.
  json seen;
  const bool connected = pollUntil(
      [&] {
        seen = getUnit(unit);
        return textField(seen, "current_commit_version") == c0 && seen.contains("unit_state") &&
               !seen.at("unit_state").is_null();
      },
      kDeviceTimeout, std::chrono::milliseconds(250));
  INFO("unit: ", seen.dump(), "\ndevice log:\n", deviceLog(device));
  REQUIRE(connected);
  CHECK(device.running());

  // A user sets the Input; the device echoes it to its Output, which the ingest stores.
  const auto nodes = nodesOf(unit);
  const std::string& input = nodes.first;
  const std::string& output = nodes.second;
  const auto set = w.http.patch(apiPath("/unit_nodes/set_state_input/" + input),
                                json{{"state", "42"}}, authHeader(w.owner.token));
  expectStatus(set, 200, "PATCH /unit_nodes/set_state_input");
  CHECK(set.json().at("state") == "42");
  const bool echoed = pollUntil(
      [&] {
        return nodeState(output) == std::optional<std::string>("42") &&
               historyRows(output, "42") >= 1;
      },
      kDeviceTimeout, std::chrono::milliseconds(100));
  INFO("device log:\n", deviceLog(device));
  REQUIRE(echoed);
  CHECK(nodeState(input) == std::optional<std::string>("42"));

  // Pin the second commit: Update → the device downloads, re-execs and reports c1.
  pinCommit(unit, c1);
  const auto requested = getUnit(unit);
  CHECK((textField(requested, "firmware_update_status") == "RequestSent" ||
         textField(requested, "firmware_update_status") == "Success"));
  const bool updated = pollUntil(
      [&] {
        seen = getUnit(unit);
        return textField(seen, "firmware_update_status") == "Success" &&
               textField(seen, "current_commit_version") == c1;
      },
      kDeviceTimeout, std::chrono::milliseconds(250));
  INFO("unit: ", seen.dump(), "\ndevice log:\n", deviceLog(device));
  REQUIRE(updated);
  CHECK(seen.at("firmware_update_error").is_null());
  CHECK(device.running());  // re-exec keeps the same process
  {
    std::ifstream version(world().devices_dir.path() / unit / "VERSION");
    std::string text;
    std::getline(version, text);
    CHECK(text == "1.1.0");
  }
  device.stop();
}

TEST_CASE("a device linked Output→Input receives the other device's values after SchemaUpdate") {
  auto& w = world();
  const auto c0 = w.git.main_commits.at(0);
  const auto source = createPinnedUnit("device-source", c0);
  const auto sink = createPinnedUnit("device-sink", c0);
  patchEnv(source);
  patchEnv(sink);
  auto source_device = startDevice(provisionDevice(source));
  auto sink_device = startDevice(provisionDevice(sink));
  const bool both_up = pollUntil(
      [&] {
        return textField(getUnit(source), "current_commit_version") == c0 &&
               textField(getUnit(sink), "current_commit_version") == c0;
      },
      kDeviceTimeout, std::chrono::milliseconds(250));
  INFO("source log:\n", deviceLog(source_device), "\nsink log:\n", deviceLog(sink_device));
  REQUIRE(both_up);

  const auto source_nodes = nodesOf(source);
  const auto sink_nodes = nodesOf(sink);
  const auto edge = w.http.post(
      apiPath("/unit_nodes/create_unit_node_edge"),
      json{{"node_output_uuid", source_nodes.second}, {"node_input_uuid", sink_nodes.first}},
      authHeader(w.owner.token));
  INFO("edge: ", edge.status, " ", edge.body);
  REQUIRE((edge.status == 200 || edge.status == 201));

  // The source echoes "77" to its Output every second; once the sink has applied the
  // SchemaUpdate it hears that topic on its Input and echoes it to its own Output.
  expectStatus(w.http.patch(apiPath("/unit_nodes/set_state_input/" + source_nodes.first),
                            json{{"state", "77"}}, authHeader(w.owner.token)),
               200, "PATCH /unit_nodes/set_state_input (source)");
  const bool relayed = pollUntil(
      [&] {
        return nodeState(sink_nodes.second) == std::optional<std::string>("77") &&
               historyRows(sink_nodes.second, "77") >= 1;
      },
      kDeviceTimeout, std::chrono::milliseconds(100));
  REQUIRE(relayed);
  CHECK(nodeState(source_nodes.second) == std::optional<std::string>("77"));
  // Nobody set the sink's Input through the API: the value came over the broker.
  CHECK(nodeState(sink_nodes.first) != std::optional<std::string>("77"));
  source_device.stop();
  sink_device.stop();
}

TEST_CASE("a silent unit sent Update turns Error by the sweeper") {
  auto& w = world();
  const auto unit = createPinnedUnit("device-silent", w.git.main_commits.at(0));
  pinCommit(unit, w.git.main_commits.at(1));
  CHECK(textField(getUnit(unit), "firmware_update_status") == "RequestSent");
  {
    auto conn = w.db();
    pqxx::nontransaction tx(conn);
    CHECK(tx.exec_params("SELECT firmware_update_target FROM units WHERE uuid = $1", unit)[0][0]
              .as<std::string>() == w.git.main_commits.at(1));
  }
  json seen;
  const bool expired = pollUntil(
      [&] {
        seen = getUnit(unit);
        return textField(seen, "firmware_update_status") == "Error";
      },
      std::chrono::seconds(4 * kStateInterval + 10), std::chrono::milliseconds(250));
  INFO("unit: ", seen.dump());
  REQUIRE(expired);
  CHECK(!textField(seen, "firmware_update_error").empty());
}

// Regression: the ingest used to learn new nodes only on its 5 s refresh, so the first values of
// a freshly created unit were dropped as "unknown node". The unit use case now announces the
// change and the ingest reloads before the REST answer; one publish right after is enough.
TEST_CASE("a value published right after the unit is created is stored") {
  auto& w = world();
  const auto unit = createPinnedUnit("device-fresh", w.git.main_commits.at(0));
  std::string output;
  {
    auto conn = w.db();
    pqxx::nontransaction tx(conn);
    output = tx.exec_params1(
                   "SELECT uuid::text FROM units_nodes WHERE unit_uuid = $1 AND "
                   "type = 'Output' ORDER BY uuid LIMIT 1",
                   unit)[0]
                 .as<std::string>();
  }
  std::unique_ptr<MqttProbe> device;
  REQUIRE(pollUntil(
      [&] {  // retried while the broker's plugin is still loading the new unit's rules
        device = std::make_unique<MqttProbe>(w.stack.mqtt().port(), w.stack.unitMqttToken(unit));
        return device->connect() == 0;
      },
      std::chrono::seconds(20)));
  REQUIRE(device->publish(w.stack.domain() + "/" + output + "/pepeunit", "first-value"));
  CHECK(pollUntil(
      [&] {
        auto conn = w.db();
        pqxx::nontransaction tx(conn);
        const auto state =
            tx.exec_params1("SELECT state FROM units_nodes WHERE uuid = $1", output)[0];
        return !state.is_null() && state.as<std::string>() == "first-value";
      },
      std::chrono::seconds(20)));
}
