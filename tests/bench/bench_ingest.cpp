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

using pepeunit::bench::countRows;
using pepeunit::bench::truncateHistory;
using pepeunit::bench::valueId;
using pepeunit::testing::Stack;
using steady = std::chrono::steady_clock;

constexpr int kUnits = 100;
constexpr int kNodesPerUnit = 10;

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
        const auto r = pepeunit::bench::runIngest(stack, streams, kNodesPerUnit,
                                                  pepeunit::bench::ValueFormat::kNumber, run++,
                                                  total, rate, change_every);
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
      const auto r = pepeunit::bench::runIngest(stack, streams, kNodesPerUnit,
                                                pepeunit::bench::ValueFormat::kNumber, run++, total,
                                                rate10, 10, pause);
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
