// B5 (performance_anchors.md §5): CONNECT → CONNACK → DISCONNECT, one after the other on fresh
// TCP_NODELAY sockets (MQTT 3.1.1 on a plain socket), with a Unit JWT as the username and an
// empty password:
//   - no_plugin: the same broker config without the plugin line (allow_anonymous true);
//   - warm: the plugin, units whose rules it already holds (the JWT is still verified per
//     CONNECT);
//   - cold: the plugin, units it has never seen: each CONNECT waits for the rules, fetched by
//     the plugin's helper process from the real backend over HTTP → Postgres, with a
//     write-through to Redis. L2 misses every time here, so after a streak of misses the
//     helper reads Redis only on every 8th fetch (authplugin::L2MissStreak); plugin_fetch_l2
//     stays 0 and every set comes from the backend.
// Interleaved per repetition; the broker pinned to CPU 0, this process to CPU 1. Reported:
// connections/s, latency p50/p99 (connect() → CONNACK), broker CPU µs per connection; warm and
// no_plugin ratios. Every CONNECT of a unit must be accepted. Plugin options as in production,
// except the CONNECT stall budget (stall_budget_ms_per_s 1000, the maximum) so cold CONNECTs
// measure the fetch path instead of the budget; refusals are counted.
//
// Usage: bench_connect_auth [reps=7] [warm_seconds=2] [cold_per_rep=400]
#include <iostream>

#include "bench/bench_mqtt.hpp"

using pepeunit::bench::field;

