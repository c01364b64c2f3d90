// README command 1 as a test: `scripts/pepeunit up` on free ports in a private data dir brings
// up Postgres, Redis, Mosquitto (plain + TLS) and the backend; the info document and a healthy
// /health answer, mosquitto_sub connects over TLS with the generated CA; `down` stops it all.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <filesystem>

#include "integration/harness/http_client.hpp"
#include "integration/harness/process.hpp"
#include "integration/harness/temp_dir.hpp"
#include "integration/harness/wait.hpp"

using namespace std::chrono_literals;
using pepeunit::testing::freePort;
using pepeunit::testing::pollUntil;

namespace {

struct Run {
  int exit_code = -1;
  std::string output;
};

/// Runs a command to completion with extra environment, capturing its output.
Run run(const std::filesystem::path& log_dir, std::vector<std::string> argv,
        const std::map<std::string, std::string>& env, std::chrono::milliseconds timeout) {
  static int n = 0;
  const auto log = log_dir / ("cmd-" + std::to_string(++n) + ".log");
  pepeunit::testing::SpawnOptions options;
  options.argv = std::move(argv);
  options.env_overrides = env;
  options.log_file = log;
  auto p = pepeunit::testing::Process::launch(options);
  const auto code = p.wait(timeout);
  if (!code)
    p.stop();
  return {code.value_or(-1), pepeunit::testing::readFile(log)};
}

}  // namespace

TEST_CASE("local stack: `scripts/pepeunit up` brings everything up and `down` stops it") {
  pepeunit::testing::TempDir dir;
  const std::string script = PEPEUNIT_SOURCE_DIR "/scripts/pepeunit";
  const auto build_dir =
      std::filesystem::path(PEPEUNIT_BACKEND_BIN).parent_path().parent_path().string();
  const int http = freePort(), pg = freePort(), redis = freePort(), mqtt = freePort(),
            mqtts = freePort();
  const std::map<std::string, std::string> env = {
      {"PEPEUNIT_DATA_DIR", (dir.path() / "data").string()},
      {"PEPEUNIT_BUILD_DIR", build_dir},
      {"PEPEUNIT_HTTP_PORT", std::to_string(http)},
      {"PEPEUNIT_PG_PORT", std::to_string(pg)},
      {"PEPEUNIT_REDIS_PORT", std::to_string(redis)},
      {"PEPEUNIT_MQTT_PORT", std::to_string(mqtt)},
      {"PEPEUNIT_MQTTS_PORT", std::to_string(mqtts)},
  };

  const auto logs = dir.path();
  struct Down {
    const std::filesystem::path& logs;
    const std::string& script;
    const std::map<std::string, std::string>& env;
    ~Down() { run(logs, {script, "down"}, env, 60s); }
  } down_at_exit{logs, script, env};

  const auto up = run(logs, {script, "up"}, env, 240s);
  INFO(up.output);
  REQUIRE(up.exit_code == 0);
  CHECK(up.output.find("/pepeunit/api/v1/users") != std::string::npos);  // first-user hint

  pepeunit::testing::HttpClient client("127.0.0.1", http);
  const auto info = client.get("/pepeunit");
  REQUIRE(info.status == 200);
  CHECK(info.json()["name"] == "pepeunit-backend-cpp");
  REQUIRE(pollUntil([&] { return client.get("/pepeunit/health").status == 200; }, 30s));

  // TLS on the second listener with the CA that `up` generated.
  const auto ca = (dir.path() / "data" / "tls" / "ca.crt").string();
  REQUIRE(std::filesystem::exists(ca));
  const auto sub = run(logs,
                       {"mosquitto_sub", "-h", "localhost", "-p", std::to_string(mqtts), "--cafile",
                        ca, "-t", "probe/#", "-C", "1", "-W", "3"},
                       {}, 20s);
  // -W: exits after 3 s without a message (code 27); a TLS or connect failure is a different code.
  INFO(sub.output);
  CHECK(sub.output.find("Error") == std::string::npos);
  CHECK((sub.exit_code == 27 || sub.exit_code == 0));

  const auto status = run(logs, {script, "status"}, env, 30s);
  CHECK(status.exit_code == 0);
  CHECK(status.output.find("running") != std::string::npos);

  const auto stopped = run(logs, {script, "down"}, env, 60s);
  INFO(stopped.output);
  CHECK(stopped.exit_code == 0);
  // The backend is gone: connecting is refused (the client throws on a refused connection).
  CHECK(pollUntil(
      [&] {
        try {
          client.get("/pepeunit");
          return false;
        } catch (const std::runtime_error&) {
          return true;
        }
      },
      10s));
}
