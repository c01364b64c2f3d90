// Shared set-up of the ingest benchmarks (B7, B8, B10): a Stack whose broker logs like the real
// stack (not per packet) and queues enough for a fast subscriber, units and output nodes
// inserted by SQL, commit timestamps on in Postgres (so publish → row visible is measured per
// row after the run, with no polling load during it), and the broker's drop notices.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <unordered_map>
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

/// Publishes `payload` to `topic` (as `username`) until `stored()` is true: proves the
/// backend is subscribed and knows the node/unit. Throws after 30 s.
inline void waitUntilIngested(testing::Stack& stack, const std::string& username,
                              const std::string& topic, const std::string& payload,
                              const std::function<bool()>& stored) {
  mqtt::RawPublisher probe(stack.mqtt().port(), username, "bench-probe");
  probe.connectOrThrow();
  const bool ok = testing::pollUntil(
      [&] {
        probe.publish(topic, payload, 0);
        probe.flush();
        return stored();
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100));
  if (!ok)
    throw std::runtime_error("the backend never stored the probe on " + topic);
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

}  // namespace pepeunit::bench
