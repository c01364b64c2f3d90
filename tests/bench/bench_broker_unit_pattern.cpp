// B3 (performance_anchors.md §5): the Pepeunit traffic shape. 1,000 distinct units (real
// principals, rules from the real backend) each publish 16-byte values on their own Output node
// `D/<node>/pepeunit` (protocol §5.2: node value topics are `<domain>/<node_uuid>/pepeunit`);
// one backend-like subscriber, connected with the backend's MQTT token, holds
// `D/+/pepeunit` and `D/+/+/+/pepeunit`. Each message costs the plugin one PUBLISH check (the
// unit) and one READ check (the backend identity). Two brokers from the same config, with and
// without the plugin, interleaved for `reps` repetitions after a warm-up; the same 1,000 unit
// identities connect to both, and to two more brokers loading a no-op plugin (the same four
// events, everything allowed): alone, it is what the broker pays for dispatching to any plugin;
// with one idle thread, what any plugin that owns a thread costs on top (glibc's multi-threaded
// malloc and cancellation paths); what pepeunit_auth.so costs beyond that is its own. Each unit
// writes each message with its own send() (plain-socket MQTT, see bench_mqtt.hpp). Reported: msg/s
// and broker CPU µs/msg ratios, exact delivery, zero denials, and from the plugin's own
// $SYS/pepeunit/auth counters the share of checks answered from memory (no fetch) and the
// decision-LRU hit ratio.
//
// Usage: bench_broker_unit_pattern [reps=7] [messages=200000] [units=1000]
#include <iostream>

#include "bench/bench_mqtt.hpp"

using pepeunit::bench::field;

