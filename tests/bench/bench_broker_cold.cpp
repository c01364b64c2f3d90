// B4 (performance_anchors.md §5): the auth plugin when its memory does not have the answer.
// The plugin never fetches on an ACL check (a check without rules is denied and the fetch goes
// to a worker); the only synchronous miss is a CONNECT of a principal it holds no rules for. So:
//   (i) decision miss: every check misses the decision LRU and is answered by evaluating the
//       cached rules. Unit A publishes QoS 0 on a new base topic per message
//       (`D/output_base_topic/A/n<i>/pepeunit`); a backend-identity subscriber holds
//       `D/+/+/+/pepeunit` (its READ check misses too). Against the no-plugin broker (same
//       topics) and the plugin broker on one repeated topic (warm, as B2). msg/s and broker
//       CPU µs/msg.
//   (ii) principal miss: sequential CONNECTs (MQTT on a plain TCP_NODELAY socket, unit JWT as
//       username) of units the broker has never seen, (a) on a broker whose Redis (L2) already
//       holds their rule sets (written beforehand through the plugin's own fetch code,
//       resolveRules: backend HTTP → write-through), (b) on a broker without L2 (every load is a
//       backend HTTP call → Postgres). Then the same units again (warm). Loads/s and CONNECT
//       latency p50/p99; the single-miss cost is estimated as cold − warm. The plugin's
//       fetch_l2/fetch_backend counters must show where every load came from.
// Interleaved repetitions; the brokers pinned to CPU 0, this process to CPU 1.
//
// Usage: bench_broker_cold [reps=7] [messages=100000] [loads_per_rep=200]
#include <iostream>

#include "authplugin/fetcher.hpp"
#include "bench/bench_mqtt.hpp"
#include "cache/redis/redis_client.hpp"

using pepeunit::bench::field;

