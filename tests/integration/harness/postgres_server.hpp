// A throwaway PostgreSQL 15 cluster on a free loopback port: initdb into the given folder,
// trust auth, durability off for speed, database `pepeunit` created on first start.
#pragma once

#include <filesystem>
#include <string>

#include "integration/harness/process.hpp"

namespace pepeunit::testing {

/// Runs Debian's /usr/lib/postgresql/15/bin/{initdb,postgres}; as user `postgres` when we are
/// root (both refuse to run as root). Files: <dir>/data, <dir>/postgres.log, socket in <dir>.
class PostgresServer {
 public:
  explicit PostgresServer(const std::filesystem::path& dir);
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  PostgresServer(PostgresServer&&) noexcept = default;
  PostgresServer& operator=(PostgresServer&&) noexcept = default;

  /// initdb (first time only), start, poll until it accepts connections, create `pepeunit`.
  /// Throws std::runtime_error quoting the log if it does not come up.
  void start();
  /// Fast shutdown (SIGINT: aborts open sessions), then reaped.
  void stop();
  /// stop() + start() on the same port and data.
  void restart();
  bool running() { return process_.running(); }

  int port() const { return port_; }
  /// `postgresql://postgres@127.0.0.1:<port>/<db>`
  std::string url(const std::string& db = "pepeunit") const;
  /// CREATE DATABASE `name` (owned by postgres, from template1).
  void createDatabase(const std::string& name);

  const std::filesystem::path& dir() const { return dir_; }
  std::string logText() const { return readFile(dir_ / "postgres.log"); }
  Process& process() { return process_; }

 private:
  void initDb();
  bool launch();  // false if it exited early (e.g. the port was taken meanwhile)
  bool accepts() const;

  std::filesystem::path dir_;
  int port_ = 0;
  bool initialized_ = false;
  Process process_;
};

}  // namespace pepeunit::testing
