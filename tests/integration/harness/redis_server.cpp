// RedisServer: redis-server as a child process, readiness by a raw PING.
#include "integration/harness/redis_server.hpp"

#include <stdexcept>

#include "integration/harness/tcp_probe.hpp"
#include "integration/harness/wait.hpp"

namespace pepeunit::testing {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(20);

}  // namespace

RedisServer::RedisServer(const std::filesystem::path& dir) : dir_(dir) {
  std::filesystem::create_directories(dir_);
}

RedisServer::~RedisServer() {
  stop();
}

std::string RedisServer::url() const {
  return "redis://127.0.0.1:" + std::to_string(port_) + "/0";
}

bool RedisServer::ping(std::chrono::milliseconds timeout) const {
  const auto reply = tcpExchange(
      port_, "PING\r\n", [](std::string_view got) { return got.find("\r\n") != got.npos; },
      timeout);
  return reply && *reply == "+PONG\r\n";
}

bool RedisServer::launch() {
  process_ = Process::spawn(
      {"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
       "--appendonly", "no", "--dir", dir_.string(), "--daemonize", "no"},
      {}, dir_ / "redis.log");
  if (pollUntil([this] { return !process_.running() || ping(); }, kStartTimeout) &&
      process_.running()) {
    return true;
  }
  if (!process_.running()) {
    return false;
  }
  process_.stop(SIGKILL);
  throw std::runtime_error("redis did not answer PING on port " + std::to_string(port_) +
                           "; log:\n" + readFileTail(dir_ / "redis.log"));
}

void RedisServer::start() {
  if (process_.running()) {
    return;
  }
  // Retry on a fresh port if another process grabbed ours between freePort() and bind().
  const bool fixed_port = port_ != 0;
  for (int attempt = 1;; ++attempt) {
    if (!fixed_port) {
      port_ = freePort();
    }
    if (launch()) {
      return;
    }
    if (fixed_port || attempt == 3) {
      throw std::runtime_error("redis exited during start-up on port " + std::to_string(port_) +
                               "; log:\n" + readFileTail(dir_ / "redis.log"));
    }
  }
}

void RedisServer::stop() {
  process_.stop(SIGTERM, std::chrono::seconds(10));
}

void RedisServer::restart() {
  stop();
  start();
}

void RedisServer::pause() {
  process_.signal(SIGSTOP);
  // kill() only queues the signal; make sure the server really is frozen before returning.
  const auto stat_path = "/proc/" + std::to_string(process_.pid()) + "/stat";
  const bool stopped = pollUntil(
      [&] {
        const std::string stat = readFile(stat_path);
        const auto paren = stat.rfind(')');
        return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'T';
      },
      std::chrono::seconds(5), std::chrono::milliseconds(1));
  if (!stopped) {
    throw std::runtime_error("redis did not stop on SIGSTOP");
  }
}

void RedisServer::resume() {
  process_.signal(SIGCONT);
  if (!pollUntil([this] { return ping(); }, kStartTimeout)) {
    throw std::runtime_error("redis did not answer PING after SIGCONT; log:\n" +
                             readFileTail(dir_ / "redis.log"));
  }
}

}  // namespace pepeunit::testing
