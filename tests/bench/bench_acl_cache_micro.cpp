// B1 (performance_anchors.md §5): the auth plugin's in-process decision path, without a broker.
// What the broker thread pays per ACL check when the answer is in memory, next to the floor a
// plain hash lookup sets on the same keys:
//   - l1_hit: Authorizer::aclCheck (session by connection, then the principal's decision LRU),
//     the exact call plugin.cpp makes per check; ratio ÷ unordered_map<std::string>::find on the
//     same (username, topic) pairs as prebuilt composite keys;
//   - l1_lru: RuleCache::check on the principal entry (the decision LRU alone) ÷ find on the
//     topic keys;
//   - l1_rule_eval: a decision-LRU miss (a new topic each time): rules evaluated, answer kept;
//   - l2_stub: a principal miss served by a stubbed L2 (resolveRules: key hash + GET from an
//     in-memory map + JSON parse), and the broker-thread install (RuleIndex build) after it;
//   - key construction: what a flat (username+topic) cache would build per check, and the
//     SHA-256 principal hash of the L2 key.
// Per-op p50/p99 come from rdtsc around every call (calibrated against steady_clock, the empty
// timing subtracted); decisions/s from untimed loops. 1 thread is the real case (the L1 belongs
// to the broker thread); 2 threads run two independent caches, one per core.
#include <x86intrin.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "authplugin/authorizer.hpp"
#include "authplugin/fetcher.hpp"
#include "authplugin/invalidator.hpp"
#include "authplugin/principal.hpp"
#include "authplugin/rule_cache.hpp"
#include "bench/bench_common.hpp"
#include "crypto/jwt.hpp"
#include "domain/acl_rules.hpp"

namespace {

using pepeunit::authplugin::Authorizer;
using pepeunit::authplugin::FetchRequest;
using pepeunit::authplugin::FetchResult;
using pepeunit::authplugin::FetchSource;
using pepeunit::authplugin::FetchStatus;
using pepeunit::domain::AclAction;
using pepeunit::domain::AclRule;
using pepeunit::domain::actionBit;
using pepeunit::domain::RuleSet;
using steady = std::chrono::steady_clock;

constexpr const char* kDomain = "bench.example.com";
constexpr const char* kSecret = "bench-secret-key";
constexpr int kPrincipals = 1000;
constexpr int kTimedOps = 500'000;
constexpr int kThroughputOps = 2'000'000;

template <class T>
inline void keep(const T& value) {
  asm volatile("" : : "g"(&value) : "memory");
}

inline std::uint64_t ticks() {
  _mm_lfence();
  const std::uint64_t t = __rdtsc();
  _mm_lfence();
  return t;
}

double ticksPerNs() {
  const auto t0 = steady::now();
  const std::uint64_t c0 = ticks();
  while (steady::now() - t0 < std::chrono::milliseconds(200)) {
  }
  const std::uint64_t c1 = ticks();
  const double ns = std::chrono::duration<double, std::nano>(steady::now() - t0).count();
  return static_cast<double>(c1 - c0) / ns;
}

std::string uuidOf(int kind, int i) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%08x-0000-4000-8000-%012x", kind, i);
  return buffer;
}

std::string d(const std::string& rest) {
  return std::string(kDomain) + "/" + rest;
}

