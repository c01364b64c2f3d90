// B2 (performance_anchors.md §5): what the auth plugin costs a Mosquitto broker with a warm
// cache. Unit A publishes 16-byte messages on its Output node `D/<a_out>/pepeunit`; units B1..B10
// receive it through edges into their Inputs (rules fetched from the real backend, Postgres
// fixtures). Scenarios: QoS 0 1→1, QoS 1 1→1, QoS 0 1→10. Each runs on two brokers built from
// the same config, one with the plugin line (allow_anonymous false) and one without
// (allow_anonymous true), interleaved (A B, B A, ...) for `reps` repetitions after a warm-up;
// the clients are the same unit identities on both. Broker pinned to CPU 0, generator (this
// process: MQTT on plain sockets, see bench_mqtt.hpp) to CPU 1; the publisher writes 16 KiB
// batches (QoS 0) or keeps 20 messages in flight (QoS 1). Reported: msg/s and broker CPU µs/msg
// (utime+stime of the broker) with the plugin ÷ without. Delivered counts must be exact; the plugin
// must deny nothing.
//
// Usage: bench_broker_passthrough [reps=7] [qos0_msgs=150000] [qos1_msgs=40000]
//                                  [fanout_msgs=20000]
#include <iostream>

#include "bench/bench_mqtt.hpp"

using pepeunit::bench::field;

