// Paced load for the MQTT ingest benchmarks (B7, B8, B10): many publisher connections (one per
// unit, as devices connect), driven by a few threads at a fixed total rate, on the plain-socket
// MQTT publisher of bench_mqtt.hpp (a client library costs more CPU per message than the broker
// does, and on 2 shared cores the generator has to leave the broker and the backend their share).
//
// Messages are QoS 0, as Pepeunit's devices and its own load test send them. Over TCP the broker
// cannot lose an inbound QoS 0 message without dropping the connection (the publisher then
// throws); what it may drop is an OUTGOING QoS 0 message when a subscriber has
// `max_queued_messages` packets waiting (log: "Outgoing messages are being dropped"). The
// benchmarks therefore count stored rows and read the broker log; "sent" proves nothing.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_mqtt.hpp"

namespace pepeunit::bench {

/// One publishing device: its connection identity and the topics it publishes round-robin.
struct LoadStream {
  std::string client_id;
  std::string username;  ///< MQTT username (a token under the auth plugin); empty: anonymous
  std::vector<std::string> topics;
};

/// What to send: `total` messages at `rate` msg/s in all, spread evenly over the streams.
/// Stream s's j-th message goes to topics[j % topics.size()] as that topic's
/// (j / topics.size())-th message; `payload(stream, topic, seq)` makes its payload and
/// `on_send` (optional) sees each message just before it is written.
struct LoadPlan {
  std::vector<LoadStream> streams;
  long total = 0;
  double rate = 0;  ///< msg/s in all; 0 = as fast as the broker reads
  int threads = 2;
  std::function<std::string(std::size_t stream, std::size_t topic, long seq)> payload;
  std::function<void(int thread, std::size_t stream, std::size_t topic, long seq)> on_send;
};

struct LoadResult {
  long sent = 0;
  double seconds = 0;  ///< first write → last write flushed
  double rate() const { return seconds > 0 ? static_cast<double>(sent) / seconds : 0; }
};

/// Opens every stream's connection first (so connection set-up is not timed), then sends.
/// Each thread owns the streams s with s % threads == its index and, every millisecond, writes
/// what is due since the start, one write per connection.
inline LoadResult runLoad(int port, const LoadPlan& plan) {
  using steady = std::chrono::steady_clock;
  const std::size_t n_streams = plan.streams.size();
  const int threads = std::max(1, std::min<int>(plan.threads, static_cast<int>(n_streams)));
  // Flushed every tick by the pacing loop; the size bound only matters for unpaced runs.
  constexpr std::size_t kBatchBytes = 64 * 1024;
  std::vector<std::unique_ptr<mqtt::RawPublisher>> conns;
  conns.reserve(n_streams);
  for (const auto& s : plan.streams) {
    conns.push_back(
        std::make_unique<mqtt::RawPublisher>(port, s.username, s.client_id, kBatchBytes));
    conns.back()->connectOrThrow();
  }

  std::vector<std::string> errors(static_cast<std::size_t>(threads));
  const auto start = steady::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      try {
        std::vector<std::size_t> own;
        for (std::size_t s = static_cast<std::size_t>(t); s < n_streams;
             s += static_cast<std::size_t>(threads))
          own.push_back(s);
        // Messages are dealt to streams in global order m = 0..total-1: stream m % n_streams.
        std::vector<long> per_stream(own.size());
        for (std::size_t i = 0; i < own.size(); ++i) {
          const long s = static_cast<long>(own[i]);
          per_stream[i] = plan.total / static_cast<long>(n_streams) +
                          (s < plan.total % static_cast<long>(n_streams) ? 1 : 0);
        }
        long mine = 0;
        for (const long n : per_stream)
          mine += n;
        const double my_rate =
            plan.rate * static_cast<double>(own.size()) / static_cast<double>(n_streams);
        std::vector<long> next(own.size(), 0);  // the stream's next message index j
        long done = 0;                          // messages of this thread written so far
        std::size_t cursor = 0;
        while (done < mine) {
          const auto now = steady::now();
          long due = mine;
          if (my_rate > 0) {
            const double elapsed = std::chrono::duration<double>(now - start).count();
            due = std::min(mine, static_cast<long>(elapsed * my_rate) + 1);
          }
          // Bounded bursts keep every connection's writes short and interleaved.
          due = std::min(due, done + 4096);
          while (done < due) {
            // Round-robin over this thread's streams that still have messages.
            while (next[cursor] >= per_stream[cursor])
              cursor = (cursor + 1) % own.size();
            const std::size_t s = own[cursor];
            const auto& stream = plan.streams[s];
            const long j = next[cursor]++;
            const std::size_t topic = static_cast<std::size_t>(j) % stream.topics.size();
            const long seq = j / static_cast<long>(stream.topics.size());
            if (plan.on_send)
              plan.on_send(t, s, topic, seq);
            conns[s]->publish(stream.topics[topic], plan.payload(s, topic, seq), 0);
            ++done;
            cursor = (cursor + 1) % own.size();
          }
          for (const auto s : own)
            conns[s]->flush();
          if (my_rate > 0 && done < mine) {
            const auto next_due =
                start + std::chrono::duration_cast<steady::duration>(
                            std::chrono::duration<double>(static_cast<double>(done) / my_rate));
            std::this_thread::sleep_until(std::max(next_due, now + std::chrono::microseconds(500)));
          }
        }
      } catch (const std::exception& e) {
        errors[static_cast<std::size_t>(t)] = e.what();
      }
    });
  }
  for (auto& w : workers)
    w.join();
  LoadResult r;
  r.seconds = std::chrono::duration<double>(steady::now() - start).count();
  for (const auto& e : errors) {
    if (!e.empty())
      throw std::runtime_error(e);
  }
  r.sent = plan.total;
  return r;
}

/// utime + stime of a process in seconds (all its threads).
inline double cpuSeconds(pid_t pid) {
  return mqtt::processCpuUs(pid) / 1e6;
}

/// Machine-wide CPU from /proc/stat, to tell how busy the box was with processes other than
/// the ones a benchmark measures (other agents' builds and tests share these 2 cores).
struct MachineTicks {
  unsigned long long total = 0;
  unsigned long long idle = 0;  ///< idle + iowait
};
inline MachineTicks machineTicks() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  MachineTicks t;
  for (int i = 0; i < 8; ++i) {  // user nice system idle iowait irq softirq steal
    unsigned long long v = 0;
    in >> v;
    t.total += v;
    if (i == 3 || i == 4)
      t.idle += v;
  }
  return t;
}
/// Busy cores (1.0 = one core fully used) between two samples.
inline double busyCores(const MachineTicks& a, const MachineTicks& b) {
  const auto total = b.total - a.total;
  if (total == 0)
    return 0;
  const double cores = static_cast<double>(std::thread::hardware_concurrency());
  return cores * static_cast<double>(total - (b.idle - a.idle)) / static_cast<double>(total);
}

/// cpuSeconds of `pid` plus that of its direct children (Postgres: the postmaster's backends).
inline double treeCpuSeconds(pid_t pid) {
  double total = cpuSeconds(pid);
  std::ifstream children("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) +
                         "/children");
  pid_t child = 0;
  while (children >> child)
    total += cpuSeconds(child);
  return total;
}

}  // namespace pepeunit::bench
