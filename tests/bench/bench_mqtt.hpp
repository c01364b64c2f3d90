// Shared plumbing of the broker benchmarks B2–B5 (performance_anchors.md §5): a real Stack
// (Postgres, Redis, backend) that the plugin loads rules from, A/B broker pairs (the same config
// with and without the plugin), SQL fixtures for units/nodes/edges, the C++ load generator (MQTT
// 3.1.1 on plain sockets for the data path, see "raw-socket MQTT" below; libmosquitto for the
// counters client), broker CPU from /proc/<pid>/stat, steal from /proc/stat, CPU pinning, the
// plugin's $SYS counters and a CONNECT/CONNACK/DISCONNECT loop.
//
// Brokers log only errors and warnings here: the harness's `log_type all` logs every PUBLISH at
// debug level, which would be measured instead of the plugin.
#pragma once

#include <mosquitto.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/bench_common.hpp"
#include "crypto/jwt.hpp"
#include "crypto/random.hpp"
#include "integration/harness/mosquitto_server.hpp"
#include "integration/harness/mqtt_packets.hpp"
#include "integration/harness/stack.hpp"
#include "integration/harness/wait.hpp"

namespace pepeunit::bench::mqtt {

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// ---- processes and CPUs ----------------------------------------------------------------------

/// utime + stime of a whole process (all threads), microseconds.
inline double processCpuUs(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) {
    throw std::runtime_error("cannot read /proc/" + std::to_string(pid) + "/stat");
  }
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {  // field 3 is the state
    if (i == 14) {
      utime = std::stoull(field);
    } else if (i == 15) {
      stime = std::stoull(field);
    }
  }
  return static_cast<double>(utime + stime) * 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

/// The machine-wide `cpu` line of /proc/stat: all ticks and the steal ticks.
struct CpuTicks {
  unsigned long long total = 0;
  unsigned long long steal = 0;
};
inline CpuTicks cpuTicks() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  CpuTicks t;
  for (int i = 0; i < 8; ++i) {
    unsigned long long v = 0;
    in >> v;
    t.total += v;
    if (i == 7) {
      t.steal = v;
    }
  }
  return t;
}
inline double stealPercent(const CpuTicks& a, const CpuTicks& b) {
  const auto total = b.total - a.total;
  return total == 0 ? 0
                    : 100.0 * static_cast<double>(b.steal - a.steal) / static_cast<double>(total);
}

using bench::pinProcess;
using bench::pinSelf;
using bench::summary;
using bench::unpinSelf;

// ---- the stack and the brokers -------------------------------------------------------------

struct MosquittoLib {
  MosquittoLib() { mosquitto_lib_init(); }
  ~MosquittoLib() { mosquitto_lib_cleanup(); }
};

/// Postgres + Redis + the real backend (rules come from its POST /mqtt/acl/rules), plus the
/// files a plugin broker needs. The Stack's own broker is not used by the benchmarks.
class Fixture {
 public:
  Fixture() : stack_(options()) {
    secret_ = stack_.backendEnv().at("BACKEND_SECRET_KEY");
    domain_ = stack_.backendEnv().at("BACKEND_DOMAIN");
    key_file_ = stack_.dir() / "bench-jwt.key";
    token_file_ = stack_.dir() / "bench-plugin.token";
    std::ofstream(key_file_) << secret_ << "\n";
    std::ofstream(token_file_) << plugin_token_ << "\n";
  }

  testing::Stack& stack() { return stack_; }
  const std::string& domain() const { return domain_; }
  const std::string& pluginToken() const { return plugin_token_; }
  std::string topic(const std::string& rest) const { return domain_ + "/" + rest; }

  std::string unitToken(const std::string& unit_uuid) const {
    nlohmann::ordered_json claims;
    claims["uuid"] = unit_uuid;
    claims["type"] = "Unit";
    return crypto::signJwt(claims, secret_);
  }
  std::string backendToken() const {
    nlohmann::ordered_json claims;
    claims["domain"] = domain_;
    claims["type"] = "Backend";
    claims["exp"] =
        std::chrono::duration_cast<seconds>(
            (std::chrono::system_clock::now() + std::chrono::hours(2)).time_since_epoch())
            .count();
    return crypto::signJwt(claims, secret_);
  }

