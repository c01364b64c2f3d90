// A throwaway Redis on a free loopback port, without persistence; can be restarted on the same
// port and frozen (SIGSTOP) to test what our code does when Redis stops answering.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "integration/harness/process.hpp"

namespace pepeunit::testing {

/// `redis-server --port <p> --bind 127.0.0.1 --save '' --appendonly no --dir <dir>`, output in
/// <dir>/redis.log.
class RedisServer {
 public:
  explicit RedisServer(const std::filesystem::path& dir);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  RedisServer(RedisServer&&) noexcept = default;
  RedisServer& operator=(RedisServer&&) noexcept = default;

  /// Starts and polls until PING answers PONG; throws std::runtime_error quoting the log if not.
  void start();
  void stop();
  /// stop() + start() on the same port (the data is gone: nothing is persisted).
  void restart();
  /// SIGSTOP: connections are still accepted by the kernel but nothing is answered.
  void pause();
  /// SIGCONT, then waits until PING answers again.
  void resume();
  bool running() { return process_.running(); }

  /// One raw-socket PING; true on +PONG within `timeout`.
  bool ping(std::chrono::milliseconds timeout = std::chrono::milliseconds(500)) const;

  int port() const { return port_; }
  /// `redis://127.0.0.1:<port>/0`
  std::string url() const;
  const std::filesystem::path& dir() const { return dir_; }
  std::string logText() const { return readFile(dir_ / "redis.log"); }
  Process& process() { return process_; }

 private:
  bool launch();

  std::filesystem::path dir_;
  int port_ = 0;
  Process process_;
};

}  // namespace pepeunit::testing
