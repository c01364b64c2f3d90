// Everything an integration test needs, started in one line: a temp dir with Postgres, Redis,
// Mosquitto and (optionally) the backend, torn down in reverse order when the Stack goes away.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "integration/harness/backend_process.hpp"
#include "integration/harness/mosquitto_server.hpp"
#include "integration/harness/postgres_server.hpp"
#include "integration/harness/redis_server.hpp"
#include "integration/harness/temp_dir.hpp"

namespace pepeunit::testing {

/// What Stack starts (see Stack::Options).
struct StackOptions {
  /// Start `pepeunit-backend serve` and wait for GET /pepeunit == 200.
  bool start_backend = true;
  /// Mosquitto loads our auth plugin (both listeners, allow_anonymous false) pointed at this
  /// stack's backend and Redis, as the real stack does. Off only for tests of the bare broker.
  bool auth_plugin = true;
  /// `plugin_opt_` pairs (e.g. a shorter ttl_s) over the harness's own (same key: this wins).
  std::vector<std::pair<std::string, std::string>> plugin_opts;
  MosquittoOptions mqtt;
  /// Applied over BackendProcess::baseEnv(); an empty value still sets the variable to "".
  std::map<std::string, std::string> backend_env_overrides;

  /// The defaults with these backend variables set (the common case, without listing every
  /// member in a designated initializer).
  static StackOptions withEnv(std::map<std::string, std::string> env) {
    StackOptions options;
    options.backend_env_overrides = std::move(env);
    return options;
  }
};

/// Layout: <dir>/pg, <dir>/redis, <dir>/mqtt, <dir>/backend (log), <dir>/repos.
/// Construction starts everything (throws if something does not come up; whatever already
/// started is stopped again by the members' destructors).
class Stack {
 public:
  using Options = StackOptions;

  Stack();
  explicit Stack(Options options);
  ~Stack();
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;

  PostgresServer& pg() { return pg_; }
  RedisServer& redis() { return redis_; }
  MosquittoServer& mqtt() { return mqtt_; }
  /// Exists (not running) even when start_backend is false; see startBackend().
  BackendProcess& backend() { return backend_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  /// baseEnv(...) + Options::backend_env_overrides, fixed at construction (same secrets and
  /// HTTP port for every start).
  const EnvMap& backendEnv() const { return backend_env_; }

  /// backend().start(backendEnv()) + waitReady().
  void startBackend();

  /// The backend's own MQTT identity (superuser for `<domain>/#` under the plugin), signed with
  /// this stack's BACKEND_SECRET_KEY; valid for an hour.
  std::string backendMqttToken() const;
  /// A Unit token (`{"uuid", "type": "Unit"}`) as the backend issues it; whether the broker
  /// accepts it depends on the unit existing.
  std::string unitMqttToken(const std::string& unit_uuid) const;
  /// BACKEND_PLUGIN_TOKEN: the bearer the plugin presents to `/mqtt/acl/rules`.
  const std::string& pluginToken() const { return backend_env_.at("BACKEND_PLUGIN_TOKEN"); }
  const std::string& domain() const { return backend_env_.at("BACKEND_DOMAIN"); }

 private:
  TempDir dir_;  // first member: created first, removed last
  PostgresServer pg_;
  RedisServer redis_;
  MosquittoServer mqtt_;
  BackendProcess backend_;
  EnvMap backend_env_;
};

}  // namespace pepeunit::testing
