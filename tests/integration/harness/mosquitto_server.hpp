// A throwaway Mosquitto 2.0 broker on free loopback ports with a generated config: a plain
// listener, optionally a TLS listener with a throwaway CA, and optionally our auth plugin.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "integration/harness/process.hpp"
#include "integration/harness/tls_certs.hpp"

namespace pepeunit::testing {

/// How the broker is configured (see MosquittoServer::Options).
struct MosquittoOptions {
  bool allow_anonymous = true;
  /// `plugin <path>`, e.g. PEPEUNIT_PLUGIN_PATH for our built auth plugin.
  std::optional<std::filesystem::path> plugin;
  /// `plugin_opt_<key> <value>` lines, in this order (only with `plugin`).
  std::vector<std::pair<std::string, std::string>> plugin_opts;
  /// A second listener on tlsPort() with a certificate for localhost/127.0.0.1.
  bool tls = true;
  /// Further mosquitto.conf lines, appended verbatim (global options only).
  std::vector<std::string> extra_config;
};

/// `mosquitto -c <dir>/mosquitto.conf`; the broker logs to <dir>/mosquitto.log, its own
/// stdout/stderr (config errors) go to <dir>/mosquitto.out.
class MosquittoServer {
 public:
  using Options = MosquittoOptions;

  explicit MosquittoServer(const std::filesystem::path& dir, Options options = {});
  ~MosquittoServer();
  MosquittoServer(const MosquittoServer&) = delete;
  MosquittoServer& operator=(const MosquittoServer&) = delete;
  MosquittoServer(MosquittoServer&&) noexcept = default;
  MosquittoServer& operator=(MosquittoServer&&) noexcept = default;

  /// Writes the config and starts; returns once an MQTT CONNECT on port() gets a CONNACK (any
  /// return code: a refusal still proves the broker and its plugin are up). Throws
  /// std::runtime_error quoting the logs if it does not come up.
  void start();
  void stop();
  /// stop() + start() on the same ports (the config is rewritten from options()).
  void restart();
  bool running() { return process_.running(); }

  /// One MQTT 3.1.1 CONNECT (clean session, anonymous) on the plain port; the CONNACK return
  /// code, or nullopt if none arrived within `timeout`.
  std::optional<int> connackCode(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(500)) const;

  int port() const { return port_; }
  /// 0 when Options::tls is false.
  int tlsPort() const { return tls_port_; }
  /// The CA that signed the TLS listener's certificate (empty path when Options::tls is false).
  std::filesystem::path caFile() const { return tls_files_.ca_cert; }
  const TlsFiles& tlsFiles() const { return tls_files_; }
  /// Changes take effect at the next start()/restart().
  Options& options() { return options_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path configFile() const { return dir_ / "mosquitto.conf"; }
  /// The broker's log file followed by its stdout/stderr.
  std::string logText() const;
  Process& process() { return process_; }

 private:
  void writeConfig() const;
  bool launch();

  std::filesystem::path dir_;
  Options options_;
  int port_ = 0;
  int tls_port_ = 0;
  TlsFiles tls_files_;
  Process process_;
};

}  // namespace pepeunit::testing
