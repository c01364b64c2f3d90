// README command 1 as a test: `scripts/pepeunit up` on free ports in a private data dir brings
// up Postgres, Redis, Mosquitto (plain + TLS, both through our auth plugin) and the backend; the
// info document and a healthy /health answer; over TLS with the generated CA an anonymous
// mosquitto_sub is refused and one with the backend's token gets in; `down` stops it all.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "crypto/jwt.hpp"
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

/// KEY=value from the env file `up` wrote.
std::string envFileValue(const std::filesystem::path& file, const std::string& key) {
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + "=", 0) == 0)
      return line.substr(key.size() + 1);
  }
  return {};
}

/// The backend's MQTT identity as the backend itself signs it (superuser under the plugin).
std::string backendToken(const std::filesystem::path& env_file) {
  nlohmann::ordered_json claims;
  claims["domain"] = envFileValue(env_file, "BACKEND_DOMAIN");
  claims["type"] = "Backend";
  claims["exp"] = std::chrono::duration_cast<std::chrono::seconds>(
                      (std::chrono::system_clock::now() + 1h).time_since_epoch())
                      .count();
  return pepeunit::crypto::signJwt(claims, envFileValue(env_file, "BACKEND_SECRET_KEY"));
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

  // TLS on the second listener with the CA that `up` generated; the plugin refuses anonymous
  // clients (mosquitto_sub exits at once with "not authorised") and admits the backend token.
  const auto ca = (dir.path() / "data" / "tls" / "ca.crt").string();
  REQUIRE(std::filesystem::exists(ca));
  const auto env_file = dir.path() / "data" / "backend.env";
  const auto domain = envFileValue(env_file, "BACKEND_DOMAIN");
  REQUIRE_FALSE(domain.empty());
  const std::vector<std::string> tls_sub = {"mosquitto_sub",
                                            "-h",
                                            "localhost",
                                            "-p",
                                            std::to_string(mqtts),
                                            "--cafile",
                                            ca,
                                            "-t",
                                            domain + "/probe/#",
                                            "-C",
                                            "1",
                                            "-W",
                                            "3"};
  const auto anonymous = run(logs, tls_sub, {}, 20s);
  INFO(anonymous.output);
  CHECK(anonymous.exit_code != 0);
  CHECK(anonymous.exit_code != 27);  // refused, not a timeout after a successful connect
  // The plain listener goes through the plugin too.
  const auto plain = run(logs,
                         {"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(mqtt), "-t",
                          domain + "/probe/#", "-C", "1", "-W", "3"},
                         {}, 20s);
  INFO(plain.output);
  CHECK(plain.exit_code != 0);
  CHECK(plain.exit_code != 27);
  auto with_token = tls_sub;
  with_token.insert(with_token.end(), {"-u", backendToken(env_file)});
  const auto sub = run(logs, with_token, {}, 20s);
  // -W: exits after 3 s without a message (code 27); a TLS or connect failure is a different code.
  INFO(sub.output);
  CHECK(sub.output.find("Error") == std::string::npos);
  CHECK((sub.exit_code == 27 || sub.exit_code == 0));
  CHECK(pepeunit::testing::readFile(dir.path() / "data" / "mosquitto" / "mosquitto.conf")
            .find("allow_anonymous false") != std::string::npos);

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
