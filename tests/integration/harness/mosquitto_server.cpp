// MosquittoServer: config generation, start/stop, readiness by MQTT CONNECT/CONNACK.
#include "integration/harness/mosquitto_server.hpp"

#include <unistd.h>

#include <fstream>
#include <stdexcept>

#include "integration/harness/mqtt_packets.hpp"
#include "integration/harness/tcp_probe.hpp"
#include "integration/harness/wait.hpp"

namespace pepeunit::testing {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(20);

}  // namespace

MosquittoServer::MosquittoServer(const std::filesystem::path& dir, Options options)
    : dir_(dir), options_(std::move(options)) {
  std::filesystem::create_directories(dir_);
}

MosquittoServer::~MosquittoServer() {
  stop();
}

std::string MosquittoServer::logText() const {
  return readFile(dir_ / "mosquitto.log") + readFile(dir_ / "mosquitto.out");
}

std::optional<int> MosquittoServer::connackCode(std::chrono::milliseconds timeout) const {
  const auto reply = tcpExchange(
      port_,
      mqttConnectPacket({.client_id = "pepeunit-harness-probe",
                         .username = std::nullopt,
                         .will = std::nullopt,
                         .keepalive_s = 10}),
      [](std::string_view got) { return got.size() >= 4; }, timeout);
  if (!reply || (*reply)[0] != '\x20' || (*reply)[1] != '\x02') {
    return std::nullopt;
  }
  return static_cast<unsigned char>((*reply)[3]);
}

void MosquittoServer::writeConfig() const {
  std::ofstream conf(configFile(), std::ios::trunc);
  conf << "per_listener_settings false\n"
       << "persistence false\n"
       << "log_dest file " << (dir_ / "mosquitto.log").string() << "\n"
       << "log_type all\n"
       << "connection_messages true\n";
  if (::geteuid() == 0) {
    conf << "user root\n";  // otherwise it drops to `mosquitto`, who cannot read our files
  }
  conf << "listener " << port_ << " 127.0.0.1\n";
  if (options_.tls) {
    conf << "listener " << tls_port_ << " 127.0.0.1\n"
         << "cafile " << tls_files_.ca_cert.string() << "\n"
         << "certfile " << tls_files_.server_cert.string() << "\n"
         << "keyfile " << tls_files_.server_key.string() << "\n";
  }
  conf << "allow_anonymous " << (options_.allow_anonymous ? "true" : "false") << "\n";
  if (options_.plugin) {
    conf << "plugin " << options_.plugin->string() << "\n";
    for (const auto& [key, value] : options_.plugin_opts) {
      conf << "plugin_opt_" << key << " " << value << "\n";
    }
  }
  for (const auto& line : options_.extra_config) {
    conf << line << "\n";
  }
  if (!conf.flush()) {
    throw std::runtime_error("cannot write " + configFile().string());
  }
}

bool MosquittoServer::launch() {
  writeConfig();
  process_ = Process::spawn({"mosquitto", "-c", configFile().string()}, {}, dir_ / "mosquitto.out");
  if (pollUntil([this] { return !process_.running() || connackCode().has_value(); },
                kStartTimeout) &&
      process_.running()) {
    return true;
  }
  if (!process_.running()) {
    return false;
  }
  process_.stop(SIGKILL);
  throw std::runtime_error("mosquitto did not answer CONNECT on port " + std::to_string(port_) +
                           "; log:\n" + logText());
}

void MosquittoServer::start() {
  if (process_.running()) {
    return;
  }
  if (options_.tls && tls_files_.ca_cert.empty()) {
    tls_files_ = makeTestCertificates(dir_ / "tls");
  }
  // Retry on fresh ports if another process grabbed ours between freePort() and bind().
  const bool fixed_ports = port_ != 0;
  if (fixed_ports && options_.tls && tls_port_ == 0) {
    tls_port_ = freePort();  // TLS switched on between restarts
  }
  for (int attempt = 1;; ++attempt) {
    if (!fixed_ports) {
      port_ = freePort();
      tls_port_ = 0;
      while (options_.tls && (tls_port_ == 0 || tls_port_ == port_)) {
        tls_port_ = freePort();
      }
    }
    if (launch()) {
      return;
    }
    if (fixed_ports || attempt == 3) {
      throw std::runtime_error("mosquitto exited during start-up on port " + std::to_string(port_) +
                               "; log:\n" + logText());
    }
  }
}

void MosquittoServer::stop() {
  process_.stop(SIGTERM, std::chrono::seconds(10));
}

void MosquittoServer::restart() {
  stop();
  start();
}

}  // namespace pepeunit::testing
