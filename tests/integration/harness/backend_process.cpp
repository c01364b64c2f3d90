// BackendProcess: configuration for the harness's servers, spawn, readiness over HTTP.
#include "integration/harness/backend_process.hpp"

#include <httplib.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <stdexcept>

#include "crypto/base64.hpp"
#include "integration/harness/wait.hpp"

namespace pepeunit::testing {
namespace {

std::string randomBytes(std::size_t n) {
  std::string bytes(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return bytes;
}

std::string randomHex(std::size_t n_bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : randomBytes(n_bytes)) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

/// `env` plus the few variables of ours a program legitimately needs (and sanitizer settings).
EnvMap withSystemVariables(const EnvMap& env) {
  EnvMap out = env;
  for (const char* name :
       {"PATH", "HOME", "TZ", "LANG", "TMPDIR", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
    if (const char* value = std::getenv(name); value != nullptr) {
      out.emplace(name, value);  // never overrides what the test set
    }
  }
  return out;
}

SpawnOptions backendSpawn(std::vector<std::string> args, const EnvMap& env,
                          const std::filesystem::path& dir, const std::filesystem::path& log) {
  SpawnOptions options;
  options.argv = std::move(args);
  options.env_overrides = withSystemVariables(env);
  options.inherit_env = false;
  options.log_file = log;
  options.working_dir = dir;
  return options;
}

}  // namespace

std::string BackendProcess::binary() {
  return PEPEUNIT_BACKEND_BIN;
}

BackendProcess::BackendProcess(std::filesystem::path dir) : dir_(std::move(dir)) {
  if (dir_.empty()) {
    own_dir_.emplace();
    dir_ = own_dir_->path();
  }
  std::filesystem::create_directories(dir_);
}

BackendProcess::~BackendProcess() {
  stop();
}

EnvMap BackendProcess::baseEnv(const PostgresServer& pg, const RedisServer& redis,
                               const MosquittoServer& mqtt, int http_port,
                               const std::filesystem::path& repos_dir) {
  const std::filesystem::path repos =
      repos_dir.empty() ? mqtt.dir().parent_path() / "repos" : repos_dir;
  return {
      {"BACKEND_DOMAIN", "127.0.0.1"},
      {"BACKEND_SECURE", "false"},
      {"BACKEND_SECRET_KEY", randomHex(32)},
      {"BACKEND_ENCRYPT_KEY", crypto::base64Encode(randomBytes(32))},
      {"BACKEND_STATIC_SALT", randomHex(16)},
      {"DATABASE_URL", pg.url()},
      {"REDIS_URL", redis.url()},
      {"MQTT_HOST", "127.0.0.1"},
      {"MQTT_PORT", std::to_string(mqtt.port())},
      {"BACKEND_HTTP_HOST", "127.0.0.1"},
      {"BACKEND_HTTP_PORT", std::to_string(http_port != 0 ? http_port : freePort())},
      {"BACKEND_MIGRATIONS_DIR", PEPEUNIT_SOURCE_DIR "/schemas/sql"},
      {"BACKEND_SAVE_REPO_PATH", repos.string()},
      {"BACKEND_ALLOW_LOCAL_REPOS", "true"},
      {"BACKEND_LOG_LEVEL", "debug"},
  };
}

void BackendProcess::start(const EnvMap& env) {
  if (process_.running()) {
    throw std::logic_error("BackendProcess::start: already running");
  }
  const auto port = env.find("BACKEND_HTTP_PORT");
  if (port == env.end()) {
    throw std::invalid_argument("BackendProcess::start: env has no BACKEND_HTTP_PORT");
  }
  port_ = std::stoi(port->second);
  env_ = env;
  process_ = Process::launch(backendSpawn({binary(), "serve"}, env_, dir_, logFile()));
}

void BackendProcess::waitReady(std::chrono::milliseconds timeout) {
  const auto prefix = env_.find("BACKEND_APP_PREFIX");
  const std::string path = prefix != env_.end() ? prefix->second : "/pepeunit";
  httplib::Client client("127.0.0.1", port_);
  client.set_tcp_nodelay(true);
  client.set_connection_timeout(std::chrono::seconds(1));
  client.set_read_timeout(std::chrono::seconds(2));
  int last_status = 0;
  const bool ready = pollUntil(
      [&] {
        if (!process_.running()) {
          return true;
        }
        const auto res = client.Get(path);
        last_status = res ? res->status : 0;
        return last_status == 200;
      },
      timeout, std::chrono::milliseconds(25));
  if (ready && process_.running()) {
    return;
  }
  std::string why;
  if (!process_.running()) {
    why = "exited with code " + std::to_string(process_.exitCode().value_or(-1));
  } else {
    why = "GET " + path + " did not return 200 (last status " + std::to_string(last_status) +
          ") within " + std::to_string(timeout.count()) + " ms";
  }
  throw std::runtime_error("backend on port " + std::to_string(port_) + " " + why + "; log:\n" +
                           readFileTail(logFile(), 8192));
}

std::optional<int> BackendProcess::stop() {
  return process_.stop(SIGTERM, std::chrono::seconds(10));
}

std::string BackendProcess::baseUrl() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

BackendProcess::RunResult BackendProcess::runOnce(std::vector<std::string> args, const EnvMap& env,
                                                  std::chrono::milliseconds timeout) {
  if (args.empty() || args.front() != binary()) {
    args.insert(args.begin(), binary());
  }
  const TempDir dir;
  const auto log = dir.path() / "output.log";
  Process process = Process::launch(backendSpawn(std::move(args), env, dir.path(), log));
  RunResult result;
  if (const auto code = process.wait(timeout)) {
    result.exit_code = *code;
  } else {
    result.timed_out = true;
    process.stop(SIGKILL);
  }
  result.output = readFile(log);
  return result;
}

}  // namespace pepeunit::testing
