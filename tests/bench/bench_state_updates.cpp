// B8 (performance_anchors.md §5): unit states. Units publish `D/output_base_topic/<unit>/state/
// pepeunit` (a 2024-style state JSON); the backend filters it, rate-limits it per unit
// (BACKEND_STATE_SEND_INTERVAL, 1 s here) and stores it on the unit row, batched.
//
// 1. Throughput: rounds in which every one of `units` units sends one state, as fast as the
//    broker takes them; a round starts once the previous one is stored and ≥ 1 s after it
//    began (so the rate limit admits every state). Reported: stored updates/s (first publish →
//    last row committed, commit timestamps), publish → commit lag p50/p99, exact count (every
//    unit holds this round's state). Same-run baseline, interleaved: pgbench UPDATE by primary
//    key in autocommit (one client, prepared) on a copy of `units` with the same columns,
//    indexes and row count, setting the same columns to a state of the same size. Also the DB
//    side alone: the backend's state writer (PgIngestStore::saveStates) in batches of 1000.
// 2. CPU: 10,000 units each sending one state, spread over `cpu_seconds`; the backend's CPU per
//    stored state (minus its idle CPU over as long) projects the cost of 10,000 units at one
//    state per 60 s (the default interval).
//
// The publishers use the backend's own MQTT token (superuser on D/#): tens of thousands of unit
// connections, each loading its rules on CONNECT, would measure the auth plugin's connect path
// (B5), not state storage. The messages and the topics are exactly the devices'.
//
// Usage: bench_state_updates [units=40000] [reps=3] [cpu_seconds=5]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <pqxx/pqxx>
#include <regex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench/bench_common.hpp"
#include "bench/ingest_bench_support.hpp"
#include "bench/mqtt_load.hpp"
#include "domain/uuid.hpp"
#include "store/pg/pg_ingest_store.hpp"
#include "store/pg/pool.hpp"

