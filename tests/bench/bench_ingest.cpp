// B7 (performance_anchors.md §5): MQTT ingest throughput and lag. 100 units, each on its own
// connection with its own Unit token, publish to their 10 Output nodes (`D/<node>/pepeunit`,
// 1,000 nodes) at a paced rate, with a new value every `change_every`-th message per node; the
// real backend (Paho subscriber → last-value filter → batched writes) stores the changes.
//
// Reported per run: messages/s in and stored rows/s (first publish → last row committed),
// publish → row committed lag p50/p99 for every row (commit timestamps, read after the run), the
// broker's and the backend's CPU, and whether the stored rows are exactly the changes published
// (each once, none missing, none extra). Same-run baseline, interleaved with the runs: a raw
// COPY (libpqxx stream_to) of the same number of rows into the same history table. A last run
// stops the backend (SIGSTOP) for 2 s halfway: no row may be lost while the broker holds the
// stream (see max_queued_messages in ingest_bench_support.hpp and scripts/lib/stack.sh).
//
// Usage: bench_ingest [seconds=8] [rate at 10% changes=55000] [reps=3] [rate at 100%=50000]
//                     [backend pause ms=2000]
// PEPEUNIT_BENCH_BROKER=harness|quiet: broker config A/B (ingest_bench_support.hpp).
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "bench/bench_common.hpp"
#include "bench/ingest_bench_support.hpp"
#include "bench/mqtt_load.hpp"

namespace {

using pepeunit::bench::nowMicros;
using pepeunit::testing::pollUntil;
using pepeunit::testing::Stack;
using steady = std::chrono::steady_clock;

constexpr int kUnits = 100;
constexpr int kNodesPerUnit = 10;

struct RunResult {
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

long countRows(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  return tx.exec("SELECT count(*) FROM unit_node_values")[0][0].as<long>();
}

void truncateHistory(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  tx.exec("TRUNCATE unit_node_values");
}

/// 15 digits, unique per (run, node, change): the payload, and how a row finds its publish time.
std::string valueId(int run, long change, std::size_t node) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%015lld",
                (static_cast<long long>(run) * 1'000'000LL + change) * 100'000LL +
                    static_cast<long long>(node));
  return buf;
}

RunResult runIngest(Stack& stack, const std::vector<pepeunit::bench::LoadStream>& streams, int run,
                    long total, double rate, int change_every,
                    std::chrono::milliseconds pause_backend = {}) {
  pqxx::connection c(stack.pg().url());
  truncateHistory(c);
  const std::size_t log_offset = pepeunit::bench::brokerLogSize(stack);

  // Publish time of each change, per generator thread (no locking on the hot path).
  constexpr int kThreads = 2;
  std::vector<std::vector<std::pair<std::string, std::int64_t>>> changes(kThreads);
  for (auto& v : changes)
    v.reserve(static_cast<std::size_t>(total / change_every / kThreads + 1000));

  pepeunit::bench::LoadPlan plan;
  plan.streams = streams;
  plan.total = total;
  plan.rate = rate;
  plan.threads = kThreads;
  plan.payload = [&](std::size_t s, std::size_t t, long seq) {
    return valueId(run, seq / change_every, s * kNodesPerUnit + t);
  };
  plan.on_send = [&](int thread, std::size_t s, std::size_t t, long seq) {
    if (seq % change_every == 0) {
      changes[static_cast<std::size_t>(thread)].emplace_back(
          valueId(run, seq / change_every, s * kNodesPerUnit + t), nowMicros());
    }
  };

  const pid_t broker = stack.mqtt().process().pid();
  const pid_t backend = stack.backend().process().pid();
  const pid_t postgres = stack.pg().process().pid();
  const double broker_cpu0 = pepeunit::bench::cpuSeconds(broker);
  const double backend_cpu0 = pepeunit::bench::cpuSeconds(backend);
  const double postgres_cpu0 = pepeunit::bench::treeCpuSeconds(postgres);
  const double self_cpu0 = pepeunit::bench::cpuSeconds(::getpid());
  const auto ticks0 = pepeunit::bench::machineTicks();
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
  const auto load = pepeunit::bench::runLoad(stack.mqtt().port(), plan);
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
  RunResult r;
  r.expected = static_cast<long>(sent_at.size());
  r.offered = load.rate();
  pollUntil([&] { return countRows(c) >= r.expected; }, std::chrono::seconds(60),
            std::chrono::milliseconds(50));
  const double broker_cpu1 = pepeunit::bench::cpuSeconds(broker);
  const double backend_cpu1 = pepeunit::bench::cpuSeconds(backend);
  const double postgres_cpu1 = pepeunit::bench::treeCpuSeconds(postgres);
  const double self_cpu1 = pepeunit::bench::cpuSeconds(::getpid());
  const auto ticks1 = pepeunit::bench::machineTicks();
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
  r.lag_p50_ms = pepeunit::bench::percentile(lags, 50);
  r.lag_p99_ms = pepeunit::bench::percentile(lags, 99);
  r.lag_max_ms = pepeunit::bench::percentile(lags, 100);
  r.broker_cpu = (broker_cpu1 - broker_cpu0) / secs;
  r.backend_cpu = (backend_cpu1 - backend_cpu0) / secs;
  r.postgres_cpu = (postgres_cpu1 - postgres_cpu0) / secs;
  r.generator_cpu = (self_cpu1 - self_cpu0) / secs;
  // Over the sampling window (load start → all rows seen), not the run's measured span.
  r.other_cpu = pepeunit::bench::busyCores(ticks0, ticks1) -
                (broker_cpu1 - broker_cpu0 + backend_cpu1 - backend_cpu0 + postgres_cpu1 -
                 postgres_cpu0 + self_cpu1 - self_cpu0) /
                    window;
  r.broker_drops = pepeunit::bench::brokerDropNotices(stack, log_offset);
  return r;
}

