// Stall benchmark (issue 6 acceptance, the timing half of authplugin_e2etest's last case): with
// the backend SIGSTOPped (it answers nothing until SIGCONT, ~5 s later) and Redis paused, a warm
// publisher → 10 subscribers keeps its delivery latency: p99 within 20 % of a healthy baseline
// measured in the same run.
//
// Real stack (Postgres, Redis, backend, Mosquitto loading the plugin). Rule sets live 1 s
// (BACKEND_ACL_TTL=1), so the plugin keeps refreshing and its refreshes really hang during the
// stall; plugin options as in production (fetch_timeout_ms 20, stall_budget_ms_per_s 200).
// Unit B publishes its Output b_out (Internal) at a fixed rate, QoS 1; ten units of other worlds
// of the same user subscribe to it, QoS 1. Topic: `D/<b_out>` by default, the unit-to-unit data
// path, which the backend does not subscribe to; `pepeunit` as the 4th argument uses
// `D/<b_out>/pepeunit` instead (as authplugin_e2etest does), which the backend's ingest also
// reads: then the stalled backend is a stalled MQTT subscriber too (the broker buffers for it
// during B) and A pays for the backend's ingest work that B spares the machine. The payload
// carries the send time (steady_clock, same process); each subscriber (libmosquitto, its own
// network thread) records arrival − send. Publishing is paced and a late tick is skipped rather
// than caught up, so latency is measured, not queueing.
//
// Phases, interleaved for `reps` repetitions: A = healthy and warm; B = stalled, measured only
// once the plugin's own fetch_errors counter has moved (refreshes are stuck), drained before the
// resume (SIGCONT + Redis resume), then the next A waits until the plugin loads rules again
// (fetch_l2 + fetch_backend moved). The publisher never stops; messages sent outside a measured
// window carry phase 0 and are ignored.
//
// Scheduling: the broker is pinned to CPU 0 and this process to CPU 1, and both run SCHED_FIFO
// (priority 10; 500 msg/s costs them a few % of a core). On a 2-core box shared with other
// tenants (compilers), CFS wake-up delays of 5–100 ms land at random in either phase and decide
// a 3 s phase's p99 by themselves (1 % of it is 30 ms); FIFO keeps them out, so what is compared
// is the broker and the plugin. `other` as the 6th argument measures under the default scheduler.
// The 5th argument is the stall: `both` (default), `backend`, `redis`, or `none` (an A/A control).
//
// Correctness (exit 1 otherwise): every subscriber receives every measured message exactly once
// per phase (10 × published), no publish error, no subscriber disconnected, plugin kicks 0, and
// no successful rules fetch inside a stall window.
//
// Usage: bench_auth_stall [reps=7] [phase_seconds=3] [rate_per_s=500] [topic=node|pepeunit]
//                         [stall=both|backend|redis|none] [sched=fifo|other]
#include <charconv>
#include <csignal>
#include <iostream>

#include "bench/bench_mqtt.hpp"
#include "integration/harness/acl_world.hpp"
#include "integration/harness/http_client.hpp"

using pepeunit::bench::field;

namespace {

using namespace pepeunit::bench::mqtt;
using pepeunit::bench::median;
using pepeunit::bench::percentile;
using pepeunit::testing::AclWorld;
using pepeunit::testing::Stack;

constexpr int kSubscribers = 10;
constexpr int kQos = 1;
constexpr auto kDeadline = seconds(20);
constexpr int kRtPriority = 10;

std::int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch())
      .count();
}

/// SCHED_FIFO for one thread (0 = the caller); false without the privilege.
bool realtime(pid_t tid, int priority) {
  sched_param param{};
  param.sched_priority = priority;
  return sched_setscheduler(tid, SCHED_FIFO, &param) == 0;
}
/// Every thread of `pid` (the broker; the plugin's I/O runs in its helper process).
bool realtimeProcess(pid_t pid, int priority) {
  bool ok = true;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks)) {
    ok = realtime(static_cast<pid_t>(std::stol(task.path().filename().string())), priority) && ok;
  }
  return ok;
}

/// Brokers drop a connection they kick; any unexpected disconnect of ours is counted here.
std::atomic<int> g_disconnects{0};
void onDisconnect(mosquitto*, void*, int rc) {
  if (rc != 0) {
    ++g_disconnects;
  }
}