namespace {

using pepeunit::bench::nowMicros;
using pepeunit::testing::pollUntil;
using pepeunit::testing::Stack;
using steady = std::chrono::steady_clock;

constexpr int kConnections = 8;
constexpr int kCpuUnits = 10000;

/// A 2024 device's state (python-unit template shape); `millis` tells rounds and units apart.
std::string statePayload(long long millis) {
  return R"({"millis": )" + std::to_string(millis) +
         R"(, "mem_free": 81536, "mem_alloc": 30912, "freq": 160000000, )"
         R"("statvfs": [4096, 4096, 512, 408, 408, 0, 0, 0, 0, 255], )"
         R"("ifconfig": ["192.168.1.42", "255.255.255.0", "192.168.1.1", "8.8.8.8"], )"
         R"("commit_version": "4f1c2d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e"})";
}

long long millisOf(int round, std::size_t unit) {
  return static_cast<long long>(round) * 1'000'000LL + static_cast<long long>(unit);
}

struct RoundResult {
  double updates_per_s = 0;
  double offered = 0;
  double lag_p50_ms = 0;
  double lag_p99_ms = 0;
  long stored = 0;  ///< units holding this round's state
  long expected = 0;
  double backend_cpu = 0;
  double broker_cpu = 0;
};

std::vector<pepeunit::bench::LoadStream> streamsFor(const Stack& stack,
                                                    const std::vector<std::string>& units,
                                                    std::size_t count) {
  std::vector<pepeunit::bench::LoadStream> streams(kConnections);
  const std::string token = stack.backendMqttToken();
  for (int k = 0; k < kConnections; ++k) {
    streams[static_cast<std::size_t>(k)].client_id = "bench-state-" + std::to_string(k);
    streams[static_cast<std::size_t>(k)].username = token;
  }
  // Unit u is stream u % k's (u / k)-th topic.
  for (std::size_t u = 0; u < count; ++u) {
    streams[u % kConnections].topics.push_back(stack.domain() + "/output_base_topic/" + units[u] +
                                               "/state/pepeunit");
  }
  return streams;
}

/// The unit index a (stream, topic) pair of streamsFor() stands for.
std::size_t unitIndex(std::size_t stream, std::size_t topic) {
  return topic * kConnections + stream;
}

std::int64_t dbNowMicros(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  return tx.exec("SELECT (EXTRACT(EPOCH FROM now()) * 1e6)::bigint")[0][0].as<std::int64_t>();
}

RoundResult runRound(Stack& stack, const std::string& repo, const std::vector<std::string>& units,
                     int round) {
  pqxx::connection c(stack.pg().url());
  const auto streams = streamsFor(stack, units, units.size());
  std::vector<std::int64_t> sent_at(units.size(), 0);
  pepeunit::bench::LoadPlan plan;
  plan.streams = streams;
  plan.total = static_cast<long>(units.size());
  plan.rate = 0;  // a burst: as fast as the broker reads
  plan.threads = 2;
  plan.payload = [&](std::size_t s, std::size_t t, long) {
    return statePayload(millisOf(round, unitIndex(s, t)));
  };
  plan.on_send = [&](int, std::size_t s, std::size_t t, long) {
    sent_at[unitIndex(s, t)] = nowMicros();
  };
  const pid_t backend = stack.backend().process().pid();
  const pid_t broker = stack.mqtt().process().pid();
  const double backend0 = pepeunit::bench::cpuSeconds(backend);
  const double broker0 = pepeunit::bench::cpuSeconds(broker);
  const std::int64_t round_start = dbNowMicros(c);
  const auto load = pepeunit::bench::runLoad(stack.mqtt().port(), plan);

  RoundResult r;
  r.expected = static_cast<long>(units.size());
  r.offered = load.rate();
  // Rows stamped by this round (the backend writes its receipt time): cheap to poll by index.
  const auto updated = [&] {
    pqxx::nontransaction tx(c);
    return tx
        .exec_params(
            "SELECT count(*) FROM units WHERE repo_uuid = $1 AND last_update_datetime >= "
            "timestamp 'epoch' + $2::bigint * interval '1 microsecond'",
            repo, round_start)[0][0]
        .as<long>();
  };
  pollUntil([&] { return updated() >= r.expected; }, std::chrono::seconds(60),
            std::chrono::milliseconds(50));
  const double backend1 = pepeunit::bench::cpuSeconds(backend);
  const double broker1 = pepeunit::bench::cpuSeconds(broker);

  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t u = 0; u < units.size(); ++u)
    index.emplace(units[u], u);
  const std::int64_t first_send = *std::min_element(sent_at.begin(), sent_at.end());
  std::int64_t last_commit = first_send;
  std::vector<double> lags;
  static const std::regex millis_re(R"("millis":\s*([0-9.e+]+))");
  pqxx::nontransaction tx(c);
  for (const auto& row :
       tx.exec_params("SELECT uuid::text, unit_state_dict, (EXTRACT(EPOCH FROM "
                      "pg_xact_commit_timestamp(xmin)) * 1e6)::bigint FROM units WHERE "
                      "repo_uuid = $1",
                      repo)) {
    const auto u = index.at(row[0].c_str());
    std::smatch m;
    const std::string dict = row[1].is_null() ? "" : row[1].c_str();
    if (!std::regex_search(dict, m, millis_re) ||
        static_cast<long long>(std::stod(m[1])) != millisOf(round, u))
      continue;
    ++r.stored;
    const auto committed = row[2].as<std::int64_t>();
    last_commit = std::max(last_commit, committed);
    lags.push_back(static_cast<double>(committed - sent_at[u]) / 1000.0);
  }
  const double secs = static_cast<double>(last_commit - first_send) / 1e6;
  r.updates_per_s = static_cast<double>(r.stored) / secs;
  r.lag_p50_ms = pepeunit::bench::percentile(lags, 50);
  r.lag_p99_ms = pepeunit::bench::percentile(lags, 99);
  r.backend_cpu = (backend1 - backend0) / secs;
  r.broker_cpu = (broker1 - broker0) / secs;
  return r;
}