/// A typical unit's fetched rule set: 2 own nodes (an Output and an Input), 2 linked outputs,
/// 4 visible foreign nodes; each node as `D/N` and `D/N/pepeunit` (as the backend builds it).
RuleSet unitRules(int i) {
  constexpr std::uint8_t kPub = actionBit(AclAction::kPublish);
  constexpr std::uint8_t kRecv = actionBit(AclAction::kSubscribe) | actionBit(AclAction::kRead);
  RuleSet rules;
  rules.version = 1;
  rules.ttl_s = 3600;
  rules.stale_ttl_s = 7200;
  const auto node = [&](const std::string& uuid, std::uint8_t mask) {
    rules.rules.push_back(AclRule{true, mask, d(uuid)});
    rules.rules.push_back(AclRule{true, mask, d(uuid + "/pepeunit")});
  };
  node(uuidOf(0x10, i), kPub | kRecv);               // own Output
  node(uuidOf(0x11, i), kRecv);                      // own Input
  node(uuidOf(0x10, (i + 1) % kPrincipals), kRecv);  // linked outputs
  node(uuidOf(0x10, (i + 2) % kPrincipals), kRecv);
  for (int v = 0; v < 4; ++v) {
    node(uuidOf(0x20 + v, i), kRecv);  // visible foreign nodes
  }
  return rules;
}

/// Answers every fetch at once with unitRules(): the CONNECT-time load of the setup phase.
class InstantSource : public pepeunit::authplugin::RuleSource {
 public:
  bool request(const FetchRequest& request) override {
    last_ = request.principal;
    return true;
  }
  std::optional<FetchResult> waitFor(const std::string& key, std::chrono::milliseconds) override {
    FetchResult result;
    result.principal = key;  // only rule sets are fetched here: the key is the principal
    result.status = FetchStatus::kRules;
    result.source = FetchSource::kBackend;
    const int i = std::stoi(key.substr(key.size() - 12), nullptr, 16);
    result.rules = std::make_shared<const RuleSet>(unitRules(i));
    return result;
  }
  std::vector<FetchResult> drain() override { return {}; }

 private:
  std::string last_;
};

struct Check {
  const void* client;  // the connection identity basicAuth was given
  const char* username;
  AclAction action;
  const std::string* topic;
  const std::string* composite;  // username + '\n' + topic, for the baseline
};

/// One broker thread's worth of state: an Authorizer with kPrincipals connected units and the
/// (username, action, topic) triples they check, in a shuffled order.
struct World {
  InstantSource source;
  pepeunit::authplugin::EventQueue events;
  std::unique_ptr<Authorizer> authorizer;
  std::vector<std::string> usernames;
  std::vector<std::string> topics;
  std::vector<std::string> composites;
  std::vector<Check> checks;         // distinct triples
  std::vector<std::uint32_t> order;  // indices into checks
  std::unordered_map<std::string, bool> raw_composite;
  std::unordered_map<std::string, bool> raw_topic;

  explicit World(std::uint32_t seed) {
    pepeunit::authplugin::PluginOptions options;
    options.domain = kDomain;
    options.metrics_interval_s = 0;
    authorizer = std::make_unique<Authorizer>(options, kSecret, source, events);
    usernames.reserve(kPrincipals);
    topics.reserve(kPrincipals * 4);
    composites.reserve(kPrincipals * 4);
    std::vector<AclAction> actions;
    for (int i = 0; i < kPrincipals; ++i) {
      nlohmann::ordered_json claims;
      claims["uuid"] = uuidOf(0x0a, i);
      claims["type"] = "Unit";
      usernames.push_back(pepeunit::crypto::signJwt(claims, kSecret));
      if (!authorizer->basicAuth(&usernames.back(), usernames.back().c_str(), "")) {
        throw std::runtime_error("setup: CONNECT refused");
      }
      // What a unit does per message: publish its Output and its state, receive its Input and
      // a linked Output.
      const std::pair<AclAction, std::string> mine[] = {
          {AclAction::kPublish, d(uuidOf(0x10, i) + "/pepeunit")},
          {AclAction::kPublish, d("output_base_topic/" + uuidOf(0x0a, i) + "/state/pepeunit")},
          {AclAction::kRead, d(uuidOf(0x11, i) + "/pepeunit")},
          {AclAction::kRead, d(uuidOf(0x10, (i + 1) % kPrincipals) + "/pepeunit")},
      };
      for (const auto& [action, topic] : mine) {
        topics.push_back(topic);
        composites.push_back(usernames.back() + "\n" + topic);
        actions.push_back(action);
      }
    }
    for (std::size_t k = 0; k < topics.size(); ++k) {
      checks.push_back(Check{&usernames[k / 4], usernames[k / 4].c_str(), actions[k], &topics[k],
                             &composites[k]});
      raw_composite.emplace(composites[k], true);
      raw_topic.emplace(topics[k], true);
    }
    std::mt19937 rng(seed);
    std::uniform_int_distribution<std::uint32_t> pick(
        0, static_cast<std::uint32_t>(checks.size() - 1));
    order.resize(kThroughputOps);
    for (auto& index : order) {
      index = pick(rng);
    }
    // Warm: every triple answered once (the decision LRU holds them all).
    for (const auto& check : checks) {
      if (!authorizer->aclCheck(check.client, check.username, check.action, *check.topic)) {
        throw std::runtime_error("setup: a check that must be allowed was denied");
      }
    }
  }
};

