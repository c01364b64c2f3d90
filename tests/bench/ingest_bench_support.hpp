// Shared set-up of the ingest benchmarks (B7, B8, B10): a Stack whose broker logs like the real
// stack (not per packet) and queues enough for a fast subscriber, units and output nodes
// inserted by SQL, commit timestamps on in Postgres (so publish → row visible is measured per
// row after the run, with no polling load during it), and the broker's drop notices.
#pragma once

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bench/mqtt_load.hpp"
#include "integration/harness/stack.hpp"
#include "integration/harness/wait.hpp"

namespace pepeunit::bench {

/// Broker settings of the benchmarks, appended to the harness config:
/// * the harness logs `all` (every PUBLISH in and out, one fflush'ed line each, which doubles
///   the broker's CPU per message); the real stack (scripts/lib/stack.sh) logs information and
///   above, and so do the benchmarks;
/// * the same queue limits as scripts/lib/stack.sh (see the comment there): Mosquitto 2.0
///   drops a QoS 0 message for a subscriber that already has `max_queued_messages` (default
///   1000) packets waiting, i.e. after a ~20 ms hiccup of the backend at 50k msg/s.
/// PEPEUNIT_BENCH_BROKER=harness keeps the harness config as is, =quiet only changes the
/// logging: the A/B switch that shows what each setting is worth.
inline std::vector<std::string> brokerBenchConfig() {
  const char* mode = std::getenv("PEPEUNIT_BENCH_BROKER");
  const std::string m = mode ? mode : "";
  if (m == "harness")
    return {};
  std::vector<std::string> lines = {"log_type none", "log_type error", "log_type warning",
                                    "log_type notice", "log_type information"};
  if (m != "quiet") {
    lines.push_back("max_queued_messages 100000");
  }
  return lines;
}

inline testing::Stack::Options benchStackOptions(std::map<std::string, std::string> backend_env) {
  testing::Stack::Options o;
  o.start_backend = true;
  o.mqtt.tls = false;
  o.mqtt.extra_config = brokerBenchConfig();
  backend_env.emplace("BACKEND_LOG_LEVEL", "info");
  o.backend_env_overrides = std::move(backend_env);
  return o;
}

/// Commit timestamps let a benchmark read, after the run, when each row became visible
/// (pg_xact_commit_timestamp(xmin)). Needs a Postgres restart; the backend is restarted too.
inline void enableCommitTimestamps(testing::Stack& stack) {
  {
    pqxx::connection c(stack.pg().url());
    pqxx::nontransaction tx(c);
    tx.exec("ALTER SYSTEM SET track_commit_timestamp = on");
  }
  stack.backend().stop();
  stack.pg().restart();
  stack.startBackend();
}

struct BenchUnit {
  std::string uuid;
  std::vector<std::string> nodes;  ///< its Output nodes
};

/// One user and repo, `units` units with `nodes_per_unit` Private Output nodes each (topic
/// names `o<i>/pepeunit`; Private keeps every unit's rule set to its own nodes), in one
/// transaction.
inline std::vector<BenchUnit> createUnits(testing::Stack& stack, int units, int nodes_per_unit,
                                          const std::string& tag) {
  pqxx::connection c(stack.pg().url());
  pqxx::work tx(c);
  const auto owner = mqtt::createOwner(tx, tag);
  std::vector<BenchUnit> out;
  std::unordered_map<std::string, std::size_t> index;
  for (auto& uuid : mqtt::createUnits(tx, owner, tag, units)) {
    index[uuid] = out.size();
    out.push_back({std::move(uuid), {}});
  }
  if (nodes_per_unit > 0) {
    for (const auto& row : tx.exec_params(
             "INSERT INTO units_nodes (type, visibility_level, topic_name, creator_uuid, "
             "unit_uuid) SELECT 'Output', 'Private', 'o' || i || '/pepeunit', $1, u.uuid "
             "FROM units u, generate_series(1, $3) i WHERE u.repo_uuid = $2::uuid "
             "ORDER BY u.uuid, i RETURNING unit_uuid::text, uuid::text",
             owner.user, owner.repo, nodes_per_unit)) {
      out[index.at(row[0].as<std::string>())].nodes.push_back(row[1].as<std::string>());
    }
  }
  tx.commit();
  return out;
}

/// Publishes `payload` to `topic` (as `username`) every 100 ms until `stored()` is true: proves
/// the backend is subscribed and knows the node/unit. Returns how many probes were published
/// (those before the subscription never reach the backend). Throws after 30 s.
inline long waitUntilIngested(testing::Stack& stack, const std::string& username,
                              const std::string& topic, const std::string& payload,
                              const std::function<bool()>& stored) {
  mqtt::RawPublisher probe(stack.mqtt().port(), username, "bench-probe");
  probe.connectOrThrow();
  long published = 0;
  const bool ok = testing::pollUntil(
      [&] {
        probe.publish(topic, payload, 0);
        probe.flush();
        ++published;
        return stored();
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100));
  if (!ok)
    throw std::runtime_error("the backend never stored the probe on " + topic);
  return published;
}

/// Size of the broker's log file now: the offset for brokerDropNotices.
inline std::size_t brokerLogSize(testing::Stack& stack) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(stack.mqtt().dir() / "mosquitto.log", ec);
  return ec ? 0 : static_cast<std::size_t>(n);
}