/// A copy of `units` (same columns, indexes, defaults, row count) with uuid = md5(i)::uuid so
/// pgbench can address a row by number.
void createBaselineTable(Stack& stack, const std::string& repo) {
  pqxx::connection c(stack.pg().url());
  pqxx::work tx(c);
  tx.exec("DROP TABLE IF EXISTS bench_units");
  tx.exec("CREATE TABLE bench_units (LIKE units INCLUDING ALL)");
  tx.exec_params(
      "INSERT INTO bench_units (uuid, name, creator_uuid, repo_uuid) "
      "SELECT md5(n::text)::uuid, 'b' || n, creator_uuid, repo_uuid FROM "
      "(SELECT row_number() OVER () AS n, creator_uuid, repo_uuid FROM units "
      "WHERE repo_uuid = $1) s",
      repo);
  tx.commit();
}

/// pgbench: UPDATE by primary key, autocommit, 1 client, prepared; updates/s.
double runPgbench(Stack& stack, long rows, int seconds) {
  const auto script = stack.dir() / "state_update.sql";
  {
    std::ofstream out(script);
    out << "\\set i random(1, " << rows << ")\n"
        << "UPDATE bench_units SET unit_state_dict = '"
        << R"({"ifconfig": ["192.168.1.42"], "millis": 12345.0, "mem_free": 81536.0, )"
        << R"("mem_alloc": 30912.0, "freq": 160000000.0, "statvfs": [4096, 4096, 512], )"
        << R"("commit_version": "4f1c2d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e"})"
        << "', current_commit_version = '4f1c2d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e', "
        << "last_update_datetime = now() AT TIME ZONE 'UTC' "
        << "WHERE uuid = md5(:i::text)::uuid;\n";
  }
  const std::string cmd = "/usr/lib/postgresql/15/bin/pgbench -n -M prepared -c 1 -T " +
                          std::to_string(seconds) + " -f " + script.string() + " -h 127.0.0.1 -p " +
                          std::to_string(stack.pg().port()) + " -U postgres pepeunit 2>&1";
  const std::string out = pepeunit::bench::runCommand(cmd);
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(R"(tps = ([0-9.]+))")))
    throw std::runtime_error("pgbench produced no result:\n" + out);
  return std::stod(m[1]);
}