struct Timing {
  double p50_ns = 0;
  double p99_ns = 0;
  double mean_ns = 0;  ///< from the untimed loop
  double per_s = 0;
};

/// Per-op p50/p99 of `op(i)` over kTimedOps calls (minus the empty timing), and the untimed
/// throughput over `throughput_ops` calls.
template <class Op>
Timing measure(Op&& op, double tpn, int timed_ops = kTimedOps,
               int throughput_ops = kThroughputOps) {
  std::vector<std::uint32_t> samples(static_cast<std::size_t>(timed_ops));
  std::vector<std::uint32_t> empty(static_cast<std::size_t>(timed_ops));
  for (int i = 0; i < timed_ops; ++i) {
    const std::uint64_t t0 = ticks();
    const std::uint64_t t1 = ticks();
    empty[static_cast<std::size_t>(i)] = static_cast<std::uint32_t>(t1 - t0);
  }
  for (int i = 0; i < timed_ops; ++i) {
    const std::uint64_t t0 = ticks();
    op(i);
    const std::uint64_t t1 = ticks();
    samples[static_cast<std::size_t>(i)] = static_cast<std::uint32_t>(t1 - t0);
  }
  std::vector<double> ns(samples.begin(), samples.end());
  std::vector<double> base(empty.begin(), empty.end());
  const double overhead = pepeunit::bench::percentile(base, 50);
  Timing t;
  t.p50_ns = std::max(0.0, pepeunit::bench::percentile(ns, 50) - overhead) / tpn;
  t.p99_ns = std::max(0.0, pepeunit::bench::percentile(ns, 99) - overhead) / tpn;
  const auto start = steady::now();
  for (int i = 0; i < throughput_ops; ++i) {
    op(i);
  }
  const double secs = std::chrono::duration<double>(steady::now() - start).count();
  t.mean_ns = secs * 1e9 / throughput_ops;
  t.per_s = throughput_ops / secs;
  return t;
}

/// Stubbed L2: GET answers from memory. The backend is never reached.
class MapL2 : public pepeunit::authplugin::L2Store {
 public:
  std::optional<std::string> get(const std::string& key) override {
    const auto it = values_.find(key);
    return it == values_.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  void set(const std::string& key, const std::string& value, std::chrono::seconds) override {
    values_[key] = value;
  }

 private:
  std::unordered_map<std::string, std::string> values_;
};

class NoBackend : public pepeunit::authplugin::BackendApi {
 public:
  Response fetchRules(const std::string&) override {
    ++calls;
    return Response{0, "", "not used"};
  }
  Response checkTopic(const std::string&, const pepeunit::authplugin::TopicQuestion&) override {
    ++calls;
    return Response{0, "", "not used"};
  }
  int calls = 0;
};

}  // namespace