/// One subscriber: per measured phase, the latencies and which sequence numbers arrived.
class Recorder {
 public:
  Recorder(int port, const std::string& token, const std::string& id, int phases)
      : latency_ms_(phases),
        sent_ns_(phases),
        seen_(phases),
        unique_(phases),
        duplicates_(phases),
        client_(port, token, id, true) {
    mosquitto_disconnect_callback_set(client_.handle(), &onDisconnect);
    client_.on_message = [this](const mosquitto_message* m) { record(m); };
  }
  Client& client() { return client_; }
  std::uint64_t any() const { return any_.load(); }
  int unique(int phase) {
    std::lock_guard lock(mutex_);
    return unique_[phase];
  }
  int duplicates(int phase) {
    std::lock_guard lock(mutex_);
    return duplicates_[phase];
  }
  std::vector<double> latencies(int phase) {
    std::lock_guard lock(mutex_);
    return latency_ms_[phase];
  }
  std::vector<std::int64_t> sentNs(int phase) {
    std::lock_guard lock(mutex_);
    return sent_ns_[phase];
  }

 private:
  void record(const mosquitto_message* m) {
    const std::int64_t arrived = nowNs();
    any_.fetch_add(1);
    // "<phase> <seq> <send_ns>"
    const char* p = static_cast<const char*>(m->payload);
    const char* end = p + m->payloadlen;
    int phase = 0;
    int seq = 0;
    std::int64_t sent = 0;
    // Each number but the last is followed by one space.
    const auto next = [end](const std::from_chars_result& r) {
      return r.ec == std::errc() && r.ptr < end ? r.ptr + 1 : nullptr;
    };
    const auto r1 = std::from_chars(p, end, phase);
    if (r1.ec != std::errc() || phase <= 0 || phase >= static_cast<int>(seen_.size())) {
      return;  // phase 0: sent outside a measured window
    }
    const char* at = next(r1);
    if (at == nullptr) {
      return;
    }
    at = next(std::from_chars(at, end, seq));
    if (at == nullptr || seq < 0 || std::from_chars(at, end, sent).ec != std::errc()) {
      return;
    }
    std::lock_guard lock(mutex_);
    auto& seen = seen_[phase];
    if (seen.size() <= static_cast<std::size_t>(seq)) {
      seen.resize(static_cast<std::size_t>(seq) + 1024, 0);
    }
    if (seen[seq]) {
      ++duplicates_[phase];
      return;
    }
    seen[seq] = 1;
    ++unique_[phase];
    latency_ms_[phase].push_back(static_cast<double>(arrived - sent) / 1e6);
    sent_ns_[phase].push_back(sent);
  }

  std::atomic<std::uint64_t> any_{0};
  std::mutex mutex_;
  std::vector<std::vector<double>> latency_ms_;
  std::vector<std::vector<std::int64_t>> sent_ns_;
  std::vector<std::vector<std::uint8_t>> seen_;
  std::vector<int> unique_;
  std::vector<int> duplicates_;
  Client client_;  // its network thread uses the members above: destroyed (stopped) first
};