namespace {

using namespace pepeunit::bench::mqtt;
using pepeunit::bench::median;

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::stoi(argv[1]) : 7;
  const std::uint64_t messages = argc > 2 ? std::stoull(argv[2]) : 100000;
  const int loads_per_rep = argc > 3 ? std::stoi(argv[3]) : 200;
  MosquittoLib lib;
  try {
    Fixture fx;
    std::string unit_a;
    std::vector<std::string> units;
    {
      pqxx::connection c(fx.stack().pg().url());
      pqxx::work tx(c);
      const auto owner = createOwner(tx, "b4");
      unit_a = createUnits(tx, owner, "b4pub", 1)[0];
      units = createUnits(tx, owner, "b4load", reps * loads_per_rep);
      createNodes(tx, owner, units, "Output");
      createNodes(tx, owner, units, "Input");
      tx.commit();
    }

    // ---- (i) decision misses ---------------------------------------------------------------
    auto plain = fx.startBroker("b4-plain", fx.plainBroker());
    auto plugin = fx.startBroker("b4-plugin", fx.pluginBroker());
    PluginCounters plugin_counters(plugin->port(), fx.backendToken());
    // One publisher (unit A) and one backend-identity subscriber per broker; the two plugin
    // flows share the plugin broker's pair (a second subscriber would double the deliveries).
    struct Pair {
      pepeunit::testing::MosquittoServer* broker;
      std::unique_ptr<RawPublisher> publisher;
      std::unique_ptr<RawSubscriber> backend;
    };
    std::vector<Pair> pairs;
    for (auto* broker : {plain.get(), plugin.get()}) {
      pinProcess(broker->process().pid(), 0);
      Pair pair{broker, nullptr, nullptr};
      const std::string name = broker == plain.get() ? "plain" : "plugin";
      pair.backend =
          std::make_unique<RawSubscriber>(broker->port(), fx.backendToken(), name + "-backend");
      if (pair.backend->connect() != 0 ||
          pair.backend->subscribe({fx.topic("+/+/+/pepeunit")}, 0) != std::vector<int>{0}) {
        throw std::runtime_error(name + ": the backend identity was refused");
      }
      pair.backend->start();
      pair.publisher = std::make_unique<RawPublisher>(broker->port(), fx.unitToken(unit_a),
                                                      name + "-a", 16 * 1024);
      pair.publisher->connectOrThrow();
      pairs.push_back(std::move(pair));
    }
    struct Side {
      std::string name;
      Pair* pair;
      bool unique_topics;
      std::vector<FlowResult> results;
    };
    std::vector<Side> sides = {{"no_plugin_unique", &pairs[0], true, {}},
                               {"plugin_unique", &pairs[1], true, {}},
                               {"plugin_warm", &pairs[1], false, {}}};
    std::vector<std::string> unique;
    unique.reserve(messages);
    for (std::uint64_t i = 0; i < messages; ++i) {
      unique.push_back(
          fx.topic("output_base_topic/" + unit_a + "/n" + std::to_string(i) + "/pepeunit"));
    }
    const std::string constant = fx.topic("output_base_topic/" + unit_a + "/state/pepeunit");
    pinSelf(1);
    const auto run = [&](Side& side, std::uint64_t count) {
      return runFlow(
          side.pair->broker->process().pid(), {side.pair->publisher.get()},
          [&](std::uint64_t i) {
            return side.unique_topics ? std::string_view(unique[i % unique.size()])
                                      : std::string_view(constant);
          },
          {side.pair->backend.get()}, count, 0);
    };
    bool ok = true;
    for (auto& side : sides) {
      const auto warm = run(side, messages / 5);
      ok = ok && warm.delivered == warm.expected;
    }
    const auto before = plugin_counters.fresh();
    for (int r = 0; r < reps; ++r) {
      for (std::size_t k = 0; k < sides.size(); ++k) {
        Side& side = sides[(k + static_cast<std::size_t>(r)) % sides.size()];
        const auto res = run(side, messages);
        side.results.push_back(res);
        ok = ok && res.delivered == res.expected;
        std::cerr << "bench_broker_cold: rep " << r << " " << side.name << ": " << res.msgs_per_s
                  << " msg/s, " << res.cpu_us_per_msg << " us/msg, broker " << res.broker_cpu_share
                  << " cores, " << res.delivered << "/" << res.expected << "\n";
      }
    }
    auto delta = counterDelta(before, plugin_counters.fresh());
    unpinSelf();
    {
      const auto& none = sides[0].results;
      const auto& miss = sides[1].results;
      const auto& warm = sides[2].results;
      const auto rate = [&](const std::vector<FlowResult>& v) {
        return median(field(v, &FlowResult::msgs_per_s));
      };
      const auto cpu = [&](const std::vector<FlowResult>& v) {
        return median(field(v, &FlowResult::cpu_us_per_msg));
      };
      const std::int64_t lru = delta["acl_decision_hits"] + delta["acl_decision_misses"];
      const bool denied_none = delta["acl_denied"] == 0;
      ok = ok && denied_none;
      pepeunit::bench::report(
          "bench_broker_cold.decision_miss",
          {{"messages", messages},
           {"qos", 0},
           {"reps", reps},
           {"topics", "a new base topic per message; subscriber D/+/+/+/pepeunit"},
           {"pinned", "broker cpu0, generator cpu1"}},
          rate(miss), 0, "msg/s", rate(none),
          {{"plugin_unique_msgs_per_s", summary(field(miss, &FlowResult::msgs_per_s))},
           {"no_plugin_unique_msgs_per_s", summary(field(none, &FlowResult::msgs_per_s))},
           {"plugin_warm_msgs_per_s", summary(field(warm, &FlowResult::msgs_per_s))},
           {"plugin_unique_cpu_us_per_msg", summary(field(miss, &FlowResult::cpu_us_per_msg))},
           {"no_plugin_unique_cpu_us_per_msg", summary(field(none, &FlowResult::cpu_us_per_msg))},
           {"plugin_warm_cpu_us_per_msg", summary(field(warm, &FlowResult::cpu_us_per_msg))},
           {"cpu_ratio_vs_no_plugin", cpu(none) > 0 ? cpu(miss) / cpu(none) : 0},
           {"ratio_vs_warm", rate(warm) > 0 ? rate(miss) / rate(warm) : 0},
           {"cpu_ratio_vs_warm", cpu(warm) > 0 ? cpu(miss) / cpu(warm) : 0},
           {"decision_checks_per_s", 2 * rate(miss)},
           {"plugin_decision_hits", delta["acl_decision_hits"]},
           {"plugin_decision_misses", delta["acl_decision_misses"]},
           {"plugin_decision_miss_ratio",
            lru > 0 ? static_cast<double>(delta["acl_decision_misses"]) / static_cast<double>(lru)
                    : 0},
           {"plugin_acl_denied", delta["acl_denied"]},
           {"exact", ok}});
    }
    sides.clear();
    pairs.clear();
    plain.reset();
    plugin.reset();

    // ---- (ii) principal misses: L2 vs backend ------------------------------------------------
    // Fill L2 through the plugin's own fetch path (backend HTTP, then write-through), timing
    // each call from here (no broker in between).
    std::vector<double> direct_us;
    {
      const auto url = pepeunit::cache::redis::parseRedisUrl(fx.stack().redis().url());
      auto l2 = pepeunit::authplugin::makeRedisL2Store(*url, milliseconds(1000));
      auto backend = pepeunit::authplugin::makeHttpBackendApi(
          {"http://127.0.0.1:" + std::to_string(fx.stack().backend().port()),
           fx.pluginToken(),
           {},
           milliseconds(1000),
           milliseconds(5000)});
      pepeunit::authplugin::CircuitBreaker breaker;
      for (const auto& unit : units) {
        const auto t0 = steady::now();
        const auto result = pepeunit::authplugin::resolveRules({"unit:" + unit, 0, true}, l2.get(),
                                                               *backend, breaker, {});
        direct_us.push_back(std::chrono::duration<double, std::micro>(steady::now() - t0).count());
        if (result.status != pepeunit::authplugin::FetchStatus::kRules) {
          throw std::runtime_error("priming L2 failed: " + result.error);
        }
      }
    }
    auto with_l2 = fx.startBroker("b4-l2", fx.pluginBroker({{"stall_budget_ms_per_s", "1000"}}));
    auto without_l2 = fx.startBroker(
        "b4-http", fx.pluginBroker({{"stall_budget_ms_per_s", "1000"}}, /*with_redis=*/false));
    PluginCounters l2_counters(with_l2->port(), fx.backendToken());
    PluginCounters http_counters(without_l2->port(), fx.backendToken());
    pinProcess(with_l2->process().pid(), 0);
    pinProcess(without_l2->process().pid(), 0);
    std::vector<std::string> packets;
    for (std::size_t i = 0; i < units.size(); ++i) {
      packets.push_back(connectPacket("b4-" + std::to_string(i), fx.unitToken(units[i]), 60));
    }
    pinSelf(1);
    const auto l2_before = l2_counters.fresh();
    const auto http_before = http_counters.fresh();
    std::vector<ConnectRun> l2_cold, l2_warm, http_cold, http_warm;
    for (int r = 0; r < reps; ++r) {
      const auto first = static_cast<std::size_t>(r * loads_per_rep);
      const auto n = static_cast<std::size_t>(loads_per_rep);
      const auto pass = [&](pepeunit::testing::MosquittoServer& broker,
                            std::vector<ConnectRun>& cold, std::vector<ConnectRun>& warm) {
        cold.push_back(connectLoop(broker.port(), broker.process().pid(), packets, first, 0, n));
        warm.push_back(connectLoop(broker.port(), broker.process().pid(), packets, first, 0, n));
      };
      if (r % 2 == 0) {
        pass(*with_l2, l2_cold, l2_warm);
        pass(*without_l2, http_cold, http_warm);
      } else {
        pass(*without_l2, http_cold, http_warm);
        pass(*with_l2, l2_cold, l2_warm);
      }
      std::cerr << "bench_broker_cold: rep " << r << ": L2 cold " << l2_cold.back().per_s
                << " loads/s p50 " << l2_cold.back().p50_us << " us p99 " << l2_cold.back().p99_us
                << " us (warm p50 " << l2_warm.back().p50_us << "); HTTP cold "
                << http_cold.back().per_s << " loads/s p50 " << http_cold.back().p50_us
                << " us p99 " << http_cold.back().p99_us << " us (warm p50 "
                << http_warm.back().p50_us << ")\n";
    }
    auto l2_delta = counterDelta(l2_before, l2_counters.fresh());
    auto http_delta = counterDelta(http_before, http_counters.fresh());
    unpinSelf();
    const auto refusals = [](const std::vector<ConnectRun>& v) {
      std::uint64_t n = 0;
      for (const auto& r : v) {
        n += r.refused + r.failed;
      }
      return n;
    };
    const std::int64_t loads = static_cast<std::int64_t>(reps) * loads_per_rep;
    const bool l2_ok = refusals(l2_cold) + refusals(l2_warm) == 0 &&
                       l2_delta["fetch_l2"] == loads && l2_delta["fetch_backend"] == 0;
    const bool http_ok = refusals(http_cold) + refusals(http_warm) == 0 &&
                         http_delta["fetch_backend"] == loads && http_delta["fetch_l2"] == 0;
    const auto principal_report = [&](const std::string& name, const std::vector<ConnectRun>& cold,
                                      const std::vector<ConnectRun>& warm,
                                      std::map<std::string, std::int64_t>& d, bool exact) {
      const double cold50 = median(field(cold, &ConnectRun::p50_us));
      const double cold99 = median(field(cold, &ConnectRun::p99_us));
      const double warm50 = median(field(warm, &ConnectRun::p50_us));
      const double warm99 = median(field(warm, &ConnectRun::p99_us));
      pepeunit::bench::report(
          "bench_broker_cold." + name,
          {{"reps", reps},
           {"loads_per_rep", loads_per_rep},
           {"sequential", true},
           {"pinned", "broker cpu0, generator cpu1"}},
          median(field(cold, &ConnectRun::per_s)), cold99, "loads/s",
          median(field(warm, &ConnectRun::per_s)),
          {{"baseline_name", "the same CONNECTs again, rules in memory (warm)"},
           {"cold_loads_per_s", summary(field(cold, &ConnectRun::per_s))},
           {"cold_p50_us", summary(field(cold, &ConnectRun::p50_us))},
           {"cold_p99_us", summary(field(cold, &ConnectRun::p99_us))},
           {"warm_p50_us", warm50},
           {"warm_p99_us", warm99},
           {"single_miss_p50_us", cold50 - warm50},
           {"single_miss_p99_us", cold99 - warm99},
           {"cold_cpu_us_per_conn", summary(field(cold, &ConnectRun::cpu_us_per_conn))},
           {"warm_cpu_us_per_conn", summary(field(warm, &ConnectRun::cpu_us_per_conn))},
           {"direct_resolve_http_p50_us", pepeunit::bench::percentile(direct_us, 50)},
           {"direct_resolve_http_p99_us", pepeunit::bench::percentile(direct_us, 99)},
           {"plugin_fetch_l2", d["fetch_l2"]},
           {"plugin_fetch_backend", d["fetch_backend"]},
           {"plugin_connect_wait_timeouts", d["connect_wait_timeouts"]},
           {"refused_or_failed", refusals(cold) + refusals(warm)},
           {"exact", exact}});
    };
    principal_report("principal_miss_l2", l2_cold, l2_warm, l2_delta, l2_ok);
    principal_report("principal_miss_http", http_cold, http_warm, http_delta, http_ok);
    if (!ok || !l2_ok || !http_ok) {
      std::cerr << "bench_broker_cold: lost messages, denied checks, refused CONNECTs or loads "
                   "from the wrong source\n";
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_broker_cold: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