int main(int argc, char** argv) {
  using pepeunit::bench::report;
  const int reps = argc > 1 ? std::stoi(argv[1]) : 7;
  try {
    const double tpn = ticksPerNs();
    World world(42);
    auto& authorizer = *world.authorizer;
    const auto& checks = world.checks;
    const auto& order = world.order;

    // ---- L1 hit: the full aclCheck vs find on composite keys, interleaved reps -------------
    std::vector<double> hit_p50, hit_p99, hit_mean, hit_rate, raw_p50, raw_p99, raw_mean;
    std::vector<double> lru_p50, lru_p99, lru_mean, topic_p50, topic_p99, topic_mean;
    std::uint64_t denied = 0;
    std::uint64_t raw_missing = 0;
    const auto acl = [&](int i) {
      const Check& c = checks[order[static_cast<std::size_t>(i)]];
      if (!authorizer.aclCheck(c.client, c.username, c.action, *c.topic)) {
        ++denied;
      }
    };
    const auto raw = [&](int i) {
      const Check& c = checks[order[static_cast<std::size_t>(i)]];
      const auto it = world.raw_composite.find(*c.composite);
      if (it == world.raw_composite.end()) {
        ++raw_missing;
      }
      keep(it);
    };
    // The decision LRU alone, on the entry aclCheck would find (RuleCache::check is what
    // aclCheck calls after the session lookup). A private cache with the same rules.
    pepeunit::authplugin::RuleCache lru_cache(
        pepeunit::authplugin::RuleCache::Limits{}, [](std::string_view principal) {
          return Authorizer::unitBaseRules(kDomain, principal.substr(5));
        });
    std::vector<std::shared_ptr<pepeunit::authplugin::PrincipalEntry>> entries;
    for (int i = 0; i < kPrincipals; ++i) {
      auto entry = lru_cache.getOrCreate("unit:" + uuidOf(0x0a, i), 0);
      lru_cache.install(*entry, std::make_shared<const RuleSet>(unitRules(i)), 0);
      entries.push_back(entry);
    }
    for (std::size_t k = 0; k < checks.size(); ++k) {
      lru_cache.check(*entries[k / 4], checks[k].action, *checks[k].topic, 1);
    }
    const auto lru = [&](int i) {
      const std::uint32_t k = order[static_cast<std::size_t>(i)];
      if (lru_cache.check(*entries[k / 4], checks[k].action, *checks[k].topic, 1) !=
          pepeunit::authplugin::RuleCache::Verdict::kAllow) {
        ++denied;
      }
    };
    const auto raw_topic = [&](int i) {
      const Check& c = checks[order[static_cast<std::size_t>(i)]];
      const auto it = world.raw_topic.find(*c.topic);
      if (it == world.raw_topic.end()) {
        ++raw_missing;
      }
      keep(it);
    };
    const auto hits_before = authorizer.cache().stats().decision_hits;
    const auto misses_before = authorizer.cache().stats().decision_misses;
    std::uint64_t acl_calls = 0;
    for (int r = 0; r < reps; ++r) {
      const auto a = measure(acl, tpn);
      const auto b = measure(raw, tpn);
      const auto c = measure(lru, tpn);
      const auto e = measure(raw_topic, tpn);
      acl_calls += kTimedOps + kThroughputOps;
      hit_p50.push_back(a.p50_ns);
      hit_p99.push_back(a.p99_ns);
      hit_mean.push_back(a.mean_ns);
      hit_rate.push_back(a.per_s);
      raw_p50.push_back(b.p50_ns);
      raw_p99.push_back(b.p99_ns);
      raw_mean.push_back(b.mean_ns);
      lru_p50.push_back(c.p50_ns);
      lru_p99.push_back(c.p99_ns);
      lru_mean.push_back(c.mean_ns);
      topic_p50.push_back(e.p50_ns);
      topic_p99.push_back(e.p99_ns);
      topic_mean.push_back(e.mean_ns);
      std::cerr << "bench_acl_cache_micro: rep " << r << ": aclCheck p50 " << a.p50_ns << " p99 "
                << a.p99_ns << " mean " << a.mean_ns << " ns; raw composite find p50 " << b.p50_ns
                << " p99 " << b.p99_ns << " mean " << b.mean_ns << " ns; LRU check mean "
                << c.mean_ns << " ns; raw topic find mean " << e.mean_ns << " ns\n";
    }
    const auto hits = authorizer.cache().stats().decision_hits - hits_before;
    const auto misses = authorizer.cache().stats().decision_misses - misses_before;
    const bool hit_exact = denied == 0 && raw_missing == 0 && hits == acl_calls && misses == 0;
    using pepeunit::bench::median;
    using pepeunit::bench::percentile;
    const auto iqr = [](const std::vector<double>& v) {
      return percentile(v, 75) - percentile(v, 25);
    };
    const nlohmann::json common = {
        {"principals", kPrincipals}, {"distinct_checks", checks.size()}, {"reps", reps},
        {"timed_ops", kTimedOps},    {"throughput_ops", kThroughputOps}, {"threads", 1}};
    report("bench_acl_cache_micro.l1_hit", common, median(hit_mean), median(hit_p99), "ns/op",
           median(raw_mean),
           {{"p50_ns", median(hit_p50)},
            {"p99_ns", median(hit_p99)},
            {"iqr_mean_ns", iqr(hit_mean)},
            {"decisions_per_s", median(hit_rate)},
            {"baseline_name", "unordered_map<std::string,bool>::find on username+topic keys"},
            {"baseline_p50_ns", median(raw_p50)},
            {"baseline_p99_ns", median(raw_p99)},
            {"ratio_p50", median(raw_p50) > 0 ? median(hit_p50) / median(raw_p50) : 0},
            {"decision_hits", hits},
            {"decision_misses", misses},
            {"denied", denied},
            {"exact", hit_exact}});
    report("bench_acl_cache_micro.l1_lru", common, median(lru_mean), median(lru_p99), "ns/op",
           median(topic_mean),
           {{"p50_ns", median(lru_p50)},
            {"p99_ns", median(lru_p99)},
            {"iqr_mean_ns", iqr(lru_mean)},
            {"baseline_name", "unordered_map<std::string,bool>::find on the topic keys"},
            {"baseline_p50_ns", median(topic_p50)},
            {"baseline_p99_ns", median(topic_p99)},
            {"ratio_p50", median(topic_p50) > 0 ? median(lru_p50) / median(topic_p50) : 0}});

    // ---- 2 threads: two broker threads' caches, one per core ---------------------------------
    {
      World other(7);
      std::atomic<int> ready{0};
      std::atomic<bool> go{false};
      std::vector<double> rates(2);
      std::uint64_t denied2[2] = {0, 0};
      const auto run = [&](World& w, int slot) {
        ++ready;
        while (!go) {
        }
        const auto start = steady::now();
        for (int i = 0; i < kThroughputOps; ++i) {
          const Check& c = w.checks[w.order[static_cast<std::size_t>(i)]];
          if (!w.authorizer->aclCheck(c.client, c.username, c.action, *c.topic)) {
            ++denied2[slot];
          }
        }
        rates[static_cast<std::size_t>(slot)] =
            kThroughputOps / std::chrono::duration<double>(steady::now() - start).count();
      };
      std::vector<double> totals;
      for (int r = 0; r < reps; ++r) {
        ready = 0;
        go = false;
        std::thread t1(run, std::ref(world), 0);
        std::thread t2(run, std::ref(other), 1);
        while (ready < 2) {
        }
        go = true;
        t1.join();
        t2.join();
        totals.push_back(rates[0] + rates[1]);
      }
      report("bench_acl_cache_micro.l1_hit_2threads",
             {{"principals_per_thread", kPrincipals}, {"reps", reps}, {"threads", 2}},
             median(totals), 0, "decisions/s", median(hit_rate),
             {{"baseline_name", "1 thread decisions/s"},
              {"iqr", iqr(totals)},
              {"denied", denied2[0] + denied2[1]},
              {"note", "two independent caches (the L1 is owned by one broker thread)"}});
      if (denied2[0] + denied2[1] != 0) {
        throw std::runtime_error("2-thread run: allowed checks were denied");
      }
    }

    // ---- decision-LRU miss: a new topic every time, answered by evaluating the rules ---------
    {
      constexpr int kUnique = 200'000;
      std::vector<std::string> fresh;
      fresh.reserve(kUnique);
      const std::string unit = uuidOf(0x0a, 0);
      for (int i = 0; i < kUnique; ++i) {
        fresh.push_back(d("output_base_topic/" + unit + "/n" + std::to_string(i) + "/pepeunit"));
      }
      const char* username = world.usernames[0].c_str();
      std::uint64_t eval_denied = 0;
      const auto eval = [&](int i) {
        if (!authorizer.aclCheck(username, AclAction::kPublish,
                                 fresh[static_cast<std::size_t>(i % kUnique)])) {
          ++eval_denied;
        }
      };
      const auto misses0 = authorizer.cache().stats().decision_misses;
      std::vector<double> p50, p99, mean;
      for (int r = 0; r < reps; ++r) {
        const auto t = measure(eval, tpn, kUnique, kUnique);
        p50.push_back(t.p50_ns);
        p99.push_back(t.p99_ns);
        mean.push_back(t.mean_ns);
      }
      const auto eval_misses = authorizer.cache().stats().decision_misses - misses0;
      report("bench_acl_cache_micro.l1_rule_eval",
             {{"unique_topics", kUnique}, {"reps", reps}, {"decision_cache_size", 256}},
             median(mean), median(p99), "ns/op", median(hit_mean),
             {{"p50_ns", median(p50)},
              {"p99_ns", median(p99)},
              {"baseline_name", "l1_hit mean ns/op"},
              {"decision_misses", eval_misses},
              {"denied", eval_denied}});
      if (eval_denied != 0 || eval_misses != static_cast<std::uint64_t>(2 * reps * kUnique)) {
        throw std::runtime_error("rule evaluation run: unexpected denials or LRU hits");
      }
    }

    // ---- principal miss served by a stubbed L2, and the install on the broker thread ---------
    {
      MapL2 l2;
      NoBackend backend;
      pepeunit::authplugin::CircuitBreaker breaker;
      pepeunit::authplugin::ResolveConfig config;
      std::vector<std::string> principals;
      for (int i = 0; i < kPrincipals; ++i) {
        principals.push_back("unit:" + uuidOf(0x0a, i));
        l2.set(pepeunit::authplugin::rulesKey(
                   config.redis_prefix, pepeunit::authplugin::principalHash(principals.back())),
               pepeunit::domain::serializeRuleSet(unitRules(i)), std::chrono::seconds(60));
      }
      std::uint64_t bad = 0;
      std::vector<FetchResult> results(kPrincipals);
      const auto resolve = [&](int i) {
        const auto k = static_cast<std::size_t>(i % kPrincipals);
        results[k] = pepeunit::authplugin::resolveRules(FetchRequest{principals[k], 0, false}, &l2,
                                                        backend, breaker, config);
        if (results[k].status != FetchStatus::kRules || results[k].source != FetchSource::kL2) {
          ++bad;
        }
      };
      pepeunit::authplugin::RuleCache install_cache(
          pepeunit::authplugin::RuleCache::Limits{}, [](std::string_view principal) {
            return Authorizer::unitBaseRules(kDomain, principal.substr(5));
          });
      std::vector<std::shared_ptr<pepeunit::authplugin::PrincipalEntry>> slots;
      for (const auto& p : principals) {
        slots.push_back(install_cache.getOrCreate(p, 0));
      }
      std::uint64_t version = 1;
      const auto install = [&](int i) {
        const auto k = static_cast<std::size_t>(i % kPrincipals);
        auto rules = std::make_shared<RuleSet>(*results[k].rules);
        rules->version = ++version;  // a newer set each time, as after a refresh
        install_cache.install(*slots[k], std::move(rules), 1);
      };
      std::vector<double> r50, r99, rmean, i50, i99, imean;
      for (int r = 0; r < reps; ++r) {
        const auto a = measure(resolve, tpn, 20'000, 20'000);
        const auto b = measure(install, tpn, 20'000, 20'000);
        r50.push_back(a.p50_ns);
        r99.push_back(a.p99_ns);
        rmean.push_back(a.mean_ns);
        i50.push_back(b.p50_ns);
        i99.push_back(b.p99_ns);
        imean.push_back(b.mean_ns);
      }
      report("bench_acl_cache_micro.l2_stub_resolve",
             {{"rules_per_set", unitRules(0).rules.size()},
              {"reps", reps},
              {"where", "fetch worker thread"}},
             median(rmean), median(r99), "ns/op", median(hit_mean),
             {{"p50_ns", median(r50)},
              {"p99_ns", median(r99)},
              {"baseline_name", "l1_hit mean ns/op"},
              {"bad_results", bad},
              {"backend_calls", backend.calls}});
      report("bench_acl_cache_micro.l2_install",
             {{"rules_per_set", unitRules(0).rules.size() + 2},
              {"reps", reps},
              {"where", "broker thread (TICK)"}},
             median(imean), median(i99), "ns/op", median(hit_mean),
             {{"p50_ns", median(i50)},
              {"p99_ns", median(i99)},
              {"baseline_name", "l1_hit mean ns/op"}});
      if (bad != 0 || backend.calls != 0) {
        throw std::runtime_error("stubbed L2 run: a fetch was not answered from L2");
      }
    }

    // ---- key construction --------------------------------------------------------------------
    {
      std::vector<double> c50, c99, cmean, h50, h99, hmean;
      const auto compose = [&](int i) {
        const Check& c = checks[order[static_cast<std::size_t>(i)]];
        std::string fresh(c.username);
        fresh += '\n';
        fresh += *c.topic;
        keep(fresh);
      };
      std::vector<std::string> ids;
      for (int i = 0; i < kPrincipals; ++i) {
        ids.push_back("unit:" + uuidOf(0x0a, i));
      }
      std::string hash;
      const auto principal_hash = [&](int i) {
        hash = pepeunit::authplugin::principalHash(ids[static_cast<std::size_t>(i % kPrincipals)]);
        keep(hash);
      };
      for (int r = 0; r < reps; ++r) {
        const auto a = measure(compose, tpn);
        const auto b = measure(principal_hash, tpn, 100'000, 100'000);
        c50.push_back(a.p50_ns);
        c99.push_back(a.p99_ns);
        cmean.push_back(a.mean_ns);
        h50.push_back(b.p50_ns);
        h99.push_back(b.p99_ns);
        hmean.push_back(b.mean_ns);
      }
      report("bench_acl_cache_micro.key_construction",
             {{"what",
               "std::string username + '\\n' + topic (a flat cache's key; the plugin "
               "looks up string_views and builds none)"},
              {"reps", reps}},
             median(cmean), median(c99), "ns/op", median(raw_mean),
             {{"p50_ns", median(c50)},
              {"p99_ns", median(c99)},
              {"baseline_name", "raw composite find mean ns/op"}});
      report("bench_acl_cache_micro.principal_hash",
             {{"what", "SHA-256 hex of a principal id (L2 key, events; never on the hit path)"},
              {"reps", reps}},
             median(hmean), median(h99), "ns/op", median(raw_mean),
             {{"p50_ns", median(h50)},
              {"p99_ns", median(h99)},
              {"baseline_name", "raw composite find mean ns/op"}});
    }
    if (!hit_exact) {
      std::cerr << "bench_acl_cache_micro: hit path not exact: denied " << denied << ", raw "
                << raw_missing << " missing, hits " << hits << "/" << acl_calls << ", misses "
                << misses << "\n";
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_acl_cache_micro: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