  /// The broker config both sides share: one plain listener, no persistence, QoS 0 never dropped
  /// for a slow reader (max_queued_messages 0, as in §4.3), quiet logs.
  testing::MosquittoOptions plainBroker() const {
    testing::MosquittoOptions o;
    o.allow_anonymous = true;
    o.tls = false;
    o.extra_config = {"log_type none",         "log_type error",
                      "log_type warning",      "connection_messages false",
                      "max_queued_messages 0", "sys_interval 0"};
    return o;
  }
  /// The same plus the plugin line (and no anonymous access). `with_redis` false: no L2.
  testing::MosquittoOptions pluginBroker(
      const std::vector<std::pair<std::string, std::string>>& extra = {}, bool with_redis = true) {
    auto o = plainBroker();
    o.allow_anonymous = false;
    o.plugin = PEPEUNIT_PLUGIN_PATH;
    o.plugin_opts = {
        {"jwt_key_file", key_file_.string()},
        {"domain", domain_},
        {"backend_url", "http://127.0.0.1:" + std::to_string(stack_.backend().port())},
        {"backend_token_file", token_file_.string()},
        // Set-up CONNECTs of many new units in a row: let each wait for its rules.
        {"fetch_timeout_ms", "1000"},
        {"stall_budget_ms_per_s", "1000"},
        {"metrics_interval_s", "1"},
    };
    if (with_redis) {
      o.plugin_opts.emplace_back("redis_url", stack_.redis().url());
    }
    for (const auto& kv : extra) {
      bool replaced = false;
      for (auto& [key, value] : o.plugin_opts) {
        if (key == kv.first) {
          value = kv.second;
          replaced = true;
        }
      }
      if (!replaced) {
        o.plugin_opts.push_back(kv);
      }
    }
    return o;
  }

  std::unique_ptr<testing::MosquittoServer> startBroker(const std::string& name,
                                                        testing::MosquittoOptions options) {
    auto broker =
        std::make_unique<testing::MosquittoServer>(stack_.dir() / name, std::move(options));
    broker->start();
    return broker;
  }

 private:
  testing::StackOptions options() {
    plugin_token_ = crypto::randomToken(32);
    testing::StackOptions o;
    o.start_backend = true;
    o.backend_env_overrides["BACKEND_PLUGIN_TOKEN"] = plugin_token_;
    o.backend_env_overrides["BACKEND_LOG_LEVEL"] = "warn";
    return o;
  }

  std::string plugin_token_;  // before stack_: options() sets it
  testing::Stack stack_;
  std::string secret_;
  std::string domain_;
  std::filesystem::path key_file_;
  std::filesystem::path token_file_;
};

// ---- SQL fixtures ------------------------------------------------------------------------------

/// A user and a repo owning the benchmark's units.
struct Owner {
  std::string user;
  std::string repo;
};
inline Owner createOwner(pqxx::work& tx, const std::string& tag) {
  Owner o;
  o.user = tx.exec_params1(
                 "INSERT INTO users (role, status, login, hashed_password, cipher_dynamic_salt)"
                 " VALUES ('User', 'Verified', $1, 'x', 'x') RETURNING uuid::text",
                 "bench_" + tag)[0]
               .as<std::string>();
  o.repo = tx.exec_params1(
                 "INSERT INTO repos (name, repo_url, creator_uuid) VALUES ($1,"
                 " 'https://example.com/r.git', $2) RETURNING uuid::text",
                 "bench_" + tag, o.user)[0]
               .as<std::string>();
  return o;
}
/// `count` units named <tag>_<i>, in order.
inline std::vector<std::string> createUnits(pqxx::work& tx, const Owner& owner,
                                            const std::string& tag, int count) {
  std::vector<std::string> out;
  for (const auto& row : tx.exec_params(
           "INSERT INTO units (name, creator_uuid, repo_uuid) SELECT $1 || '_' || i, $2, $3"
           " FROM generate_series(1, $4) i ORDER BY i RETURNING uuid::text",
           tag, owner.user, owner.repo, count)) {
    out.push_back(row[0].as<std::string>());
  }
  if (static_cast<int>(out.size()) != count) {
    throw std::runtime_error("fixture: units not created");
  }
  return out;
}
/// One node of `type` ("Output"/"Input") per unit, Private (so no unit sees the others' nodes
/// and rule sets stay small), in the units' order.
inline std::vector<std::string> createNodes(pqxx::work& tx, const Owner& owner,
                                            const std::vector<std::string>& units,
                                            const std::string& type,
                                            const std::string& visibility = "Private") {
  std::vector<std::string> out;
  out.reserve(units.size());
  for (const auto& unit : units) {
    out.push_back(tx.exec_params1("INSERT INTO units_nodes (type, visibility_level, topic_name,"
                                  " creator_uuid, unit_uuid) VALUES ($1, $2, $3, $4, $5)"
                                  " RETURNING uuid::text",
                                  type, visibility,
                                  type == "Output" ? "out/pepeunit" : "in/pepeunit", owner.user,
                                  unit)[0]
                      .as<std::string>());
  }
  return out;
}
inline void createEdge(pqxx::work& tx, const Owner& owner, const std::string& output,
                       const std::string& input) {
  tx.exec_params(
      "INSERT INTO units_nodes_edges (node_output_uuid, node_input_uuid, creator_uuid)"
      " VALUES ($1, $2, $3)",
      output, input, owner.user);
}