namespace {

using namespace pepeunit::bench::mqtt;
using pepeunit::bench::median;

struct Side {
  Side(std::string side_name, std::unique_ptr<pepeunit::testing::MosquittoServer> server)
      : name(std::move(side_name)), broker(std::move(server)) {}
  std::string name;
  std::unique_ptr<pepeunit::testing::MosquittoServer> broker;
  std::unique_ptr<PluginCounters> counters;  // plugin sides only
  std::vector<std::unique_ptr<RawPublisher>> units;
  std::vector<RawPublisher*> publishers;
  std::unique_ptr<RawSubscriber> backend;
  std::vector<FlowResult> results;
  std::map<std::string, std::int64_t> delta;
  pid_t pid() { return broker->process().pid(); }
};

/// The plugin's view of the measured runs: checks, denials, memory and decision-LRU hit ratios.
nlohmann::json pluginView(Side& side) {
  auto& d = side.delta;
  const std::int64_t checks = d["acl_allowed"] + d["acl_denied"];
  const std::int64_t not_from_memory = d["acl_cold_denied"] + d["acl_expired_denied"];
  const std::int64_t lru = d["acl_decision_hits"] + d["acl_decision_misses"];
  return {{"acl_checks", checks},
          {"acl_denied", d["acl_denied"]},
          {"checks_from_memory_ratio",
           checks > 0 ? static_cast<double>(checks - not_from_memory) / static_cast<double>(checks)
                      : 0},
          {"decision_hits", d["acl_decision_hits"]},
          {"decision_misses", d["acl_decision_misses"]},
          {"decision_lru_hit_ratio",
           lru > 0 ? static_cast<double>(d["acl_decision_hits"]) / static_cast<double>(lru) : 0},
          {"fetches", d["fetch_l2"] + d["fetch_backend"]}};
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::stoi(argv[1]) : 7;
  const std::uint64_t messages = argc > 2 ? std::stoull(argv[2]) : 200000;
  const int unit_count = argc > 3 ? std::stoi(argv[3]) : 1000;
  MosquittoLib lib;
  try {
    Fixture fx;
    std::vector<std::string> units;
    std::vector<std::string> topics;
    {
      pqxx::connection c(fx.stack().pg().url());
      pqxx::work tx(c);
      const auto owner = createOwner(tx, "b3");
      units = createUnits(tx, owner, "b3unit", unit_count);
      for (const auto& node : createNodes(tx, owner, units, "Output")) {
        topics.push_back(fx.topic(node + "/pepeunit"));
      }
      tx.commit();
    }
    const std::vector<std::string> filters = {fx.topic("+/pepeunit"), fx.topic("+/+/+/pepeunit")};

    Side plain{"no_plugin", fx.startBroker("b3-plain", fx.plainBroker())};
    Side plugin{"plugin", fx.startBroker("b3-plugin", fx.pluginBroker())};
    auto noop_options = fx.plainBroker();
    noop_options.allow_anonymous = false;
    noop_options.plugin = PEPEUNIT_NOOP_PLUGIN_PATH;
    Side noop{"noop_plugin", fx.startBroker("b3-noop", noop_options)};
    noop_options.plugin_opts = {{"idle_thread", "true"}};
    Side noop_thread{"noop_plugin_idle_thread", fx.startBroker("b3-noop-thread", noop_options)};
    std::vector<Side*> sides = {&plain, &plugin, &noop, &noop_thread};
    // Before the units: libmosquitto's network thread select()s, so its socket must stay below
    // FD_SETSIZE (1,000 units per broker open more).
    plugin.counters = std::make_unique<PluginCounters>(plugin.broker->port(), fx.backendToken());
    const auto setup_start = steady::now();
    for (Side* side : sides) {
      pinProcess(side->pid(), 0);
      side->backend = std::make_unique<RawSubscriber>(side->broker->port(), fx.backendToken(),
                                                      side->name + "-backend");
      if (side->backend->connect() != 0) {
        throw std::runtime_error(side->name + ": the backend identity was refused");
      }
      if (side->backend->subscribe(filters, 0) != std::vector<int>{0, 0}) {
        throw std::runtime_error(side->name + ": the backend's subscriptions were refused");
      }
      side->backend->start();
      for (int i = 0; i < unit_count; ++i) {
        // Each unit sends its messages in writes of up to 3 (~75 bytes each).
        side->units.push_back(std::make_unique<RawPublisher>(
            side->broker->port(), fx.unitToken(units[static_cast<std::size_t>(i)]),
            side->name + "-u" + std::to_string(i), 200));
        try {
          side->units.back()->connectOrThrow();
        } catch (const std::exception& e) {
          throw std::runtime_error(side->name + " unit " + std::to_string(i) + ": " + e.what());
        }
        side->publishers.push_back(side->units.back().get());
      }
    }
    const double setup_s = std::chrono::duration<double>(steady::now() - setup_start).count();
    pinSelf(1);

    const auto topic = [&](std::uint64_t i) { return std::string_view(topics[i % topics.size()]); };
    const auto run = [&](Side& side, std::uint64_t count) {
      return runFlow(side.pid(), side.publishers, topic, {side.backend.get()}, count, 0, 20000);
    };
    bool exact = true;
    for (Side* side : sides) {
      const auto warm = run(*side, static_cast<std::uint64_t>(unit_count) * 20);
      exact = exact && warm.delivered == warm.expected;
    }
    const auto counters_before = plugin.counters->fresh();
    for (int r = 0; r < reps; ++r) {
      // Rotate the order so no side always runs first.
      for (std::size_t k = 0; k < sides.size(); ++k) {
        Side& side = *sides[(k + static_cast<std::size_t>(r)) % sides.size()];
        const auto res = run(side, messages);
        side.results.push_back(res);
        exact = exact && res.delivered == res.expected;
        std::cerr << "bench_broker_unit_pattern: rep " << r << " " << side.name << ": "
                  << res.msgs_per_s << " msg/s, " << res.cpu_us_per_msg << " us/msg, broker "
                  << res.broker_cpu_share << " cores, steal " << res.steal_pct << "%, "
                  << res.delivered << "/" << res.expected << "\n";
      }
    }
    plugin.delta = counterDelta(counters_before, plugin.counters->fresh());
    unpinSelf();

    std::vector<double> steal;
    std::uint64_t delivered = 0;
    std::uint64_t expected = 0;
    for (Side* side : sides) {
      for (const auto& r : side->results) {
        steal.push_back(r.steal_pct);
        delivered += r.delivered;
        expected += r.expected;
      }
    }
    const auto rate_b = field(plain.results, &FlowResult::msgs_per_s);
    const auto cpu_b = field(plain.results, &FlowResult::cpu_us_per_msg);
    bool ok = exact && delivered == expected;
    const auto rate_noop = field(noop_thread.results, &FlowResult::msgs_per_s);
    const auto cpu_noop = field(noop_thread.results, &FlowResult::cpu_us_per_msg);
    for (Side* side : {&plugin, &noop, &noop_thread}) {
      const auto rate_a = field(side->results, &FlowResult::msgs_per_s);
      const auto cpu_a = field(side->results, &FlowResult::cpu_us_per_msg);
      nlohmann::json extra = {
          {"plugin_msgs_per_s", summary(rate_a)},
          {"no_plugin_msgs_per_s", summary(rate_b)},
          {"plugin_cpu_us_per_msg", summary(cpu_a)},
          {"no_plugin_cpu_us_per_msg", summary(cpu_b)},
          {"cpu_ratio", median(cpu_b) > 0 ? median(cpu_a) / median(cpu_b) : 0},
          {"plugin_broker_cores", median(field(side->results, &FlowResult::broker_cpu_share))},
          {"no_plugin_broker_cores", median(field(plain.results, &FlowResult::broker_cpu_share))},
          {"steal_pct_max", *std::max_element(steal.begin(), steal.end())},
          {"delivered_all_sides", delivered},
          {"expected_all_sides", expected},
          {"setup_connect_s", setup_s}};
      if (side == &plugin) {
        const auto view = pluginView(plugin);
        ok = ok && view["acl_denied"] == 0;
        extra["plugin"] = view;
        extra["noop_plugin_idle_thread_msgs_per_s"] = median(rate_noop);
        extra["ratio_vs_noop_plugin_idle_thread"] = median(rate_a) / median(rate_noop);
        extra["cpu_ratio_vs_noop_plugin_idle_thread"] = median(cpu_a) / median(cpu_noop);
      }
      extra["exact"] = ok;
      pepeunit::bench::report("bench_broker_unit_pattern." + side->name,
                              {{"units", unit_count},
                               {"messages", messages},
                               {"payload_bytes", 16},
                               {"qos", 0},
                               {"reps", reps},
                               {"subscriber", "backend identity: D/+/pepeunit, D/+/+/+/pepeunit"},
                               {"plugin", side == &plugin ? "pepeunit_auth.so, default options"
                                          : side == &noop ? "no-op"
                                                          : "no-op with one idle thread"},
                               {"pinned", "broker cpu0, generator cpu1"}},
                              median(rate_a), 0, "msg/s", median(rate_b), extra);
    }
    if (!ok) {
      std::cerr << "bench_broker_unit_pattern: lost messages or denied checks\n";
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_broker_unit_pattern: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