/// The baseline: `rows` rows shaped like the run's (same nodes, 15-digit values) COPYed into the
/// same history table, in one transaction.
double runCopy(Stack& stack, const std::vector<std::string>& nodes, long rows) {
  pqxx::connection c(stack.pg().url());
  truncateHistory(c);
  std::string now;
  {
    pqxx::nontransaction tx(c);
    now = tx.exec("SELECT now()::text")[0][0].c_str();
  }
  const auto start = steady::now();
  {
    pqxx::work tx(c);
    pqxx::stream_to stream(
        tx, "unit_node_values",
        std::vector<std::string>{"unit_node_uuid", "value", "numeric_value", "created_at"});
    for (long i = 0; i < rows; ++i) {
      const auto node = static_cast<std::size_t>(i) % nodes.size();
      const auto id = valueId(99, i / static_cast<long>(nodes.size()), node);
      stream << std::make_tuple(nodes[node], id, std::stod(id), now);
    }
    stream.complete();
    tx.commit();
  }
  const double secs = std::chrono::duration<double>(steady::now() - start).count();
  if (countRows(c) != rows)
    throw std::runtime_error("COPY baseline lost rows");
  truncateHistory(c);
  return static_cast<double>(rows) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::stod(argv[1]) : 8;
  const double rate10 = argc > 2 ? std::stod(argv[2]) : 55000;
  const int reps = argc > 3 ? std::stoi(argv[3]) : 3;
  const double rate100 = argc > 4 ? std::stod(argv[4]) : 50000;
  const int pause_ms = argc > 5 ? std::stoi(argv[5]) : 2000;
  try {
    Stack stack(pepeunit::bench::benchStackOptions({}));
    pepeunit::bench::enableCommitTimestamps(stack);
    const auto units = pepeunit::bench::createUnits(stack, kUnits, kNodesPerUnit, "ingest");
    const std::string domain = stack.domain();
    std::vector<pepeunit::bench::LoadStream> streams;
    std::vector<std::string> nodes;
    for (const auto& u : units) {
      pepeunit::bench::LoadStream s;
      s.client_id = "unit-" + u.uuid;
      s.username = stack.unitMqttToken(u.uuid);
      for (const auto& n : u.nodes) {
        s.topics.push_back(domain + "/" + n + "/pepeunit");
        nodes.push_back(n);
      }
      streams.push_back(std::move(s));
    }
    {
      pqxx::connection c(stack.pg().url());
      pepeunit::bench::waitUntilIngested(
          stack, streams[0].username, streams[0].topics[0], "probe", [&] {
            pqxx::nontransaction tx(c);
            const auto row = tx.exec_params("SELECT state FROM units_nodes WHERE uuid = $1",
                                            units[0].nodes[0])[0][0];
            return !row.is_null() && row.c_str() == std::string("probe");
          });
    }

    bool all_exact = true;
    int run = 1;
    for (const int change_every : {10, 1}) {
      const double rate = change_every == 1 ? rate100 : rate10;
      const double secs = change_every == 1 ? seconds / 2 : seconds;
      const auto total = static_cast<long>(rate * secs);
      std::vector<double> msgs, rows, offered, p50, p99, copy, broker_cpu, backend_cpu,
          postgres_cpu, other_cpu;
      long expected = 0, stored = 0;
      bool exact = true;
      std::size_t drops = 0;
      for (int rep = 0; rep < reps; ++rep) {
        const auto r = runIngest(stack, streams, run++, total, rate, change_every);
        copy.push_back(runCopy(stack, nodes, r.expected));
        exact = exact && r.exact;
        expected += r.expected;
        stored += r.rows;
        drops += r.broker_drops.size();
        msgs.push_back(r.msgs_per_s);
        rows.push_back(r.rows_per_s);
        offered.push_back(r.offered);
        p50.push_back(r.lag_p50_ms);
        p99.push_back(r.lag_p99_ms);
        broker_cpu.push_back(r.broker_cpu);
        backend_cpu.push_back(r.backend_cpu);
        postgres_cpu.push_back(r.postgres_cpu);
        other_cpu.push_back(r.other_cpu);
        std::cerr << "bench_ingest: 1/" << change_every << " changes, rep " << rep << ": " << r.rows
                  << "/" << r.expected << " rows (missing " << r.missing << ", unexpected "
                  << r.unexpected << "), " << r.msgs_per_s << " msg/s in"
                  << " (offered " << r.offered << "), " << r.rows_per_s << " rows/s, lag p50 "
                  << r.lag_p50_ms << " p99 " << r.lag_p99_ms << " max " << r.lag_max_ms
                  << " ms, CPU broker " << r.broker_cpu << " backend " << r.backend_cpu
                  << " postgres " << r.postgres_cpu << " generator " << r.generator_cpu
                  << " others " << r.other_cpu << "; COPY " << copy.back() << " rows/s\n";
        for (const auto& line : r.broker_drops)
          std::cerr << "bench_ingest: broker: " << line << "\n";
      }
      const double median_rows = pepeunit::bench::median(rows);
      const double median_msgs = pepeunit::bench::median(msgs);
      const double median_copy = pepeunit::bench::median(copy);
      // At 10 % changes the question is whether the stream is kept up with (msg/s in vs
      // offered); at 100 % how close stored rows/s come to COPY.
      pepeunit::bench::report(
          "bench_ingest",
          {{"messages", total},
           {"units", kUnits},
           {"nodes", kUnits * kNodesPerUnit},
           {"change_ratio", 1.0 / change_every},
           {"offered_rate", rate},
           {"qos", 0},
           {"reps", reps}},
          change_every == 1 ? median_rows : median_msgs, pepeunit::bench::median(p99),
          change_every == 1 ? "rows/s" : "msg/s",
          change_every == 1 ? median_copy : pepeunit::bench::median(offered),
          {{"baseline_name", change_every == 1 ? "COPY (stream_to) of the same number of rows "
                                                 "into the same table"
                                               : "offered msg/s (generator)"},
           {"msgs_per_s_in", median_msgs},
           {"rows_per_s", median_rows},
           {"copy_rows_per_s", median_copy},
           {"rows_vs_copy", median_copy > 0 ? median_rows / median_copy : 0},
           {"offered_msgs_per_s", pepeunit::bench::median(offered)},
           {"lag_p50_ms", pepeunit::bench::median(p50)},
           {"lag_p99_ms", pepeunit::bench::median(p99)},
           {"broker_cpu_core_share", pepeunit::bench::median(broker_cpu)},
           {"backend_cpu_core_share", pepeunit::bench::median(backend_cpu)},
           {"postgres_cpu_core_share", pepeunit::bench::median(postgres_cpu)},
           {"other_processes_cpu_cores", pepeunit::bench::median(other_cpu)},
           {"rows_expected", expected},
           {"rows_stored", stored},
           {"rows_exact", exact},
           {"broker_drop_notices", drops}});
      all_exact = all_exact && exact;
    }
    // The pause run: one rep at the 10 % rate with the backend stopped (SIGSTOP) halfway, for
    // `pause_ms`; the broker must hold the stream meanwhile (max_queued_messages).
    {
      const auto total = static_cast<long>(rate10 * seconds);
      const auto pause = std::chrono::milliseconds(pause_ms);
      const auto r = runIngest(stack, streams, run++, total, rate10, 10, pause);
      std::cerr << "bench_ingest: backend paused " << pause.count() << " ms: " << r.rows << "/"
                << r.expected << " rows (missing " << r.missing << "), lag p99 " << r.lag_p99_ms
                << " ms\n";
      for (const auto& line : r.broker_drops)
        std::cerr << "bench_ingest: broker: " << line << "\n";
      pepeunit::bench::report("bench_ingest_backend_pause",
                              {{"messages", total},
                               {"change_ratio", 0.1},
                               {"offered_rate", rate10},
                               {"backend_paused_ms", pause.count()}},
                              r.msgs_per_s, r.lag_p99_ms, "msg/s", r.offered,
                              {{"baseline_name", "offered msg/s (generator)"},
                               {"lag_p50_ms", r.lag_p50_ms},
                               {"lag_max_ms", r.lag_max_ms},
                               {"rows_expected", r.expected},
                               {"rows_stored", r.rows},
                               {"rows_exact", r.exact},
                               {"broker_drop_notices", r.broker_drops.size()}});
      all_exact = all_exact && r.exact;
    }
    stack.backend().stop();
    std::cerr << "bench_ingest: backend " << pepeunit::bench::lastIngestStats(stack) << "\n";
    return all_exact ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "bench_ingest: " << e.what() << "\n";
    return 1;
  }
}