// ---- clients ----------------------------------------------------------------------------------

/// Something that receives messages and counts them (a libmosquitto Client or a RawSubscriber).
class Counted {
 public:
  virtual ~Counted() = default;
  std::atomic<std::uint64_t> received{0};
  /// Called on the receiving thread after `received` grew.
  std::function<void()> on_progress;
};

/// One MQTT 3.1.1 client. Threaded (its own network thread: subscribers, the 1→N publisher) or
/// driven by the caller (many publishers on one thread, B3).
class Client : public Counted {
 public:
  Client(int port, const std::string& username, const std::string& id, bool threaded)
      : port_(port), threaded_(threaded) {
    mosq_ = mosquitto_new(id.c_str(), true, this);
    if (mosq_ == nullptr) {
      throw std::runtime_error("mosquitto_new failed");
    }
    mosquitto_int_option(mosq_, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_connect_callback_set(mosq_, &Client::onConnect);
    mosquitto_subscribe_callback_set(mosq_, &Client::onSubscribe);
    mosquitto_message_callback_set(mosq_, &Client::onMessage);
    mosquitto_username_pw_set(mosq_, username.c_str(), "");
  }
  ~Client() {
    if (connected_) {
      mosquitto_disconnect(mosq_);
    }
    if (threaded_ && started_) {
      mosquitto_loop_stop(mosq_, false);
    }
    mosquitto_destroy(mosq_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// The CONNACK code (0 = accepted), -1 when none came.
  int connect(milliseconds timeout = seconds(10)) {
    connack_ = -1;
    if (const int rc = mosquitto_connect(mosq_, "127.0.0.1", port_, 900); rc != MOSQ_ERR_SUCCESS) {
      last_error_ = mosquitto_strerror(rc);
      return -1;
    }
    const auto deadline = steady::now() + timeout;
    if (threaded_) {
      if (!started_) {
        started_ = mosquitto_loop_start(mosq_) == MOSQ_ERR_SUCCESS;
      }
      std::unique_lock lock(mutex_);
      cv_.wait_until(lock, deadline, [this] { return connack_ >= 0; });
    } else {
      // Not mosquitto_loop(): it select()s, and B3's thousands of sockets exceed FD_SETSIZE.
      while (connack_ < 0 && steady::now() < deadline) {
        pollfd pfd{mosquitto_socket(mosq_), POLLIN, 0};
        if (::poll(&pfd, 1, 10) > 0) {
          mosquitto_loop_read(mosq_, 1);
        }
      }
    }
    connected_ = connack_ == 0;
    if (connack_ > 0 && !threaded_) {
      mosquitto_disconnect(mosq_);
    }
    return connack_;
  }
  /// Connects, retrying refusals (a unit's first CONNECT may time out while its rules load).
  void connectOrThrow(milliseconds total = seconds(30)) {
    const auto deadline = steady::now() + total;
    int rc = -1;
    while ((rc = connect()) != 0) {
      if (steady::now() > deadline) {
        throw std::runtime_error("CONNECT refused (" + std::to_string(rc) + " " + last_error_ +
                                 ")");
      }
      if (threaded_ && started_) {
        mosquitto_disconnect(mosq_);
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
  }

  /// The granted QoS (0x80 = refused); threaded clients only.
  int subscribe(const std::string& filter, int qos) {
    int mid = 0;
    {
      std::lock_guard lock(mutex_);
      suback_ = -1;
    }
    if (mosquitto_subscribe(mosq_, &mid, filter.c_str(), qos) != MOSQ_ERR_SUCCESS) {
      return -1;
    }
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, seconds(10), [this] { return suback_ >= 0; });
    return suback_;
  }

  bool publish(const char* topic, const void* payload, int length, int qos) {
    return mosquitto_publish(mosq_, nullptr, topic, length, payload, qos, false) ==
           MOSQ_ERR_SUCCESS;
  }
  /// Non-threaded: writes what the socket did not take yet.
  void flush() {
    if (mosquitto_want_write(mosq_)) {
      mosquitto_loop_write(mosq_, 1);
    }
  }

  mosquitto* handle() { return mosq_; }
  /// Called for each message (on the network thread) after `received` was incremented.
  std::function<void(const mosquitto_message*)> on_message;

 private:
  static void onConnect(mosquitto*, void* self, int rc) {
    auto* c = static_cast<Client*>(self);
    {
      std::lock_guard lock(c->mutex_);
      c->connack_ = rc;
    }
    c->cv_.notify_all();
  }
  static void onSubscribe(mosquitto*, void* self, int, int count, const int* granted) {
    auto* c = static_cast<Client*>(self);
    {
      std::lock_guard lock(c->mutex_);
      c->suback_ = count > 0 ? granted[0] : 0x80;
    }
    c->cv_.notify_all();
  }
  static void onMessage(mosquitto*, void* self, const mosquitto_message* message) {
    auto* c = static_cast<Client*>(self);
    c->received.fetch_add(1, std::memory_order_relaxed);
    if (c->on_message) {
      c->on_message(message);
    }
    if (c->on_progress) {
      c->on_progress();
    }
  }

  int port_;
  bool threaded_;
  mosquitto* mosq_ = nullptr;
  bool started_ = false;
  bool connected_ = false;
  std::mutex mutex_;
  std::condition_variable cv_;
  int connack_ = -1;
  int suback_ = -1;
  std::string last_error_;
};

/// Waits until each subscriber has received `target` messages since its counter was zeroed.
class Completion {
 public:
  void arm(std::vector<Counted*> subscribers, std::uint64_t target) {
    std::lock_guard lock(mutex_);
    subscribers_ = std::move(subscribers);
    target_ = target;
    done_ = false;
    for (auto* s : subscribers_) {
      s->received = 0;
      s->on_progress = [this] { check(); };
    }
  }
  std::uint64_t delivered() const {
    std::uint64_t total = 0;
    for (auto* s : subscribers_) {
      total += s->received.load(std::memory_order_relaxed);
    }
    return total;
  }
  /// True when complete; false when nothing arrived for `stall`.
  bool wait(milliseconds stall) {
    std::uint64_t last = delivered();
    while (true) {
      std::unique_lock lock(mutex_);
      if (cv_.wait_for(lock, stall, [this] { return done_; })) {
        return true;
      }
      lock.unlock();
      const std::uint64_t now = delivered();
      if (now == last) {
        return false;
      }
      last = now;
    }
  }
  steady::time_point finishedAt() const { return finished_at_; }

 private:
  void check() {
    if (delivered() >= target_ * subscribers_.size()) {
      std::lock_guard lock(mutex_);
      if (!done_) {
        done_ = true;
        finished_at_ = steady::now();
        cv_.notify_all();
      }
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Counted*> subscribers_;
  std::uint64_t target_ = 0;
  bool done_ = false;
  steady::time_point finished_at_;
};

// ---- the plugin's counters ($SYS/pepeunit/auth/...) -------------------------------------------

/// A backend-identity client that keeps the latest value of every plugin counter.
class PluginCounters {
 public:
  PluginCounters(int port, const std::string& backend_token)
      : client_(port, backend_token, "bench-counters", true) {
    client_.on_message = [this](const mosquitto_message* m) {
      const std::string topic(m->topic);
      const std::string value(static_cast<const char*>(m->payload),
                              static_cast<std::size_t>(m->payloadlen));
      std::lock_guard lock(mutex_);
      values_[topic.substr(topic.rfind('/') + 1)] = std::stoull(value);
      if (topic.ends_with("/sessions")) {  // the last counter of each batch
        ++batches_;
        cv_.notify_all();
      }
    };
    client_.connectOrThrow();
    if (client_.subscribe("$SYS/pepeunit/auth/#", 0) != 0) {
      throw std::runtime_error("cannot subscribe to the plugin counters");
    }
  }
  /// The first complete batch published after this call.
  std::map<std::string, std::uint64_t> fresh(milliseconds timeout = seconds(5)) {
    std::unique_lock lock(mutex_);
    const auto seen = batches_;
    if (!cv_.wait_for(lock, timeout, [&] { return batches_ >= seen + 2; })) {
      throw std::runtime_error("the plugin published no counters");
    }
    return values_;
  }
  /// The latest value of one counter (0 before it was published).
  std::uint64_t latest(const std::string& name) {
    std::lock_guard lock(mutex_);
    const auto it = values_.find(name);
    return it == values_.end() ? 0 : it->second;
  }
  /// Rule sets loaded, from L2 or the backend.
  std::uint64_t fetched() { return latest("fetch_l2") + latest("fetch_backend"); }
  /// Waits (on published batches, no polling) until `ready` holds for the latest values.
  bool waitFor(const std::function<bool()>& ready, milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(mutex_);
    while (true) {
      const auto seen = batches_;
      lock.unlock();
      if (ready()) {
        return true;
      }
      lock.lock();
      if (!cv_.wait_until(lock, deadline, [&] { return batches_ != seen; })) {
        return false;
      }
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, std::uint64_t> values_;
  std::uint64_t batches_ = 0;
  Client client_;  // its network thread uses the members above: destroyed (stopped) first
};

inline std::map<std::string, std::int64_t> counterDelta(
    const std::map<std::string, std::uint64_t>& before,
    const std::map<std::string, std::uint64_t>& after) {
  std::map<std::string, std::int64_t> out;
  for (const auto& [k, v] : after) {
    const auto it = before.find(k);
    out[k] = static_cast<std::int64_t>(v) -
             static_cast<std::int64_t>(it == before.end() ? 0 : it->second);
  }
  return out;
}

// ---- raw-socket CONNECT → CONNACK → DISCONNECT -------------------------------------------------

/// MQTT 3.1.1 CONNECT, clean session, username and an empty password.
inline std::string connectPacket(const std::string& client_id, const std::string& username,
                                 int keepalive_s = 60) {
  return pepeunit::testing::mqttConnectPacket({.client_id = client_id,
                                               .username = username,
                                               .will = std::nullopt,
                                               .keepalive_s = keepalive_s});
}

/// One CONNECT/CONNACK/DISCONNECT on a fresh TCP_NODELAY connection. The CONNACK return code
/// (-1: no CONNACK) and the time from connect() to the CONNACK.
struct ConnectResult {
  int code = -1;
  double micros = 0;
};
inline ConnectResult connectOnce(int port, const std::string& packet) {
  ConnectResult r;
  const auto t0 = steady::now();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return r;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, packet.data(), packet.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(packet.size())) {
    unsigned char reply[4];
    std::size_t got = 0;
    while (got < 4) {
      const ssize_t n = ::recv(fd, reply + got, 4 - got, 0);
      if (n <= 0) {
        break;
      }
      got += static_cast<std::size_t>(n);
    }
    if (got == 4 && reply[0] == 0x20 && reply[1] == 2) {
      r.code = reply[3];
      r.micros = std::chrono::duration<double, std::micro>(steady::now() - t0).count();
      if (r.code == 0) {
        const char disconnect[2] = {'\xe0', '\0'};
        ::send(fd, disconnect, 2, MSG_NOSIGNAL);
      }
    }
  }
  ::close(fd);
  return r;
}

/// Sequential connects cycling over `packets` for `seconds` (or `count` connects when > 0).
struct ConnectRun {
  double per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
  double cpu_us_per_conn = 0;
  double steal_pct = 0;
  std::uint64_t ok = 0;
  std::uint64_t refused = 0;
  std::uint64_t failed = 0;
};
inline ConnectRun connectLoop(int port, pid_t broker, const std::vector<std::string>& packets,
                              std::size_t first, double seconds_limit, std::size_t count) {
  ConnectRun run;
  std::vector<double> lat;
  const auto cpu0 = processCpuUs(broker);
  const auto ticks0 = cpuTicks();
  const auto start = steady::now();
  const auto limit = start + std::chrono::duration_cast<steady::duration>(
                                 std::chrono::duration<double>(seconds_limit));
  std::size_t i = first;
  for (std::size_t n = 0; count > 0 ? n < count : steady::now() < limit; ++n, ++i) {
    const auto r = connectOnce(port, packets[i % packets.size()]);
    if (r.code == 0) {
      ++run.ok;
      lat.push_back(r.micros);
    } else if (r.code > 0) {
      ++run.refused;
    } else {
      ++run.failed;
    }
  }
  const double secs = std::chrono::duration<double>(steady::now() - start).count();
  const auto cpu1 = processCpuUs(broker);
  run.per_s = static_cast<double>(run.ok) / secs;
  run.p50_us = percentile(lat, 50);
  run.p99_us = percentile(lat, 99);
  run.cpu_us_per_conn = (cpu1 - cpu0) / static_cast<double>(std::max<std::uint64_t>(1, run.ok));
  run.steal_pct = stealPercent(ticks0, cpuTicks());
  return run;
}

// ---- raw-socket MQTT for the data path ---------------------------------------------------------
//
// libmosquitto 2.0 reads every packet with three read() calls and writes a wake-up byte to a
// socket pair per publish; on this 2-core box that made the generator (not the broker) the
// bottleneck, with the broker at ~0.45 core. The data path therefore speaks MQTT 3.1.1 on
// plain sockets: subscribers read 256 KiB at a time and acknowledge in batches; publishers
// write one packet per send() (realistic per-unit traffic) or batches (one fast stream).

inline bool sendAll(int fd, std::string_view data) {
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    sent += static_cast<std::size_t>(n);
  }
  return true;
}
inline std::string readExactly(int fd, std::size_t count) {
  std::string out(count, '\0');
  std::size_t got = 0;
  while (got < count) {
    const ssize_t n = ::recv(fd, out.data() + got, count - got, 0);
    if (n <= 0) {
      out.resize(got);
      return out;
    }
    got += static_cast<std::size_t>(n);
  }
  return out;
}
/// A TCP_NODELAY connection with an MQTT session: the CONNACK code, -1 when none came.
inline int mqttConnect(int& fd, int port, const std::string& username, const std::string& client_id,
                       int receive_buffer = 0) {
  fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (receive_buffer > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return -1;
  }
  // No keepalive: the broker never drops an idle benchmark client.
  if (!sendAll(fd, connectPacket(client_id, username, 0))) {
    return -1;
  }
  const auto reply = readExactly(fd, 4);
  if (reply.size() != 4 || static_cast<unsigned char>(reply[0]) != 0x20) {
    return -1;
  }
  return static_cast<unsigned char>(reply[3]);
}
inline void mqttClose(int& fd) {
  if (fd >= 0) {
    sendAll(fd, std::string_view("\xe0\x00", 2));
    ::close(fd);
    fd = -1;
  }
}

/// A subscriber reading in 256 KiB batches and acknowledging QoS 1 deliveries in batches.
class RawSubscriber : public Counted {
 public:
  RawSubscriber(int port, const std::string& username, const std::string& client_id)
      : port_(port), username_(username), client_id_(client_id) {}
  ~RawSubscriber() override { stop(); }
  RawSubscriber(const RawSubscriber&) = delete;
  RawSubscriber& operator=(const RawSubscriber&) = delete;

  int connect() { return mqttConnect(fd_, port_, username_, client_id_, 4 << 20); }

  /// SUBSCRIBE to every filter at `qos`; the granted codes (0x80 = refused). Before start().
  std::vector<int> subscribe(const std::vector<std::string>& filters, int qos) {
    std::string body{'\0', '\1'};  // packet id 1
    for (const auto& f : filters) {
      body += static_cast<char>(f.size() >> 8);
      body += static_cast<char>(f.size() & 0xff);
      body += f;
      body += static_cast<char>(qos);
    }
    if (!sendAll(fd_, pepeunit::testing::mqttPacket('\x82', body))) {
      return {};
    }
    const auto head = readExactly(fd_, 2);
    if (head.size() != 2 || static_cast<unsigned char>(head[0]) != 0x90) {
      return {};
    }
    const auto rest = readExactly(fd_, static_cast<unsigned char>(head[1]));
    std::vector<int> codes;
    for (std::size_t i = 2; i < rest.size(); ++i) {
      codes.push_back(static_cast<unsigned char>(rest[i]));
    }
    return codes;
  }

  /// Starts the reader thread.
  void start() {
    reader_ = std::thread([this] { read(); });
  }
  void stop() {
    if (fd_ >= 0) {
      sendAll(fd_, std::string_view("\xe0\x00", 2));
      ::shutdown(fd_, SHUT_RDWR);
    }
    if (reader_.joinable()) {
      reader_.join();
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  void read() {
    std::vector<unsigned char> buffer(256 * 1024);
    std::size_t have = 0;
    std::string acks;
    while (true) {
      const ssize_t n = ::recv(fd_, buffer.data() + have, buffer.size() - have, 0);
      if (n <= 0) {
        return;
      }
      have += static_cast<std::size_t>(n);
      std::size_t pos = 0;
      std::uint64_t count = 0;
      while (have - pos >= 2) {
        std::size_t length = 0;
        std::size_t shift = 0;
        std::size_t i = pos + 1;
        bool complete = false;
        while (i < have && i < pos + 5) {
          length |= static_cast<std::size_t>(buffer[i] & 0x7f) << shift;
          shift += 7;
          if ((buffer[i++] & 0x80) == 0) {
            complete = true;
            break;
          }
        }
        if (!complete || have - i < length) {
          break;
        }
        const unsigned char type = buffer[pos];
        if ((type >> 4) == 3) {
          ++count;
          if (((type >> 1) & 3) > 0) {
            const std::size_t topic_length = (std::size_t{buffer[i]} << 8) | buffer[i + 1];
            const std::size_t id = i + 2 + topic_length;
            acks += '\x40';
            acks += '\x02';
            acks += static_cast<char>(buffer[id]);
            acks += static_cast<char>(buffer[id + 1]);
          }
        }
        pos = i + length;
      }
      std::memmove(buffer.data(), buffer.data() + pos, have - pos);
      have -= pos;
      if (!acks.empty()) {
        sendAll(fd_, acks);
        acks.clear();
      }
      if (count > 0) {
        received.fetch_add(count, std::memory_order_relaxed);
        if (on_progress) {
          on_progress();
        }
      }
    }
  }

  int port_;
  std::string username_;
  std::string client_id_;
  int fd_ = -1;
  std::thread reader_;
};

/// A publisher driven by the caller's thread. QoS 0 packets are buffered up to `batch_bytes`
/// (0: one send() per packet); QoS 1 keeps at most `max_inflight` unacknowledged (20, as
/// libmosquitto and mosquitto_pub by default) and reads PUBACKs when the window is full.
class RawPublisher {
 public:
  RawPublisher(int port, const std::string& username, const std::string& client_id,
               std::size_t batch_bytes = 0, int max_inflight = 20)
      : port_(port),
        username_(username),
        client_id_(client_id),
        batch_bytes_(batch_bytes),
        max_inflight_(max_inflight) {}
  ~RawPublisher() { mqttClose(fd_); }
  RawPublisher(const RawPublisher&) = delete;
  RawPublisher& operator=(const RawPublisher&) = delete;

  int connect() {
    mqttClose(fd_);
    return mqttConnect(fd_, port_, username_, client_id_);
  }
  /// Connects, retrying refusals (a unit's first CONNECT may time out while its rules load).
  void connectOrThrow(milliseconds total = seconds(30)) {
    const auto deadline = steady::now() + total;
    int rc = -1;
    while ((rc = connect()) != 0) {
      if (steady::now() > deadline) {
        throw std::runtime_error("CONNECT refused (" + std::to_string(rc) + ")");
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
  }

  void publish(std::string_view topic, std::string_view payload, int qos) {
    if (qos > 0) {
      while (inflight_ >= max_inflight_) {
        flush();
        readAcks();
      }
    }
    const std::size_t remaining = 2 + topic.size() + (qos > 0 ? 2 : 0) + payload.size();
    out_ += static_cast<char>(qos > 0 ? 0x32 : 0x30);
    pepeunit::testing::appendRemainingLength(out_, remaining);
    out_ += static_cast<char>(topic.size() >> 8);
    out_ += static_cast<char>(topic.size() & 0xff);
    out_ += topic;
    if (qos > 0) {
      next_id_ = next_id_ == 0xffff ? 1 : next_id_ + 1;
      out_ += static_cast<char>(next_id_ >> 8);
      out_ += static_cast<char>(next_id_ & 0xff);
      ++inflight_;
    }
    out_ += payload;
    if (out_.size() > batch_bytes_) {
      flush();
    }
  }
  void flush() {
    if (!out_.empty()) {
      if (!sendAll(fd_, out_)) {
        throw std::runtime_error("publish: the broker closed the connection");
      }
      out_.clear();
    }
  }
  /// QoS 1: waits for every PUBACK.
  void drain() {
    flush();
    while (inflight_ > 0) {
      readAcks();
    }
  }

 private:
  void readAcks() {
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer + pending_.size(), sizeof buffer - pending_.size(), 0);
    if (n <= 0) {
      throw std::runtime_error("publish: the broker closed the connection");
    }
    std::memcpy(buffer, pending_.data(), pending_.size());
    std::size_t have = pending_.size() + static_cast<std::size_t>(n);
    std::size_t pos = 0;
    while (have - pos >= 4) {
      if (static_cast<unsigned char>(buffer[pos]) == 0x40) {
        --inflight_;
      }
      pos += 4;  // PUBACK is the only packet a QoS 1 publisher gets here
    }
    pending_.assign(buffer + pos, have - pos);
  }

  int port_;
  std::string username_;
  std::string client_id_;
  std::size_t batch_bytes_;
  int max_inflight_;
  int fd_ = -1;
  std::string out_;
  std::string pending_;
  int inflight_ = 0;
  std::uint16_t next_id_ = 0;
};

// ---- one measured flow ----------------------------------------------------------------------

struct FlowResult {
  double msgs_per_s = 0;  ///< published messages / (first publish → last delivery)
  double deliveries_per_s = 0;
  double cpu_us_per_msg = 0;  ///< broker CPU per published message
  double cpu_us_per_delivery = 0;
  double broker_cpu_share = 0;  ///< broker CPU / wall time (1.0 = one core busy)
  double steal_pct = 0;
  std::uint64_t delivered = 0;
  std::uint64_t expected = 0;
  double secs = 0;
};

/// Publishes `messages` 16-byte payloads, message i from publishers[i % n] on topic(i), and
/// waits until every subscriber got all of them. At most `window` messages per subscriber are
/// outstanding (a closed loop: the broker, not a queue, sets the pace).
inline FlowResult runFlow(pid_t broker, const std::vector<RawPublisher*>& publishers,
                          const std::function<std::string_view(std::uint64_t)>& topic,
                          const std::vector<Counted*>& subscribers, std::uint64_t messages, int qos,
                          std::uint64_t window = 5000) {
  Completion completion;
  completion.arm(subscribers, messages);
  const std::uint64_t fanout = subscribers.size();
  char payload[24];
  const auto cpu0 = processCpuUs(broker);
  const auto ticks0 = cpuTicks();
  const auto start = steady::now();
  for (std::uint64_t i = 0; i < messages; ++i) {
    if (i * fanout > completion.delivered() + window * fanout) {
      for (auto* p : publishers) {
        p->flush();
      }
      while (i * fanout > completion.delivered() + window * fanout) {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    }
    std::snprintf(payload, sizeof payload, "%016llu", static_cast<unsigned long long>(i));
    publishers[i % publishers.size()]->publish(topic(i), std::string_view(payload, 16), qos);
  }
  for (auto* p : publishers) {
    p->drain();
  }
  const bool complete = completion.wait(seconds(5));
  const auto end = complete ? completion.finishedAt() : steady::now();
  const auto cpu1 = processCpuUs(broker);
  const auto ticks1 = cpuTicks();
  FlowResult r;
  r.secs = std::chrono::duration<double>(end - start).count();
  r.expected = messages * fanout;
  // Late duplicates or strays would show up here.
  std::this_thread::sleep_for(milliseconds(complete ? 50 : 0));
  r.delivered = completion.delivered();
  r.msgs_per_s = static_cast<double>(messages) / r.secs;
  r.deliveries_per_s = static_cast<double>(r.delivered) / r.secs;
  r.cpu_us_per_msg = (cpu1 - cpu0) / static_cast<double>(messages);
  r.cpu_us_per_delivery =
      (cpu1 - cpu0) / static_cast<double>(std::max<std::uint64_t>(1, r.expected));
  r.broker_cpu_share = (cpu1 - cpu0) / (r.secs * 1e6);
  r.steal_pct = stealPercent(ticks0, ticks1);
  for (auto* s : subscribers) {
    s->on_progress = nullptr;
  }
  return r;
}

}  // namespace pepeunit::bench::mqtt
