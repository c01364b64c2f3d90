// B10 (performance_anchors.md §5): Pepeunit's own MQTT load test, replayed against this stack.
// Its defaults (pepeunit_backend tests/load, .env_example): 100 units × 200 msg/s = 20,000
// msg/s, QoS 0, 15-character Text values, a new value every 10th message
// (PU_TEST_LOAD_MQTT_DUPLICATE_COUNT=10), 120 s; here 20 s (CI) unless told otherwise. Each
// unit publishes to its own Output node over its own connection with its own Unit token, through
// the auth plugin, as a device does.
//
// Pepeunit's test only counted client-side publish calls. This one checks what matters: every
// changed value stored exactly once (rows = expected ± 0), publish → row committed lag p50/p99
// (commit timestamps), no publish wrongly denied by the auth plugin (its acl_denied counter),
// the broker's CPU (≤ 50 % of a core) and the broker's delivered msg/s (what reached the
// backend) against the offered rate.
//
// Usage: bench_pepeunit_profile [seconds=20] [units=100] [rate per unit=200]
#include <iostream>
#include <pqxx/pqxx>
#include <regex>
#include <string>
#include <vector>

#include "bench/bench_common.hpp"
#include "bench/bench_mqtt.hpp"
#include "bench/ingest_bench_support.hpp"
#include "bench/mqtt_load.hpp"

namespace {

/// `in=<n>` of the backend's last ingest statistics line (messages the broker delivered).
long backendMessagesIn(pepeunit::testing::Stack& stack) {
  std::smatch m;
  const std::string line = pepeunit::bench::lastIngestStats(stack);
  return std::regex_search(line, m, std::regex(R"(in=(\d+))")) ? std::stol(m[1]) : -1;
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::stod(argv[1]) : 20;
  const int unit_count = argc > 2 ? std::stoi(argv[2]) : 100;
  const double per_unit = argc > 3 ? std::stod(argv[3]) : 200;
  constexpr int kDuplicateCount = 10;
  try {
    pepeunit::testing::Stack stack(pepeunit::bench::benchStackOptions({}));
    pepeunit::bench::enableCommitTimestamps(stack);
    const auto units = pepeunit::bench::createUnits(stack, unit_count, 1, "profile");
    std::vector<pepeunit::bench::LoadStream> streams;
    for (const auto& u : units) {
      streams.push_back({"unit-" + u.uuid,
                         stack.unitMqttToken(u.uuid),
                         {stack.domain() + "/" + u.nodes[0] + "/pepeunit"}});
    }
    long probes = 0;
    {
      pqxx::connection c(stack.pg().url());
      probes = pepeunit::bench::waitUntilIngested(
          stack, streams[0].username, streams[0].topics[0], "probe", [&] {
            pqxx::nontransaction tx(c);
            const auto row = tx.exec_params("SELECT state FROM units_nodes WHERE uuid = $1",
                                            units[0].nodes[0])[0][0];
            return !row.is_null() && row.c_str() == std::string("probe");
          });
    }
    pepeunit::bench::mqtt::PluginCounters counters(stack.mqtt().port(), stack.backendMqttToken());
    const auto before = counters.fresh();

    const double rate = unit_count * per_unit;
    const auto total = static_cast<long>(rate * seconds);
    const auto r = pepeunit::bench::runIngest(
        stack, streams, 1, pepeunit::bench::ValueFormat::kText, 1, total, rate, kDuplicateCount);
    const auto after = counters.fresh();
    const auto delta = pepeunit::bench::mqtt::counterDelta(before, after);
    const auto denied = delta.count("acl_denied") ? delta.at("acl_denied") : -1;

    // The backend logs its final counters on a clean stop: what the broker delivered to it.
    stack.backend().stop();
    const std::string stats = pepeunit::bench::lastIngestStats(stack);
    // The probes that reached it (≤ `probes`) are in the count too.
    const long received = backendMessagesIn(stack);
    const bool all_delivered = received >= total && received - probes <= total;
    std::cerr << "bench_pepeunit_profile: " << r.rows << "/" << r.expected << " rows (missing "
              << r.missing << ", unexpected " << r.unexpected << "), offered " << r.offered
              << " msg/s, in " << r.msgs_per_s << " msg/s, lag p50 " << r.lag_p50_ms << " p99 "
              << r.lag_p99_ms << " ms; CPU broker " << r.broker_cpu << " backend " << r.backend_cpu
              << " postgres " << r.postgres_cpu << " generator " << r.generator_cpu << " others "
              << r.other_cpu << "; acl_denied " << denied << "; the backend received " << received
              << " (" << total << " + up to " << probes << " probes)\n"
              << "bench_pepeunit_profile: backend " << stats << "\n";
    const bool ok = r.exact && denied == 0 && all_delivered && r.broker_drops.empty();
    pepeunit::bench::report(
        "bench_pepeunit_profile",
        {{"units", unit_count},
         {"msgs_per_unit_per_s", per_unit},
         {"seconds", seconds},
         {"payload_chars", 15},
         {"duplicate_count", kDuplicateCount},
         {"qos", 0}},
        r.msgs_per_s, r.lag_p99_ms, "msg/s", r.offered,
        {{"baseline_name", "offered msg/s (generator); Pepeunit's Python backend published ~25k"},
         {"received_by_backend", received},
         {"probes_published", probes},
         {"all_delivered", all_delivered},
         {"messages_offered", total},
         {"rows_expected", r.expected},
         {"rows_stored", r.rows},
         {"rows_exact", r.exact},
         {"lag_p50_ms", r.lag_p50_ms},
         {"lag_p99_ms", r.lag_p99_ms},
         {"acl_denied", denied},
         {"broker_cpu_core_share", r.broker_cpu},
         {"backend_cpu_core_share", r.backend_cpu},
         {"postgres_cpu_core_share", r.postgres_cpu},
         {"other_processes_cpu_cores", r.other_cpu},
         {"broker_drop_notices", r.broker_drops.size()}});
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "bench_pepeunit_profile: " << e.what() << "\n";
    return 1;
  }
}
