// Stack: construction order is start order; members' destructors stop in reverse. With the auth
// plugin on, the backend's secret, plugin token and HTTP port are chosen before the broker starts,
// because the broker's plugin needs them in its config.
#include "integration/harness/stack.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "crypto/jwt.hpp"
#include "crypto/random.hpp"
#include "integration/harness/wait.hpp"

namespace pepeunit::testing {
namespace {

std::string valueOr(const std::map<std::string, std::string>& overrides, const std::string& key,
                    std::string fallback) {
  const auto it = overrides.find(key);
  return it != overrides.end() ? it->second : std::move(fallback);
}

void writeSecret(const std::filesystem::path& file, const std::string& value) {
  std::ofstream out(file, std::ios::trunc);
  out << value << "\n";
  if (!out.flush()) {
    throw std::runtime_error("cannot write " + file.string());
  }
}

std::int64_t nowPlus(std::chrono::seconds ttl) {
  return std::chrono::duration_cast<std::chrono::seconds>(
             (std::chrono::system_clock::now() + ttl).time_since_epoch())
      .count();
}

}  // namespace

Stack::Stack() : Stack(Options{}) {}

Stack::Stack(Options options)
    : pg_(dir_.path() / "pg"),
      redis_(dir_.path() / "redis"),
      mqtt_(dir_.path() / "mqtt", std::move(options.mqtt)),
      backend_(dir_.path() / "backend") {
  std::filesystem::create_directories(dir_.path() / "repos");
  auto& overrides = options.backend_env_overrides;
  // What both the backend and the broker's plugin must agree on.
  const std::string secret = valueOr(overrides, "BACKEND_SECRET_KEY", crypto::randomToken(32));
  const std::string plugin_token =
      valueOr(overrides, "BACKEND_PLUGIN_TOKEN", crypto::randomToken(32));
  const std::string domain = valueOr(overrides, "BACKEND_DOMAIN", "127.0.0.1");
  const int http_port =
      std::stoi(valueOr(overrides, "BACKEND_HTTP_PORT", std::to_string(freePort())));

  redis_.start();
  if (options.auth_plugin) {
    const auto key_file = mqtt_.dir() / "jwt.key";
    const auto token_file = mqtt_.dir() / "plugin.token";
    writeSecret(key_file, secret);
    writeSecret(token_file, plugin_token);
    auto& mqtt = mqtt_.options();
    mqtt.allow_anonymous = false;
    mqtt.plugin = PEPEUNIT_PLUGIN_PATH;
    mqtt.plugin_opts = {
        {"jwt_key_file", key_file.string()},
        {"domain", domain},
        {"backend_url", "http://127.0.0.1:" + std::to_string(http_port)},
        {"backend_token_file", token_file.string()},
        {"redis_url", redis_.url()},
        // A loaded CI box can take longer than the production 20 ms to answer a first CONNECT.
        {"fetch_timeout_ms", "1000"},
        {"stall_budget_ms_per_s", "1000"},
        {"metrics_interval_s", "1"},
    };
    for (auto& [key, value] : options.plugin_opts) {  // the test's value wins
      const auto same = [&key](const auto& opt) { return opt.first == key; };
      if (auto it = std::find_if(mqtt.plugin_opts.begin(), mqtt.plugin_opts.end(), same);
          it != mqtt.plugin_opts.end()) {
        it->second = value;
      } else {
        mqtt.plugin_opts.emplace_back(key, value);
      }
    }
  }
  mqtt_.start();
  pg_.start();
  backend_env_ = BackendProcess::baseEnv(pg_, redis_, mqtt_, http_port, dir_.path() / "repos");
  backend_env_["BACKEND_SECRET_KEY"] = secret;
  backend_env_["BACKEND_PLUGIN_TOKEN"] = plugin_token;
  backend_env_["BACKEND_DOMAIN"] = domain;
  for (auto& [key, value] : overrides) {
    backend_env_[key] = value;
  }
  if (options.start_backend) {
    startBackend();
  }
}

// Explicit so teardown order is visible: backend first (it holds connections to the others).
Stack::~Stack() {
  backend_.stop();
  mqtt_.stop();
  redis_.stop();
  pg_.stop();
}

void Stack::startBackend() {
  backend_.start(backend_env_);
  backend_.waitReady();
}

std::string Stack::backendMqttToken() const {
  nlohmann::ordered_json claims;
  claims["domain"] = domain();
  claims["type"] = "Backend";
  claims["exp"] = nowPlus(std::chrono::hours(1));
  return crypto::signJwt(claims, backend_env_.at("BACKEND_SECRET_KEY"));
}

std::string Stack::unitMqttToken(const std::string& unit_uuid) const {
  nlohmann::ordered_json claims;
  claims["uuid"] = unit_uuid;
  claims["type"] = "Unit";
  return crypto::signJwt(claims, backend_env_.at("BACKEND_SECRET_KEY"));
}

}  // namespace pepeunit::testing