/// Publishes `rate` messages/s on its own thread, stamped with the current phase, a per-phase
/// sequence number and the send time. The phase changes under the same lock as a publish, so once
/// setPhase() returns no message of the old phase is still being sent.
class PacedPublisher {
 public:
  PacedPublisher(Client& client, std::string topic, int rate, int phases)
      : client_(client),
        topic_(std::move(topic)),
        interval_(1'000'000'000LL / rate),
        published_(phases, 0),
        late_(phases, 0) {}
  ~PacedPublisher() { stop(); }

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  void setPhase(int phase) {
    std::lock_guard lock(mutex_);
    phase_ = phase;
  }
  int published(int phase) {
    std::lock_guard lock(mutex_);
    return published_[phase];
  }
  int late(int phase) {
    std::lock_guard lock(mutex_);
    return late_[phase];
  }
  int errors() const { return errors_.load(); }

 private:
  void run() {
    auto next = steady::now();
    char payload[64];
    while (!stop_) {
      next += interval_;
      const auto now = steady::now();
      bool late = false;
      if (now > next + interval_) {  // fell behind (scheduling): skip, never burst
        next = now;
        late = true;
      }
      std::this_thread::sleep_until(next);
      std::lock_guard lock(mutex_);
      late_[phase_] += late ? 1 : 0;
      const int seq = published_[phase_]++;
      const int n = std::snprintf(payload, sizeof payload, "%d %d %lld", phase_, seq,
                                  static_cast<long long>(nowNs()));
      if (!client_.publish(topic_.c_str(), payload, n, kQos)) {
        ++errors_;
      }
    }
  }

  Client& client_;
  std::string topic_;
  std::chrono::nanoseconds interval_;
  std::mutex mutex_;
  int phase_ = 0;
  std::vector<int> published_;
  std::vector<int> late_;
  std::atomic<int> errors_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

/// The stall: the backend stops answering (SIGSTOP: the kernel still accepts its connections)
/// and Redis freezes. Undone on scope exit whatever happens.
class Stall {
 public:
  Stall(Stack& stack, bool backend, bool redis) : stack_(stack), backend_(backend), redis_(redis) {}
  ~Stall() {
    if (on_) {
      try {
        end();
      } catch (...) {
      }
    }
  }
  void begin() {
    if (backend_) {
      stack_.backend().process().signal(SIGSTOP);
    }
    if (redis_) {
      stack_.redis().pause();
    }
    began_ = steady::now();
    on_ = true;
  }
  /// False in the control mode (nothing is stopped).
  bool active() const { return backend_ || redis_; }
  /// Seconds the backend was stopped.
  double end() {
    if (backend_) {
      stack_.backend().process().signal(SIGCONT);
    }
    on_ = false;
    if (redis_) {
      stack_.redis().resume();
    }
    return std::chrono::duration<double>(steady::now() - began_).count();
  }

 private:
  Stack& stack_;
  bool backend_;
  bool redis_;
  bool on_ = false;
  steady::time_point began_;
};

struct PhaseResult {
  bool stalled = false;
  int published = 0;
  int late_ticks = 0;
  long delivered = 0;  // unique (phase, seq) per subscriber, summed
  long duplicates = 0;
  double rate = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  double steal_pct = 0;
  double broker_cpu_ms = 0;
  double cpu_us_per_delivery = 0;  // broker (all threads) CPU in the window ÷ deliveries
  // B only
  double backend_stopped_s = 0;
  double refreshed_after_s = 0;   // resume → the plugin's first successful rules fetch
  std::int64_t fetch_errors = 0;  // during the measured window and drain
  std::int64_t fetch_ok = 0;      // must stay 0: a success would mean the stall was not real
};

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::stoi(argv[1]) : 7;
  const double phase_seconds = argc > 2 ? std::stod(argv[2]) : 3.0;
  const int rate = argc > 3 ? std::stoi(argv[3]) : 500;
  const bool ingest_topic = argc > 4 && std::string(argv[4]) == "pepeunit";
  const std::string mode = argc > 5 ? argv[5] : "both";
  const bool stop_backend = mode == "both" || mode == "backend";
  const bool pause_redis = mode == "both" || mode == "redis";
  const bool use_rt = !(argc > 6 && std::string(argv[6]) == "other");
  const int phases = 2 * reps + 1;  // phase ids 1..2*reps; 0 = not measured
  MosquittoLib lib;
  bool ok = true;
  std::vector<std::string> failures;
  try {
    auto options =
        Stack::Options::withEnv({{"BACKEND_ACL_TTL", "1"}, {"BACKEND_LOG_LEVEL", "warn"}});
    options.plugin_opts = {{"fetch_timeout_ms", "20"}, {"stall_budget_ms_per_s", "200"}};
    // The harness logs every PUBLISH (log_type all); keep everything but debug.
    options.mqtt.extra_config = {"log_type none", "log_type error", "log_type warning",
                                 "log_type notice", "log_type information"};
    Stack stack(std::move(options));
    pepeunit::testing::HttpClient http("127.0.0.1", stack.backend().port());
    const auto users = pepeunit::testing::registerAclUsers(http, "bstall");
    const AclWorld w(stack, users);
    std::vector<AclWorld> readers;  // each reader's unit A sees b_out (Internal, same user)
    readers.reserve(kSubscribers);
    for (int i = 0; i < kSubscribers; ++i) {
      readers.emplace_back(stack, users);
    }
    const std::string topic = stack.domain() + "/" + w.b_out + (ingest_topic ? "/pepeunit" : "");

    pinProcess(stack.mqtt().process().pid(), 0);
    pinSelf(1);  // client threads started from here on inherit it (and the policy below)
    const bool rt = use_rt && realtime(0, kRtPriority) &&
                    realtimeProcess(stack.mqtt().process().pid(), kRtPriority);
    PluginCounters counters(stack.mqtt().port(), stack.backendMqttToken());
    std::vector<std::unique_ptr<Recorder>> subscribers;
    for (int i = 0; i < kSubscribers; ++i) {
      subscribers.push_back(std::make_unique<Recorder>(stack.mqtt().port(),
                                                       stack.unitMqttToken(readers[i].unit_a),
                                                       "stall-sub-" + std::to_string(i), phases));
      subscribers.back()->client().connectOrThrow();
      if (subscribers.back()->client().subscribe(topic, kQos) != kQos) {
        throw std::runtime_error("subscription refused for reader " + std::to_string(i));
      }
    }
    Client publisher_client(stack.mqtt().port(), stack.unitMqttToken(w.unit_b), "stall-pub", true);
    mosquitto_disconnect_callback_set(publisher_client.handle(), &onDisconnect);
    publisher_client.connectOrThrow();
    PacedPublisher publisher(publisher_client, topic, rate, phases);
    publisher.start();
    // Warm: every subscriber has deliveries, and the counters flow.
    if (!pepeunit::testing::pollUntil(
            [&] {
              return std::all_of(subscribers.begin(), subscribers.end(),
                                 [](const auto& s) { return s->any() >= 100; });
            },
            kDeadline)) {
      throw std::runtime_error("subscribers received nothing; broker log:\n" +
                               stack.mqtt().logText());
    }
    counters.fresh();
    const auto kicks_before = counters.latest("kicks");

    std::vector<PhaseResult> base;
    std::vector<PhaseResult> stall;
    Stall stall_ctl(stack, stop_backend, pause_redis);
    const pid_t broker_pid = stack.mqtt().process().pid();
    const auto run_start = steady::now();
    for (int rep = 0; rep < reps; ++rep) {
      for (const bool stalled : {false, true}) {
        const int phase = 2 * rep + (stalled ? 2 : 1);
        PhaseResult r;
        r.stalled = stalled;
        std::uint64_t errors0 = 0;
        std::uint64_t fetched0 = 0;
        if (stalled) {
          stall_ctl.begin();
          // Counted from the first batch published after the stall began (it holds whatever was
          // already in flight), so the errors below are the stall's own.
          counters.fresh();
          errors0 = counters.latest("fetch_errors");
          fetched0 = counters.fetched();
          if (stall_ctl.active() &&
              !counters.waitFor([&] { return counters.latest("fetch_errors") > errors0; },
                                kDeadline)) {
            throw std::runtime_error("no refresh failed during the stall");
          }
        }
        const auto ticks0 = cpuTicks();
        const double cpu0 = processCpuUs(broker_pid);
        const std::int64_t start_ns = nowNs();
        const auto t0 = steady::now();
        publisher.setPhase(phase);
        std::this_thread::sleep_for(std::chrono::duration<double>(phase_seconds));  // the window
        publisher.setPhase(0);
        const double window = std::chrono::duration<double>(steady::now() - t0).count();
        r.steal_pct = stealPercent(ticks0, cpuTicks());
        r.broker_cpu_ms = (processCpuUs(broker_pid) - cpu0) / 1000;
        r.published = publisher.published(phase);
        r.late_ticks = publisher.late(phase);
        r.rate = r.published / window;
        r.cpu_us_per_delivery =
            r.published > 0 ? r.broker_cpu_ms * 1000 / (r.published * kSubscribers) : 0;
        // Drained before any resume: a stall-phase message must arrive during the stall.
        pepeunit::testing::pollUntil(
            [&] {
              return std::all_of(subscribers.begin(), subscribers.end(),
                                 [&](const auto& s) { return s->unique(phase) >= r.published; });
            },
            kDeadline);
        std::vector<double> all;
        std::vector<std::pair<double, double>> worst;  // latency, send offset (ms)
        for (auto& s : subscribers) {
          r.delivered += s->unique(phase);
          r.duplicates += s->duplicates(phase);
          const auto l = s->latencies(phase);
          const auto sent = s->sentNs(phase);
          all.insert(all.end(), l.begin(), l.end());
          for (std::size_t i = 0; i < l.size(); ++i) {
            worst.emplace_back(l[i], static_cast<double>(sent[i] - start_ns) / 1e6);
          }
        }
        std::sort(worst.rbegin(), worst.rend());
        std::cerr << "bench_auth_stall: worst (latency ms @ send offset ms):";
        for (std::size_t i = 0; i < worst.size() && i < 4; ++i) {
          std::cerr << " " << worst[i].first << "@" << worst[i].second;
        }
        std::cerr << "\n";
        r.p50_ms = percentile(all, 50);
        r.p99_ms = percentile(all, 99);
        r.max_ms = all.empty() ? 0 : *std::max_element(all.begin(), all.end());
        if (stalled) {
          r.fetch_errors = static_cast<std::int64_t>(counters.latest("fetch_errors") - errors0);
          r.fetch_ok = static_cast<std::int64_t>(counters.fetched() - fetched0);
          r.backend_stopped_s = stall_ctl.end();
          // Healthy again once the plugin loads rules again. Units whose retries backed off
          // (up to 30 s) refresh later, during A, as they would in production; until then they
          // are served their cached rules, exactly as in B.
          const auto resumed = steady::now();
          const auto fetched1 = counters.fetched();
          if (!counters.waitFor([&] { return counters.fetched() > fetched1; }, kDeadline)) {
            throw std::runtime_error("the plugin did not refresh after the stall");
          }
          r.refreshed_after_s = std::chrono::duration<double>(steady::now() - resumed).count();
        }
        std::cerr << "bench_auth_stall: rep " << rep << (stalled ? " stall   " : " baseline")
                  << " broker cpu " << r.broker_cpu_ms << " ms published " << r.published
                  << " delivered " << r.delivered << " p50 " << r.p50_ms << " ms p99 " << r.p99_ms
                  << " ms max " << r.max_ms << " ms"
                  << (stalled ? " backend stopped " + std::to_string(r.backend_stopped_s) +
                                    " s, fetch errors " + std::to_string(r.fetch_errors) + " ok " +
                                    std::to_string(r.fetch_ok) + ", refreshed " +
                                    std::to_string(r.refreshed_after_s) + " s after the resume"
                              : "")
                  << "\n";
        if (r.delivered != static_cast<long>(kSubscribers) * r.published) {
          failures.push_back("phase " + std::to_string(phase) + ": delivered " +
                             std::to_string(r.delivered) + " of " +
                             std::to_string(kSubscribers * r.published));
        }
        if (r.duplicates != 0) {
          failures.push_back("phase " + std::to_string(phase) + ": duplicates");
        }
        if (stall_ctl.active() && stalled && r.fetch_ok != 0) {
          failures.push_back("phase " + std::to_string(phase) +
                             ": a rules fetch succeeded inside the stall");
        }
        (stalled ? stall : base).push_back(r);
      }
    }
    const double run_seconds = std::chrono::duration<double>(steady::now() - run_start).count();
    publisher.stop();
    counters.fresh();
    const auto kicks = static_cast<std::int64_t>(counters.latest("kicks") - kicks_before);
    const int disconnects = g_disconnects.load();
    if (kicks != 0 || disconnects != 0 || publisher.errors() != 0) {
      failures.push_back("kicks " + std::to_string(kicks) + ", disconnects " +
                         std::to_string(disconnects) + ", publish errors " +
                         std::to_string(publisher.errors()));
    }
    ok = failures.empty();

    const double base_p99 = median(field(base, &PhaseResult::p99_ms));
    const double stall_p99 = median(field(stall, &PhaseResult::p99_ms));
    const double base_p50 = median(field(base, &PhaseResult::p50_ms));
    const double stall_p50 = median(field(stall, &PhaseResult::p50_ms));
    const double ratio = base_p99 > 0 ? stall_p99 / base_p99 : 0;
    std::vector<double> rep_ratios;
    for (int i = 0; i < reps; ++i) {
      rep_ratios.push_back(base[i].p99_ms > 0 ? stall[i].p99_ms / base[i].p99_ms : 0);
    }
    const auto counts = [&](const std::vector<PhaseResult>& v) {
      long published = 0;
      long delivered = 0;
      long duplicates = 0;
      long late_ticks = 0;
      for (const auto& r : v) {
        published += r.published;
        delivered += r.delivered;
        duplicates += r.duplicates;
        late_ticks += r.late_ticks;
      }
      return nlohmann::json{{"published", published},
                            {"expected_deliveries", published * kSubscribers},
                            {"delivered", delivered},
                            {"duplicates", duplicates},
                            {"publisher_late_ticks_skipped", late_ticks}};
    };
    pepeunit::bench::report(
        "bench_auth_stall",
        {{"reps", reps},
         {"phase_seconds", phase_seconds},
         {"rate_per_s", rate},
         {"qos", kQos},
         {"subscribers", kSubscribers},
         {"backend_acl_ttl_s", 1},
         {"fetch_timeout_ms", 20},
         {"stall_budget_ms_per_s", 200},
         {"stall", "backend SIGSTOP + Redis SIGSTOP"},
         {"pinned", "broker cpu0, clients cpu1"},
         {"sched", rt ? "SCHED_FIFO 10: broker and client threads" : "SCHED_OTHER"},
         {"stall_mode", mode}},
        stall_p99, stall_p99, "ms", base_p99,
        {{"metric",
          "delivery latency p99 of a phase (publish → subscriber callback), median "
          "over reps; baseline = healthy phases interleaved with the stalled ones"},
         {"target_ratio", 1.20},
         {"target_met", ratio > 0 && ratio <= 1.20},
         {"stall_p50_ms", summary(field(stall, &PhaseResult::p50_ms))},
         {"stall_p99_ms", summary(field(stall, &PhaseResult::p99_ms))},
         {"baseline_p50_ms", summary(field(base, &PhaseResult::p50_ms))},
         {"baseline_p99_ms", summary(field(base, &PhaseResult::p99_ms))},
         {"p50_ratio", base_p50 > 0 ? stall_p50 / base_p50 : 0},
         {"per_rep_p99_ratio", rep_ratios},
         {"stall_p99_ms_per_rep", field(stall, &PhaseResult::p99_ms)},
         {"baseline_p99_ms_per_rep", field(base, &PhaseResult::p99_ms)},
         {"stall_max_ms_per_rep", field(stall, &PhaseResult::max_ms)},
         {"baseline_max_ms_per_rep", field(base, &PhaseResult::max_ms)},
         {"achieved_rate_per_s", summary(field(stall, &PhaseResult::rate))},
         {"baseline_achieved_rate_per_s", summary(field(base, &PhaseResult::rate))},
         {"backend_stopped_s", summary(field(stall, &PhaseResult::backend_stopped_s))},
         {"refreshed_after_resume_s", summary(field(stall, &PhaseResult::refreshed_after_s))},
         {"broker_cpu_us_per_delivery", summary(field(stall, &PhaseResult::cpu_us_per_delivery))},
         {"baseline_broker_cpu_us_per_delivery",
          summary(field(base, &PhaseResult::cpu_us_per_delivery))},
         {"stall_fetch_errors_per_rep",
          [&] {
            std::vector<std::int64_t> v;
            for (const auto& r : stall) {
              v.push_back(r.fetch_errors);
            }
            return v;
          }()},
         {"steal_pct", summary(field(stall, &PhaseResult::steal_pct))},
         {"baseline_steal_pct", summary(field(base, &PhaseResult::steal_pct))},
         {"stall_counts", counts(stall)},
         {"baseline_counts", counts(base)},
         {"kicks", kicks},
         {"disconnects", disconnects},
         {"publish_errors", publisher.errors()},
         {"run_seconds", run_seconds},
         {"correct", ok}});
    for (const auto& failure : failures) {
      std::cerr << "bench_auth_stall: FAILED: " << failure << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_auth_stall: " << e.what() << "\n";
    return 1;
  }
  return ok ? 0 : 1;
}
