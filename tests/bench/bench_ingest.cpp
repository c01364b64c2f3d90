// B7 (performance_anchors.md §5): MQTT ingest throughput and lag. M messages go to
// `D/<node>/pepeunit` over N nodes with a new value every `change_every`-th message per node;
// the real backend (Paho subscriber → last-value filter → batched writes) stores the changes.
// Reported: stored rows/s and messages/s in (first publish → last row visible), publish → row
// visible lag p50/p99, and the same-run baseline: a raw COPY (libpqxx stream_to) of the same
// number of rows into a plain copy of the history table. Row counts must match exactly.
#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_common.hpp"
#include "bus/mqtt/mqtt_client.hpp"
#include "integration/harness/stack.hpp"
#include "integration/harness/wait.hpp"

namespace {

using pepeunit::bus::mqtt::MqttClient;
using pepeunit::testing::pollUntil;
using pepeunit::testing::Stack;
using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kNodes = 1000;

struct RunResult {
  double rows_per_s = 0;
  double msgs_per_s = 0;
  double offered_msgs_per_s = 0;
  double lag_p50_ms = 0;
  double lag_p99_ms = 0;
  long rows = 0;
  long expected = 0;
};

long countRows(pqxx::connection& c, const char* table) {
  pqxx::nontransaction tx(c);
  return tx.exec(std::string("SELECT count(*) FROM ") + table)[0][0].as<long>();
}

RunResult runIngest(Stack& stack, MqttClient& pub, const std::vector<std::string>& topics,
                    int messages, int change_every, int rate, int rep) {
  pqxx::connection c(stack.pg().url());
  {
    pqxx::nontransaction tx(c);
    tx.exec("TRUNCATE unit_node_values");
  }
  const std::string prefix = "r" + std::to_string(rep) + "_";
  // The k-th expected row is the k-th change published; remember when it went out.
  std::vector<steady::time_point> change_times;
  change_times.reserve(static_cast<std::size_t>(messages));
  struct Sample {
    steady::time_point at;
    long rows;
  };
  std::vector<Sample> samples;
  std::atomic<bool> polling{true};
  std::thread poller([&] {
    pqxx::connection pc(stack.pg().url());
    while (polling) {
      const long n = countRows(pc, "unit_node_values");
      samples.push_back({steady::now(), n});
      std::this_thread::sleep_for(milliseconds(10));
    }
  });

  const auto start = steady::now();
  for (int m = 0; m < messages; ++m) {
    const int node = m % kNodes;
    const int seq = m / kNodes;
    if (seq % change_every == 0)
      change_times.push_back(steady::now());
    const std::string payload = prefix + std::to_string(seq / change_every) + "_val_xx";
    while (!pub.publish(topics[static_cast<std::size_t>(node)], payload, 0)) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    // Pace to `rate` msg/s (checked every 100 messages).
    if (rate > 0 && m % 100 == 99) {
      const auto due =
          start + std::chrono::microseconds(static_cast<long>(m + 1) * 1'000'000 / rate);
      std::this_thread::sleep_until(due);
    }
  }
  const auto published = steady::now();
  const long expected = static_cast<long>(change_times.size());
  pollUntil([&] { return countRows(c, "unit_node_values") >= expected; }, std::chrono::seconds(30),
            milliseconds(5));
  const auto done = steady::now();
  std::this_thread::sleep_for(milliseconds(300));  // a late duplicate would show up here
  polling = false;
  poller.join();

  RunResult r;
  r.rows = countRows(c, "unit_node_values");
  r.expected = expected;
  const double secs = std::chrono::duration<double>(done - start).count();
  r.rows_per_s = static_cast<double>(expected) / secs;
  r.msgs_per_s = messages / secs;
  r.offered_msgs_per_s = messages / std::chrono::duration<double>(published - start).count();
  std::vector<double> lags;
  std::size_t s = 0;
  for (long k = 0; k < expected; ++k) {
    while (s < samples.size() && samples[s].rows < k + 1)
      ++s;
    const auto visible = s < samples.size() ? samples[s].at : done;
    lags.push_back(std::chrono::duration<double, std::milli>(
                       visible - change_times[static_cast<std::size_t>(k)])
                       .count());
  }
  r.lag_p50_ms = pepeunit::bench::percentile(lags, 50);
  r.lag_p99_ms = pepeunit::bench::percentile(lags, 99);
  return r;
}

/// The baseline: the same number of rows COPYed into a plain table shaped like the history.
double runCopy(Stack& stack, const std::vector<std::string>& nodes, long rows) {
  pqxx::connection c(stack.pg().url());
  {
    pqxx::nontransaction tx(c);
    tx.exec("DROP TABLE IF EXISTS bench_copy");
    tx.exec("CREATE TABLE bench_copy (LIKE unit_node_values INCLUDING DEFAULTS)");
    tx.exec("CREATE INDEX ON bench_copy (unit_node_uuid, created_at)");
  }
  const auto start = steady::now();
  pqxx::work tx(c);
  pqxx::stream_to stream(
      tx, "bench_copy",
      std::vector<std::string>{"unit_node_uuid", "value", "numeric_value", "created_at"});
  const std::string ts = "2026-01-01 00:00:00+00";
  for (long i = 0; i < rows; ++i) {
    const double* numeric = nullptr;
    stream << std::make_tuple(nodes[static_cast<std::size_t>(i % kNodes)],
                              "r_" + std::to_string(i / kNodes) + "_val_xx", numeric, ts);
  }
  stream.complete();
  tx.commit();
  const double secs = std::chrono::duration<double>(steady::now() - start).count();
  if (countRows(c, "bench_copy") != rows)
    throw std::runtime_error("COPY lost rows");
  return static_cast<double>(rows) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  const int messages = argc > 1 ? std::stoi(argv[1]) : 200000;
  const int rate = argc > 2 ? std::stoi(argv[2]) : 30000;  // offered msg/s, 0 = unpaced
  const int reps = argc > 3 ? std::stoi(argv[3]) : 3;
  try {
    auto options = Stack::Options::withEnv({{"BACKEND_LOG_LEVEL", "info"}});
    options.auth_plugin = false;  // anonymous publishers (until they publish with unit tokens)
    Stack stack(std::move(options));
    std::vector<std::string> nodes;
    {
      pqxx::connection c(stack.pg().url());
      pqxx::work tx(c);
      const auto user = tx.exec(
                              "INSERT INTO users (role, status, login, hashed_password, "
                              "cipher_dynamic_salt) VALUES ('User','Verified','bench','x','x') "
                              "RETURNING uuid::text")[0][0]
                            .as<std::string>();
      const auto repo = tx.exec_params(
                              "INSERT INTO repos (name, repo_url, creator_uuid) VALUES "
                              "('bench', 'https://e.com/r.git', $1) RETURNING uuid::text",
                              user)[0][0]
                            .as<std::string>();
      const auto unit = tx.exec_params(
                              "INSERT INTO units (name, creator_uuid, repo_uuid) VALUES "
                              "('bench', $1, $2) RETURNING uuid::text",
                              user, repo)[0][0]
                            .as<std::string>();
      for (const auto& row : tx.exec_params(
               "INSERT INTO units_nodes (type, visibility_level, topic_name, creator_uuid, "
               "unit_uuid) SELECT 'Output', 'Public', 'o' || i || '/pepeunit', $1, $2 "
               "FROM generate_series(1, $3) i RETURNING uuid::text",
               user, unit, kNodes)) {
        nodes.push_back(row[0].as<std::string>());
      }
      tx.commit();
    }
    stack.backend().stop();  // restart: the node cache is loaded at start
    stack.startBackend();
    std::vector<std::string> topics;
    for (const auto& n : nodes)
      topics.push_back("127.0.0.1/" + n + "/pepeunit");

    MqttClient::Options o;
    o.port = stack.mqtt().port();
    o.client_id = "bench-ingest-pub";
    MqttClient pub(o);
    pub.start();
    // Wait until the backend is subscribed: a probe value shows up in Postgres.
    pqxx::connection c(stack.pg().url());
    const bool ready = pollUntil(
        [&] {
          pub.publish(topics[0], "probe", 0);
          pqxx::nontransaction tx(c);
          return tx.exec_params("SELECT state FROM units_nodes WHERE uuid = $1", nodes[0])[0][0]
                     .c_str() == std::string("probe");
        },
        std::chrono::seconds(30), milliseconds(100));
    if (!ready)
      throw std::runtime_error("backend never stored the probe");

    for (const int change_every : {10, 1}) {
      const int m = change_every == 1 ? messages / 2 : messages;
      std::vector<double> rows_s, msgs_s, offered, p50, p99, copy_s;
      long expected = 0;
      bool exact = true;
      for (int rep = 0; rep < reps; ++rep) {
        const auto r =
            runIngest(stack, pub, topics, m, change_every, rate, rep + 100 * change_every);
        exact = exact && r.rows == r.expected;
        expected = r.expected;
        rows_s.push_back(r.rows_per_s);
        msgs_s.push_back(r.msgs_per_s);
        offered.push_back(r.offered_msgs_per_s);
        p50.push_back(r.lag_p50_ms);
        p99.push_back(r.lag_p99_ms);
        copy_s.push_back(runCopy(stack, nodes, r.expected));
        std::cerr << "bench_ingest: change 1/" << change_every << " rep " << rep << ": " << r.rows
                  << "/" << r.expected << " rows, " << r.rows_per_s << " rows/s, " << r.msgs_per_s
                  << " msg/s in (offered " << r.offered_msgs_per_s << "), lag p99 " << r.lag_p99_ms
                  << " ms; COPY " << copy_s.back() << " rows/s\n";
      }
      pepeunit::bench::report("bench_ingest",
                              {{"messages", m},
                               {"nodes", kNodes},
                               {"change_ratio", 1.0 / change_every},
                               {"offered_rate", rate},
                               {"reps", reps}},
                              pepeunit::bench::median(rows_s), pepeunit::bench::median(p99),
                              "rows/s", pepeunit::bench::median(copy_s),
                              {{"msgs_per_s_in", pepeunit::bench::median(msgs_s)},
                               {"offered_msgs_per_s", pepeunit::bench::median(offered)},
                               {"lag_p50_ms", pepeunit::bench::median(p50)},
                               {"lag_p99_ms", pepeunit::bench::median(p99)},
                               {"rows_expected", expected},
                               {"rows_exact", exact},
                               {"baseline_name", "stream_to COPY of the same rows"}});
      if (!exact)
        return 1;
    }
    pub.stop();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_ingest: " << e.what() << "\n";
    return 1;
  }
}
