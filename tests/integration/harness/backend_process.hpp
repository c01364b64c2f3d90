// The built backend binary (`pepeunit-backend serve`) as a child process of a test, with an
// environment pointing it at the harness's Postgres, Redis and Mosquitto.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "integration/harness/mosquitto_server.hpp"
#include "integration/harness/postgres_server.hpp"
#include "integration/harness/process.hpp"
#include "integration/harness/redis_server.hpp"
#include "integration/harness/temp_dir.hpp"

namespace pepeunit::testing {

using EnvMap = std::map<std::string, std::string>;

/// Runs PEPEUNIT_BACKEND_BIN with exactly the environment it is given (plus PATH/HOME/TZ/LANG
/// from ours), in its own folder, so the developer's shell variables and any .env file in the
/// current directory cannot leak in. Output goes to <dir>/backend.log.
class BackendProcess {
 public:
  /// `dir` holds the log and is the working directory; empty: a private TempDir.
  explicit BackendProcess(std::filesystem::path dir = {});
  ~BackendProcess();
  BackendProcess(const BackendProcess&) = delete;
  BackendProcess& operator=(const BackendProcess&) = delete;
  BackendProcess(BackendProcess&&) noexcept = default;
  BackendProcess& operator=(BackendProcess&&) noexcept = default;

  /// A complete, valid configuration for `serve` against the given servers: random
  /// BACKEND_SECRET_KEY/BACKEND_ENCRYPT_KEY/BACKEND_STATIC_SALT, BACKEND_DOMAIN=127.0.0.1,
  /// BACKEND_SECURE=false, DATABASE_URL, REDIS_URL, MQTT_HOST/MQTT_PORT (plain listener),
  /// BACKEND_HTTP_PORT (`http_port`, or a free one when 0), BACKEND_MIGRATIONS_DIR (the
  /// source tree's schemas/sql), BACKEND_SAVE_REPO_PATH (`repos_dir`, default
  /// <mqtt.dir()/..>/repos), BACKEND_ALLOW_LOCAL_REPOS=true, BACKEND_LOG_LEVEL=debug.
  static EnvMap baseEnv(const PostgresServer& pg, const RedisServer& redis,
                        const MosquittoServer& mqtt, int http_port,
                        const std::filesystem::path& repos_dir = {});

  /// Spawns `<bin> serve` with `env`; the HTTP port is read from env["BACKEND_HTTP_PORT"].
  /// Does not wait: call waitReady().
  void start(const EnvMap& env);
  /// Polls `GET /pepeunit` until HTTP 200; throws std::runtime_error quoting the log if the
  /// process exits or `timeout` passes first.
  void waitReady(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// SIGTERM, then SIGKILL after 10 s; returns the exit code (nullopt if never started).
  std::optional<int> stop();
  bool running() { return process_.running(); }

  int port() const { return port_; }
  /// `http://127.0.0.1:<port>`
  std::string baseUrl() const;
  const EnvMap& env() const { return env_; }
  std::string logText() const { return readFile(logFile()); }
  std::filesystem::path logFile() const { return dir_ / "backend.log"; }
  Process& process() { return process_; }

  struct RunResult {
    int exit_code = -1;  ///< -1 when it timed out and was killed
    bool timed_out = false;
    std::string output;  ///< stdout and stderr, interleaved
  };
  /// Runs the backend binary once to completion with exactly `env` (as for start()). `args`
  /// are the arguments after the binary, e.g. {"serve"} or {"migrate"}; a leading
  /// PEPEUNIT_BACKEND_BIN is tolerated. For "refuses to start on bad config" tests.
  static RunResult runOnce(std::vector<std::string> args, const EnvMap& env,
                           std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// The absolute path of the backend binary under test.
  static std::string binary();

 private:
  std::optional<TempDir> own_dir_;
  std::filesystem::path dir_;
  int port_ = 0;
  EnvMap env_;
  Process process_;
};

}  // namespace pepeunit::testing