/// The backend's own state writer (PgIngestStore::saveStates, as the ingest calls it) on its
/// own: batches of `batch` states over all units, the DB side of the path without MQTT.
double runStoreBatches(Stack& stack, const std::vector<std::string>& units, std::size_t batch,
                       int round) {
  pepeunit::store::pg::Pool pool(stack.pg().url(), 2);  // as the backend's ingest pool
  pepeunit::store::pg::PgIngestStore store(pool);
  std::vector<pepeunit::store::UnitStateWrite> states;
  states.reserve(units.size());
  const auto now =
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  for (std::size_t u = 0; u < units.size(); ++u) {
    states.push_back({*pepeunit::domain::Uuid::parse(units[u]),
                      R"({"ifconfig": ["192.168.1.42"], "millis": )" +
                          std::to_string(millisOf(round, u)) +
                          R"(, "mem_free": 81536.0, "mem_alloc": 30912.0, "freq": 160000000.0, )"
                          R"("statvfs": [4096, 4096, 512], "commit_version": )"
                          R"("4f1c2d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e"})",
                      std::string("4f1c2d9e8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e"), now});
  }
  const auto start = steady::now();
  std::size_t stored = 0;
  for (std::size_t i = 0; i < states.size(); i += batch) {
    const auto n = std::min(batch, states.size() - i);
    const auto found = store.saveStates(std::span(states).subspan(i, n),
                                        [](std::size_t, const auto&) { return std::nullopt; });
    stored += static_cast<std::size_t>(std::count(found.begin(), found.end(), true));
  }
  const double secs = std::chrono::duration<double>(steady::now() - start).count();
  if (stored != states.size())
    throw std::runtime_error("saveStates did not find every unit");
  return static_cast<double>(stored) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  const int unit_count = argc > 1 ? std::stoi(argv[1]) : 40000;
  const int reps = argc > 2 ? std::stoi(argv[2]) : 3;
  const double cpu_seconds = argc > 3 ? std::stod(argv[3]) : 5;
  try {
    Stack stack(pepeunit::bench::benchStackOptions({{"BACKEND_STATE_SEND_INTERVAL", "1"}}));
    pepeunit::bench::enableCommitTimestamps(stack);
    const auto bench_units = pepeunit::bench::createUnits(stack, unit_count, 0, "state");
    std::vector<std::string> units;
    for (const auto& u : bench_units)
      units.push_back(u.uuid);
    std::string repo;
    {
      pqxx::connection c(stack.pg().url());
      pqxx::nontransaction tx(c);
      repo = tx.exec_params("SELECT repo_uuid::text FROM units WHERE uuid = $1", units[0])[0][0]
                 .c_str();
    }
    createBaselineTable(stack, repo);
    {
      pqxx::connection c(stack.pg().url());
      pepeunit::bench::waitUntilIngested(
          stack, stack.backendMqttToken(),
          stack.domain() + "/output_base_topic/" + units[0] + "/state/pepeunit", statePayload(7),
          [&] {
            pqxx::nontransaction tx(c);
            const auto row =
                tx.exec_params("SELECT unit_state_dict FROM units WHERE uuid = $1", units[0])[0][0];
            return !row.is_null();
          });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the probe's rate limit

    // 1. Throughput, interleaved with the pgbench baseline.
    std::vector<double> rates, offered, p50, p99, baseline, backend_cpu, broker_cpu, store_rates;
    bool exact = true;
    long stored = 0, expected = 0;
    for (int rep = 0; rep < reps; ++rep) {
      const auto began = steady::now();
      const auto r = runRound(stack, repo, units, rep + 1);
      baseline.push_back(runPgbench(stack, unit_count, 4));
      store_rates.push_back(runStoreBatches(stack, units, 1000, 100 + rep));
      exact = exact && r.stored == r.expected;
      stored += r.stored;
      expected += r.expected;
      rates.push_back(r.updates_per_s);
      offered.push_back(r.offered);
      p50.push_back(r.lag_p50_ms);
      p99.push_back(r.lag_p99_ms);
      backend_cpu.push_back(r.backend_cpu);
      broker_cpu.push_back(r.broker_cpu);
      std::cerr << "bench_state_updates: round " << rep << ": " << r.stored << "/" << r.expected
                << " states stored, " << r.updates_per_s << " updates/s (offered " << r.offered
                << " msg/s), lag p50 " << r.lag_p50_ms << " p99 " << r.lag_p99_ms
                << " ms, CPU backend " << r.backend_cpu << " broker " << r.broker_cpu
                << "; pgbench autocommit " << baseline.back() << " updates/s; store batches of "
                << "1000: " << store_rates.back() << " updates/s\n";
      std::this_thread::sleep_until(began + std::chrono::milliseconds(1100));
    }
    pepeunit::bench::report(
        "bench_state_updates",
        {{"units", unit_count}, {"reps", reps}, {"state_interval_s", 1}, {"qos", 0}},
        pepeunit::bench::median(rates), pepeunit::bench::median(p99), "updates/s",
        pepeunit::bench::median(baseline),
        {{"baseline_name", "pgbench UPDATE by PK, autocommit, -c 1 -M prepared, same table shape"},
         {"offered_msgs_per_s", pepeunit::bench::median(offered)},
         {"lag_p50_ms", pepeunit::bench::median(p50)},
         {"lag_p99_ms", pepeunit::bench::median(p99)},
         {"backend_cpu_core_share", pepeunit::bench::median(backend_cpu)},
         {"broker_cpu_core_share", pepeunit::bench::median(broker_cpu)},
         {"states_expected", expected},
         {"states_stored", stored},
         {"states_exact", exact}});
    pepeunit::bench::report(
        "bench_state_updates_store", {{"units", unit_count}, {"reps", reps}, {"batch", 1000}},
        pepeunit::bench::median(store_rates), 0, "updates/s", pepeunit::bench::median(baseline),
        {{"baseline_name", "pgbench UPDATE by PK, autocommit, -c 1 -M prepared, same table shape"},
         {"what", "PgIngestStore::saveStates (lock + status machine + one UPDATE per batch)"}});

    // 2. CPU of 10,000 units at one state each, spread over `cpu_seconds`, vs idle.
    const int cpu_units = std::min(kCpuUnits, unit_count);
    const pid_t backend = stack.backend().process().pid();
    const pid_t broker = stack.mqtt().process().pid();
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    const double idle0 = pepeunit::bench::cpuSeconds(backend);
    const double broker_idle0 = pepeunit::bench::cpuSeconds(broker);
    const auto idle_start = steady::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(cpu_seconds));
    const double idle_secs = std::chrono::duration<double>(steady::now() - idle_start).count();
    const double idle_share = (pepeunit::bench::cpuSeconds(backend) - idle0) / idle_secs;
    const double broker_idle_share =
        (pepeunit::bench::cpuSeconds(broker) - broker_idle0) / idle_secs;

    pepeunit::bench::LoadPlan plan;
    plan.streams = streamsFor(stack, units, static_cast<std::size_t>(cpu_units));
    plan.total = cpu_units;
    plan.rate = cpu_units / cpu_seconds;
    plan.threads = 1;
    const int round = reps + 1;
    plan.payload = [&](std::size_t s, std::size_t t, long) {
      return statePayload(millisOf(round, unitIndex(s, t)));
    };
    pqxx::connection c(stack.pg().url());
    const std::int64_t start_db = dbNowMicros(c);
    const double cpu0 = pepeunit::bench::cpuSeconds(backend);
    const double broker_cpu0 = pepeunit::bench::cpuSeconds(broker);
    const auto start = steady::now();
    pepeunit::bench::runLoad(stack.mqtt().port(), plan);
    long saved = 0;
    pollUntil(
        [&] {
          pqxx::nontransaction tx(c);
          saved = tx.exec_params(
                        "SELECT count(*) FROM units WHERE repo_uuid = $1 AND "
                        "last_update_datetime >= timestamp 'epoch' + $2::bigint * "
                        "interval '1 microsecond'",
                        repo, start_db)[0][0]
                      .as<long>();
          return saved >= cpu_units;
        },
        std::chrono::seconds(30), std::chrono::milliseconds(100));
    const double busy_secs = std::chrono::duration<double>(steady::now() - start).count();
    const double used = pepeunit::bench::cpuSeconds(backend) - cpu0 - idle_share * busy_secs;
    const double broker_used =
        pepeunit::bench::cpuSeconds(broker) - broker_cpu0 - broker_idle_share * busy_secs;
    const double per_state_us = used / cpu_units * 1e6;
    // 10,000 units, one state per 60 s each: 166.7 states/s, plus the idle floor.
    const double projected = idle_share + (per_state_us / 1e6) * (kCpuUnits / 60.0);
    std::cerr << "bench_state_updates: CPU: " << saved << "/" << cpu_units
              << " states stored; backend " << per_state_us << " us/state, idle "
              << idle_share * 100 << " % of a core; broker " << broker_used / cpu_units * 1e6
              << " us/state; projected 10k units / 60 s: " << projected * 100 << " % of a core\n";
    pepeunit::bench::report(
        "bench_state_updates_cpu",
        {{"units", cpu_units}, {"spread_over_s", cpu_seconds}, {"projection", "10k units / 60 s"}},
        projected * 100, 0, "% of one core", 5.0,
        {{"baseline_name", "target: 5 % of one core"},
         {"backend_cpu_us_per_state", per_state_us},
         {"backend_idle_core_percent", idle_share * 100},
         {"broker_cpu_us_per_state", broker_used / cpu_units * 1e6},
         {"states_stored", saved},
         {"states_exact", saved == cpu_units}});
    exact = exact && saved == cpu_units;

    stack.backend().stop();
    std::cerr << "bench_state_updates: backend " << pepeunit::bench::lastIngestStats(stack) << "\n";
    return exact ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "bench_state_updates: " << e.what() << "\n";
    return 1;
  }
}