namespace {

using namespace pepeunit::bench::mqtt;
using pepeunit::bench::median;

constexpr int kFanout = 10;

/// One broker and the unit clients connected to it.
struct Side {
  std::string name;
  std::unique_ptr<pepeunit::testing::MosquittoServer> broker;
  std::unique_ptr<RawPublisher> publisher;
  std::vector<std::unique_ptr<RawSubscriber>> subscribers;
  std::vector<FlowResult> results;
  pid_t pid() { return broker->process().pid(); }
};

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::stoi(argv[1]) : 7;
  const std::uint64_t qos0_msgs = argc > 2 ? std::stoull(argv[2]) : 150000;
  const std::uint64_t qos1_msgs = argc > 3 ? std::stoull(argv[3]) : 40000;
  const std::uint64_t fanout_msgs = argc > 4 ? std::stoull(argv[4]) : 20000;
  MosquittoLib lib;
  try {
    Fixture fx;
    std::string unit_a;
    std::vector<std::string> units_b;
    std::string a_out;
    {
      pqxx::connection c(fx.stack().pg().url());
      pqxx::work tx(c);
      const auto owner = createOwner(tx, "b2");
      unit_a = createUnits(tx, owner, "b2pub", 1)[0];
      units_b = createUnits(tx, owner, "b2sub", kFanout);
      a_out = createNodes(tx, owner, {unit_a}, "Output")[0];
      for (const auto& input : createNodes(tx, owner, units_b, "Input")) {
        createEdge(tx, owner, a_out, input);
      }
      tx.commit();
    }
    const std::string topic = fx.topic(a_out + "/pepeunit");

    Side plain{"no_plugin", fx.startBroker("b2-plain", fx.plainBroker()), {}, {}, {}};
    Side plugin{"plugin", fx.startBroker("b2-plugin", fx.pluginBroker()), {}, {}, {}};
    std::unique_ptr<PluginCounters> counters;
    for (Side* side : {&plain, &plugin}) {
      pinProcess(side->pid(), 0);
      side->publisher = std::make_unique<RawPublisher>(side->broker->port(), fx.unitToken(unit_a),
                                                       side->name + "-a", 16 * 1024);
      side->publisher->connectOrThrow();
    }
    counters = std::make_unique<PluginCounters>(plugin.broker->port(), fx.backendToken());
    pinSelf(1);

    struct Scenario {
      std::string name;
      int qos;
      int subscribers;
      std::uint64_t messages;
    };
    const Scenario scenarios[] = {{"qos0_1to1", 0, 1, qos0_msgs},
                                  {"qos1_1to1", 1, 1, qos1_msgs},
                                  {"qos0_1to10", 0, kFanout, fanout_msgs}};
    bool exact = true;
    for (const auto& sc : scenarios) {
      // Units B1..Bn connect and subscribe (QoS 1) when a scenario first needs them.
      for (Side* side : {&plain, &plugin}) {
        while (static_cast<int>(side->subscribers.size()) < sc.subscribers) {
          const auto i = side->subscribers.size();
          auto sub = std::make_unique<RawSubscriber>(side->broker->port(), fx.unitToken(units_b[i]),
                                                     side->name + "-b" + std::to_string(i));
          if (sub->connect() != 0) {
            throw std::runtime_error(side->name + ": CONNECT of a subscriber refused");
          }
          if (sub->subscribe({topic}, 1) != std::vector<int>{1}) {
            throw std::runtime_error(side->name + ": subscription refused");
          }
          sub->start();
          side->subscribers.push_back(std::move(sub));
        }
      }
      const auto run = [&](Side& side, std::uint64_t messages) {
        std::vector<Counted*> subs;
        for (int i = 0; i < sc.subscribers; ++i) {
          subs.push_back(side.subscribers[static_cast<std::size_t>(i)].get());
        }
        return runFlow(
            side.pid(), {side.publisher.get()},
            [&](std::uint64_t) { return std::string_view(topic); }, subs, messages, sc.qos);
      };
      for (Side* side : {&plain, &plugin}) {
        side->results.clear();
        const auto warm = run(*side, sc.messages / 5);
        exact = exact && warm.delivered == warm.expected;
      }
      const auto before = counters->fresh();
      for (int r = 0; r < reps; ++r) {
        Side* order[2] = {&plain, &plugin};
        if (r % 2 == 1) {
          std::swap(order[0], order[1]);
        }
        for (Side* side : order) {
          const auto res = run(*side, sc.messages);
          side->results.push_back(res);
          exact = exact && res.delivered == res.expected;
          std::cerr << "bench_broker_passthrough: " << sc.name << " rep " << r << " " << side->name
                    << ": " << res.msgs_per_s << " msg/s, " << res.cpu_us_per_msg
                    << " us/msg, broker " << res.broker_cpu_share << " cores, steal "
                    << res.steal_pct << "%, " << res.delivered << "/" << res.expected << "\n";
        }
      }
      auto delta = counterDelta(before, counters->fresh());
      const auto rate_a = field(plugin.results, &FlowResult::msgs_per_s);
      const auto rate_b = field(plain.results, &FlowResult::msgs_per_s);
      const auto cpu_a = field(plugin.results, &FlowResult::cpu_us_per_msg);
      const auto cpu_b = field(plain.results, &FlowResult::cpu_us_per_msg);
      std::vector<double> steal = field(plugin.results, &FlowResult::steal_pct);
      const auto steal_b = field(plain.results, &FlowResult::steal_pct);
      steal.insert(steal.end(), steal_b.begin(), steal_b.end());
      std::uint64_t delivered = 0;
      std::uint64_t expected = 0;
      for (const auto* side : {&plain, &plugin}) {
        for (const auto& r : side->results) {
          delivered += r.delivered;
          expected += r.expected;
        }
      }
      const std::int64_t denied = delta["acl_denied"];
      exact = exact && denied == 0;
      pepeunit::bench::report(
          "bench_broker_passthrough." + sc.name,
          {{"qos", sc.qos},
           {"subscribers", sc.subscribers},
           {"messages", sc.messages},
           {"payload_bytes", 16},
           {"reps", reps},
           {"pinned", "broker cpu0, generator cpu1"}},
          median(rate_a), 0, "msg/s", median(rate_b),
          {{"plugin_msgs_per_s", summary(rate_a)},
           {"no_plugin_msgs_per_s", summary(rate_b)},
           {"plugin_cpu_us_per_msg", summary(cpu_a)},
           {"no_plugin_cpu_us_per_msg", summary(cpu_b)},
           {"cpu_ratio", median(cpu_b) > 0 ? median(cpu_a) / median(cpu_b) : 0},
           {"plugin_broker_cores", median(field(plugin.results, &FlowResult::broker_cpu_share))},
           {"no_plugin_broker_cores", median(field(plain.results, &FlowResult::broker_cpu_share))},
           {"steal_pct_max", *std::max_element(steal.begin(), steal.end())},
           {"delivered", delivered},
           {"expected", expected},
           {"plugin_acl_allowed", delta["acl_allowed"]},
           {"plugin_acl_denied", denied},
           {"plugin_decision_hits", delta["acl_decision_hits"]},
           {"plugin_decision_misses", delta["acl_decision_misses"]},
           {"plugin_fetches", delta["fetch_l2"] + delta["fetch_backend"]},
           {"exact", delivered == expected && denied == 0}});
    }
    unpinSelf();
    if (!exact) {
      std::cerr << "bench_broker_passthrough: lost messages or denied checks\n";
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_broker_passthrough: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