namespace {

using namespace pepeunit::bench::mqtt;
using pepeunit::bench::median;

constexpr int kWarmUnits = 200;

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::stoi(argv[1]) : 7;
  const double warm_seconds = argc > 2 ? std::stod(argv[2]) : 2.0;
  const int cold_per_rep = argc > 3 ? std::stoi(argv[3]) : 400;
  MosquittoLib lib;
  try {
    Fixture fx;
    std::vector<std::string> warm_units;
    std::vector<std::string> cold_units;
    {
      pqxx::connection c(fx.stack().pg().url());
      pqxx::work tx(c);
      const auto owner = createOwner(tx, "b5");
      warm_units = createUnits(tx, owner, "b5warm", kWarmUnits);
      cold_units = createUnits(tx, owner, "b5cold", reps * cold_per_rep);
      // Each unit has an Output and an Input node, so its rule set is not trivially empty.
      createNodes(tx, owner, warm_units, "Output");
      createNodes(tx, owner, warm_units, "Input");
      createNodes(tx, owner, cold_units, "Output");
      createNodes(tx, owner, cold_units, "Input");
      tx.commit();
    }
    std::vector<std::string> warm_packets;
    for (std::size_t i = 0; i < warm_units.size(); ++i) {
      warm_packets.push_back(
          connectPacket("b5w-" + std::to_string(i), fx.unitToken(warm_units[i]), 60));
    }
    std::vector<std::string> cold_packets;
    for (std::size_t i = 0; i < cold_units.size(); ++i) {
      cold_packets.push_back(
          connectPacket("b5c-" + std::to_string(i), fx.unitToken(cold_units[i]), 60));
    }

    auto plain = fx.startBroker("b5-plain", fx.plainBroker());
    auto plugin = fx.startBroker("b5-plugin", fx.pluginBroker({{"stall_budget_ms_per_s", "1000"}}));
    const pid_t plain_pid = plain->process().pid();
    const pid_t plugin_pid = plugin->process().pid();
    pinProcess(plain_pid, 0);
    pinProcess(plugin_pid, 0);
    PluginCounters counters(plugin->port(), fx.backendToken());
    // Warm the plugin: every warm unit connected once (its rules fetched and kept).
    for (const auto& packet : warm_packets) {
      if (!pepeunit::testing::pollUntil(
              [&] { return connectOnce(plugin->port(), packet).code == 0; }, seconds(10))) {
        throw std::runtime_error("a warm unit was refused");
      }
    }
    pinSelf(1);
    connectLoop(plain->port(), plain_pid, warm_packets, 0, 0.5, 0);  // warm-up both
    connectLoop(plugin->port(), plugin_pid, warm_packets, 0, 0.5, 0);

    const auto before = counters.fresh();
    std::vector<ConnectRun> plain_runs, warm_runs, cold_runs;
    for (int r = 0; r < reps; ++r) {
      const auto run_plain = [&] {
        plain_runs.push_back(
            connectLoop(plain->port(), plain_pid, warm_packets, 0, warm_seconds, 0));
      };
      const auto run_warm = [&] {
        warm_runs.push_back(
            connectLoop(plugin->port(), plugin_pid, warm_packets, 0, warm_seconds, 0));
      };
      if (r % 2 == 0) {
        run_plain();
        run_warm();
      } else {
        run_warm();
        run_plain();
      }
      cold_runs.push_back(connectLoop(plugin->port(), plugin_pid, cold_packets,
                                      static_cast<std::size_t>(r * cold_per_rep), 0,
                                      static_cast<std::size_t>(cold_per_rep)));
      for (const auto* run : {&plain_runs.back(), &warm_runs.back(), &cold_runs.back()}) {
        std::cerr << "bench_connect_auth: rep " << r << " "
                  << (run == &plain_runs.back()  ? "no_plugin"
                      : run == &warm_runs.back() ? "warm"
                                                 : "cold")
                  << ": " << run->per_s << " conn/s, p50 " << run->p50_us << " us, p99 "
                  << run->p99_us << " us, " << run->cpu_us_per_conn << " us CPU/conn, ok "
                  << run->ok << " refused " << run->refused << " failed " << run->failed
                  << ", steal " << run->steal_pct << "%\n";
      }
    }
    auto delta = counterDelta(before, counters.fresh());
    unpinSelf();

    const auto totals = [](const std::vector<ConnectRun>& v) {
      std::uint64_t ok = 0, refused = 0, failed = 0;
      for (const auto& r : v) {
        ok += r.ok;
        refused += r.refused;
        failed += r.failed;
      }
      return nlohmann::json{{"ok", ok}, {"refused", refused}, {"failed", failed}};
    };
    const auto steal = [&] {
      double m = 0;
      for (const auto* v : {&plain_runs, &warm_runs, &cold_runs}) {
        for (const auto& r : *v) {
          m = std::max(m, r.steal_pct);
        }
      }
      return m;
    }();
    const nlohmann::json params = {{"reps", reps},
                                   {"warm_seconds", warm_seconds},
                                   {"warm_units", kWarmUnits},
                                   {"cold_per_rep", cold_per_rep},
                                   {"sequential", true},
                                   {"pinned", "broker cpu0, generator cpu1"}};
    const auto rate_p = field(plain_runs, &ConnectRun::per_s);
    const auto rate_w = field(warm_runs, &ConnectRun::per_s);
    const auto rate_c = field(cold_runs, &ConnectRun::per_s);
    const auto cpu_p = field(plain_runs, &ConnectRun::cpu_us_per_conn);
    const auto cpu_w = field(warm_runs, &ConnectRun::cpu_us_per_conn);
    const auto cpu_c = field(cold_runs, &ConnectRun::cpu_us_per_conn);
    pepeunit::bench::report("bench_connect_auth.warm", params, median(rate_w),
                            median(field(warm_runs, &ConnectRun::p99_us)), "conn/s", median(rate_p),
                            {{"warm_conn_per_s", summary(rate_w)},
                             {"no_plugin_conn_per_s", summary(rate_p)},
                             {"p50_us", median(field(warm_runs, &ConnectRun::p50_us))},
                             {"p99_us", median(field(warm_runs, &ConnectRun::p99_us))},
                             {"no_plugin_p50_us", median(field(plain_runs, &ConnectRun::p50_us))},
                             {"no_plugin_p99_us", median(field(plain_runs, &ConnectRun::p99_us))},
                             {"cpu_us_per_conn", summary(cpu_w)},
                             {"no_plugin_cpu_us_per_conn", summary(cpu_p)},
                             {"cpu_ratio", median(cpu_p) > 0 ? median(cpu_w) / median(cpu_p) : 0},
                             {"warm_counts", totals(warm_runs)},
                             {"no_plugin_counts", totals(plain_runs)},
                             {"steal_pct_max", steal}});
    const auto cold_p50 = field(cold_runs, &ConnectRun::p50_us);
    const auto cold_p99 = field(cold_runs, &ConnectRun::p99_us);
    pepeunit::bench::report(
        "bench_connect_auth.cold", params, median(rate_c), median(cold_p99), "conn/s",
        median(rate_p),
        {{"cold_conn_per_s", summary(rate_c)},
         {"p50_us", summary(cold_p50)},
         {"p99_us", summary(cold_p99)},
         {"cpu_us_per_conn", summary(cpu_c)},
         {"ratio_vs_warm", median(rate_w) > 0 ? median(rate_c) / median(rate_w) : 0},
         {"fetch_path",
          "helper process; Redis L2 misses (read skipped after a miss streak, 1 in 8 probed); "
          "backend HTTP, Postgres; write-through"},
         {"cold_counts", totals(cold_runs)},
         {"plugin_connect_waits", delta["connect_waits"]},
         {"plugin_connect_wait_timeouts", delta["connect_wait_timeouts"]},
         {"plugin_connect_budget_refused", delta["connect_budget_refused"]},
         {"plugin_fetch_backend", delta["fetch_backend"]},
         {"plugin_fetch_l2", delta["fetch_l2"]},
         {"steal_pct_max", steal}});
    const auto refused_or_failed = [](const std::vector<ConnectRun>& v) {
      std::uint64_t n = 0;
      for (const auto& r : v) {
        n += r.refused + r.failed;
      }
      return n;
    };
    if (refused_or_failed(plain_runs) + refused_or_failed(warm_runs) +
            refused_or_failed(cold_runs) !=
        0) {
      std::cerr << "bench_connect_auth: some CONNECTs of valid units were refused\n";
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_connect_auth: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