/// Lines of the broker log after `offset` that say it dropped messages for a client. Read line
/// by line: with per-packet logging the file grows by ~150 MB per million messages.
inline std::vector<std::string> brokerDropNotices(testing::Stack& stack, std::size_t offset) {
  std::ifstream in(stack.mqtt().dir() / "mosquitto.log");
  in.seekg(static_cast<std::streamoff>(offset));
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("Outgoing messages are being dropped") != std::string::npos)
      lines.push_back(line);
  }
  return lines;
}

/// The backend's last `ingest: in=... dropped=[...]` statistics line (logged every 60 s and at
/// stop), or "" when there is none yet.
inline std::string lastIngestStats(testing::Stack& stack) {
  const std::string log = stack.backend().logText();
  const auto at = log.rfind("ingest: in=");
  if (at == std::string::npos)
    return "";
  const auto end = log.find('\n', at);
  return log.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

/// Microseconds since the Unix epoch (the clock Postgres commit timestamps use).
inline std::int64_t nowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// What one runIngest() measured.
struct IngestRun {
  double msgs_per_s = 0;  ///< messages / (first publish → last publish or commit, the later)
  double rows_per_s = 0;
  double offered = 0;  ///< what the generator achieved while publishing
  double lag_p50_ms = 0;
  double lag_p99_ms = 0;
  double lag_max_ms = 0;
  double broker_cpu = 0;     ///< share of one core over the run
  double backend_cpu = 0;    ///< share of one core over the run
  double postgres_cpu = 0;   ///< all Postgres processes, share of one core
  double generator_cpu = 0;  ///< this process (load generator), share of one core
  double other_cpu = 0;      ///< busy cores of the machine minus all of the above
  long rows = 0;
  long expected = 0;
  long missing = 0;
  long unexpected = 0;
  bool exact = false;
  std::vector<std::string> broker_drops;
};

inline long countRows(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  return tx.exec("SELECT count(*) FROM unit_node_values")[0][0].as<long>();
}

inline void truncateHistory(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  tx.exec("TRUNCATE unit_node_values");
}

/// How stream values look: a 15-digit number (a sensor reading) or 15 characters of text
/// (Pepeunit's load test: Text values, MESSAGE_SIZE 15).
enum class ValueFormat { kNumber, kText };

/// 15 characters, unique per (run, node, change): the payload, and how a row finds its publish
/// time.
inline std::string valueId(int run, long change, std::size_t node,
                           ValueFormat format = ValueFormat::kNumber) {
  char buf[24];
  std::snprintf(buf, sizeof buf, format == ValueFormat::kText ? "v%014lld" : "%015lld",
                (static_cast<long long>(run) * 1'000'000LL + change) * 100'000LL +
                    static_cast<long long>(node));
  return buf;
}

/// One paced stream of values: `total` messages at `rate` msg/s over `streams` (each with
/// `nodes_per_stream` topics; node index = stream * nodes_per_stream + topic), a new value every
/// `change_every`-th message per node. Waits until every change is stored (≤ 60 s), then checks
/// the history rows one by one against what was published and reads each row's commit time.
/// `pause_backend` > 0 stops the backend (SIGSTOP) that long halfway through.
inline IngestRun runIngest(testing::Stack& stack, const std::vector<LoadStream>& streams,
                           std::size_t nodes_per_stream, ValueFormat format, int run, long total,
                           double rate, int change_every,
                           std::chrono::milliseconds pause_backend = {}) {
  using steady = std::chrono::steady_clock;
  pqxx::connection c(stack.pg().url());
  truncateHistory(c);
  const std::size_t log_offset = brokerLogSize(stack);

  // Publish time of each change, per generator thread (no locking on the hot path).
  constexpr int kThreads = 2;
  std::vector<std::vector<std::pair<std::string, std::int64_t>>> changes(kThreads);
  for (auto& v : changes)
    v.reserve(static_cast<std::size_t>(total / change_every / kThreads + 1000));

  LoadPlan plan;
  plan.streams = streams;
  plan.total = total;
  plan.rate = rate;
  plan.threads = kThreads;
  plan.payload = [&](std::size_t s, std::size_t t, long seq) {
    return valueId(run, seq / change_every, s * nodes_per_stream + t, format);
  };
  plan.on_send = [&](int thread, std::size_t s, std::size_t t, long seq) {
    if (seq % change_every == 0) {
      changes[static_cast<std::size_t>(thread)].emplace_back(
          valueId(run, seq / change_every, s * nodes_per_stream + t, format), nowMicros());
    }
  };

  const pid_t broker = stack.mqtt().process().pid();
  const pid_t backend = stack.backend().process().pid();
  const pid_t postgres = stack.pg().process().pid();
  const double broker_cpu0 = cpuSeconds(broker);
  const double backend_cpu0 = cpuSeconds(backend);
  const double postgres_cpu0 = treeCpuSeconds(postgres);
  const double self_cpu0 = cpuSeconds(::getpid());
  const auto ticks0 = machineTicks();
  const auto window0 = steady::now();
  // A stall of the backend (a busy core, swapping, a debugger) halfway through: SIGSTOP for
  // `pause_backend`. The broker has to hold what arrives meanwhile for the backend.
  std::jthread pauser;  // joined even when the load throws
  if (pause_backend.count() > 0) {
    pauser = std::jthread([&] {
      std::this_thread::sleep_for(std::chrono::duration<double>(total / rate / 2));
      ::kill(backend, SIGSTOP);
      std::this_thread::sleep_for(pause_backend);
      ::kill(backend, SIGCONT);
    });
  }
  const auto load = runLoad(stack.mqtt().port(), plan);
  if (pauser.joinable())
    pauser.join();
  const std::int64_t last_send = nowMicros();

  std::unordered_map<std::string, std::int64_t> sent_at;
  std::int64_t first_send = std::numeric_limits<std::int64_t>::max();
  for (const auto& v : changes) {
    for (const auto& [id, at] : v) {
      sent_at.emplace(id, at);
      first_send = std::min(first_send, at);
    }
  }
  IngestRun r;
  r.expected = static_cast<long>(sent_at.size());
  r.offered = load.rate();
  testing::pollUntil([&] { return countRows(c) >= r.expected; }, std::chrono::seconds(60),
                     std::chrono::milliseconds(50));
  const double broker_cpu1 = cpuSeconds(broker);
  const double backend_cpu1 = cpuSeconds(backend);
  const double postgres_cpu1 = treeCpuSeconds(postgres);
  const double self_cpu1 = cpuSeconds(::getpid());
  const auto ticks1 = machineTicks();
  const double window = std::chrono::duration<double>(steady::now() - window0).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a late extra row shows here

  std::vector<double> lags;
  lags.reserve(sent_at.size());
  std::unordered_set<std::string> seen;
  std::int64_t last_commit = first_send;  // the duplicates after the last change count too
  {
    pqxx::nontransaction tx(c);
    for (const auto& row :
         tx.exec("SELECT value, (EXTRACT(EPOCH FROM pg_xact_commit_timestamp(xmin)) * 1e6)::bigint "
                 "FROM unit_node_values")) {
      ++r.rows;
      const std::string value = row[0].c_str();
      const auto it = sent_at.find(value);
      if (it == sent_at.end() || !seen.insert(value).second) {
        ++r.unexpected;
        continue;
      }
      const auto committed = row[1].as<std::int64_t>();
      last_commit = std::max(last_commit, committed);
      lags.push_back(static_cast<double>(committed - it->second) / 1000.0);
    }
  }
  r.missing = r.expected - static_cast<long>(seen.size());
  r.exact = r.missing == 0 && r.unexpected == 0 && r.rows == r.expected;
  const double secs = static_cast<double>(std::max(last_commit, last_send) - first_send) / 1e6;
  r.msgs_per_s = static_cast<double>(total) / secs;
  r.rows_per_s = static_cast<double>(r.rows - r.unexpected) / secs;
  r.lag_p50_ms = percentile(lags, 50);
  r.lag_p99_ms = percentile(lags, 99);
  r.lag_max_ms = percentile(lags, 100);
  r.broker_cpu = (broker_cpu1 - broker_cpu0) / secs;
  r.backend_cpu = (backend_cpu1 - backend_cpu0) / secs;
  r.postgres_cpu = (postgres_cpu1 - postgres_cpu0) / secs;
  r.generator_cpu = (self_cpu1 - self_cpu0) / secs;
  // Over the sampling window (load start → all rows seen), not the run's measured span.
  r.other_cpu =
      busyCores(ticks0, ticks1) - (broker_cpu1 - broker_cpu0 + backend_cpu1 - backend_cpu0 +
                                   postgres_cpu1 - postgres_cpu0 + self_cpu1 - self_cpu0) /
                                      window;
  r.broker_drops = brokerDropNotices(stack, log_offset);
  return r;
}

}  // namespace pepeunit::bench
