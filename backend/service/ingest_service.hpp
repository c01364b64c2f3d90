// The backend's life on the bus, inbound half (spec §5.3, §5.4, §8.5; DESIGN §4): node values,
// unit states and 2026 logs arrive on the MQTT handler thread, are checked and filtered in
// memory there, and reach PostgreSQL through one batch writer thread. A housekeeping thread
// refreshes the known-node cache, sweeps update timeouts and maintains the history partitions.
//
// Threads and guarantees:
// * onMessage never touches the database and never waits for the writer: it appends to a
//   bounded queue. When the queue is full (the database is down or slower than the stream for
//   longer than the queue absorbs), the OLDEST queued item is dropped and counted
//   (queue_overflow), so the newest values — the ones that matter for last-value — survive.
// * The writer flushes every `flush_interval` (≤ 100 ms) or as soon as `batch_max` items wait:
//   one statement per batch for all last values and history rows. An outage (Unavailable) keeps
//   the batch and retries it; a batch the database rejects is dropped and counted.
// * Several backend instances share the stream through `$share/...` subscriptions. The database
//   arbitrates the last value (`IS DISTINCT FROM` and `last_update_datetime <= ts`, so a stale
//   write never wins), and the node refresh pulls values written by others into the filter.
//   Mosquitto round-robins a shared subscription per message, so a node's repeats can reach two
//   instances within one refresh period; a repeat then costs one extra history row at most.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "domain/uuid.hpp"
#include "service/access_events.hpp"
#include "service/ingest_rules.hpp"
#include "store/ingest_store.hpp"

namespace pepeunit::service {

class IngestService {
 public:
  struct Options {
    std::string domain;                       ///< BACKEND_DOMAIN, the first topic level
    std::size_t max_payload_size = 50000;     ///< MQTT_MAX_PAYLOAD_SIZE (bytes)
    std::chrono::seconds state_interval{60};  ///< BACKEND_STATE_SEND_INTERVAL
    std::chrono::milliseconds flush_interval{100};
    std::size_t batch_max = 1000;  ///< this many waiting items trigger a flush at once
    /// Items per statement. A backlog (bursts, a slow moment of Postgres) is taken in larger
    /// batches so repeated changes of one node collapse into one last-value update.
    std::size_t batch_rows_max = 10000;
    std::size_t queue_capacity = 200000;  ///< items waiting for the writer
    std::chrono::milliseconds node_refresh{5000};
    std::chrono::milliseconds sweep_interval{1000};
    std::chrono::seconds log_ttl{86400};  ///< PU_UNIT_LOG_EXPIRATION of the original
    std::chrono::milliseconds maintenance_interval{std::chrono::minutes(10)};
    std::chrono::milliseconds stats_log_interval{std::chrono::seconds(60)};
    std::chrono::milliseconds retry_delay{500};  ///< between attempts while Postgres is down
  };

  struct Stats {
    std::uint64_t messages_in = 0;
    std::uint64_t values_in = 0;
    std::uint64_t states_in = 0;
    std::uint64_t logs_in = 0;
    std::uint64_t values_unchanged = 0;     ///< filtered in memory (never reached the DB)
    std::uint64_t last_values_written = 0;  ///< last-value rows sent to the DB
    std::uint64_t history_rows_written = 0;
    std::uint64_t states_saved = 0;
    std::uint64_t log_rows_written = 0;
    std::uint64_t updates_succeeded = 0;
    std::uint64_t updates_failed = 0;  ///< Error by a state or by the sweeper
    std::uint64_t batches = 0;
    std::uint64_t write_retries = 0;
    std::uint64_t queue_depth = 0;
    std::uint64_t known_nodes = 0;
    double last_batch_lag_ms = 0;  ///< receipt of the oldest item → its batch committed
    double max_batch_lag_ms = 0;   ///< since start
    std::array<std::uint64_t, ingest::kDropReasonCount> dropped{};
    std::uint64_t droppedTotal() const;
    std::uint64_t droppedBy(ingest::DropReason reason) const {
      return dropped[static_cast<std::size_t>(reason)];
    }
  };

  using Clock = std::function<store::Timestamp()>;

  IngestService(store::IngestStore& store, Options options, Clock clock = systemClock);
  ~IngestService();
  IngestService(const IngestService&) = delete;
  IngestService& operator=(const IngestService&) = delete;

  /// The MQTT message handler. Thread-safe, never blocks on I/O, never throws.
  void onMessage(std::string_view topic, std::string_view payload) noexcept;

  /// Known-node cache hooks for the node use cases (the periodic refresh catches up anyway).
  void nodeCreated(const domain::Uuid& node, const std::string& history_policy = "changes",
                   std::optional<double> deadband = std::nullopt);
  void nodeDeleted(const domain::Uuid& node);

  /// Loads the nodes (retrying in the background if Postgres is down) and starts the writer
  /// and housekeeping threads.
  void start();
  /// Flushes what is queued (one attempt) and joins the threads. Idempotent.
  void stop();

  /// Synchronous pieces, used by the threads and by tests.
  /// Reloads the node cache; false when the store failed.
  bool refreshNodes() noexcept;
  /// Writes everything queued now, in batches; returns the items processed.
  std::size_t flushNow();
  /// Turns timed-out RequestSent units into Error; returns how many.
  std::size_t sweepOnce() noexcept;

  Stats stats() const;

  static store::Timestamp systemClock();

 private:
  struct ValueItem {
    domain::Uuid node;
    std::string value;
    std::optional<double> numeric;
    store::Timestamp at{};
    bool update_last = false;
    bool write_history = false;
  };
  struct StateItem {
    store::UnitStateWrite state;
  };
  struct LogItem {
    std::vector<store::UnitLogWrite> rows;
    store::Timestamp at{};
  };
  using Item = std::variant<ValueItem, StateItem, LogItem>;

  void count(ingest::DropReason reason) noexcept;
  void handle(std::string_view topic, std::string_view payload);
  void enqueue(Item item);
  /// Writes one batch; keeps retrying while the store is Unavailable and `retry` holds.
  void writeBatch(std::vector<Item>& batch, bool retry);
  void writerLoop();
  void housekeepingLoop();
  void logStats() const;

  store::IngestStore& store_;
  const Options options_;
  const Clock clock_;

  // Known nodes + last-value filter; the handler thread and the refresh touch it.
  mutable std::mutex nodes_mutex_;
  std::unordered_map<domain::Uuid, ingest::NodeMemory> nodes_;
  std::unordered_map<domain::Uuid, store::Timestamp> created_by_hook_;  // kept over a refresh
  bool nodes_loaded_ = false;

  std::mutex throttle_mutex_;
  ingest::StateThrottle throttle_;

  // Writer queue.
  mutable std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;                    // guarded by queue_mutex_
  bool refresh_requested_ = false;           // guarded by queue_mutex_
  std::condition_variable housekeeping_cv_;  // stop and refresh requests, with queue_mutex_

  std::mutex flush_mutex_;  // one batch at a time (writer thread vs flushNow)
  std::thread writer_;
  std::thread housekeeping_;

  // Counters.
  std::atomic<std::uint64_t> messages_in_{0}, values_in_{0}, states_in_{0}, logs_in_{0},
      values_unchanged_{0}, last_values_written_{0}, history_rows_written_{0}, states_saved_{0},
      log_rows_written_{0}, updates_succeeded_{0}, updates_failed_{0}, batches_{0},
      write_retries_{0};
  std::array<std::atomic<std::uint64_t>, ingest::kDropReasonCount> dropped_{};
  std::atomic<double> last_batch_lag_ms_{0}, max_batch_lag_ms_{0};
};

/// Keeps the ingest's known-node cache in step with the use cases: an announcement that may
/// have created or deleted nodes (a new, reconciled or deleted unit) reloads it at once, on the
/// announcing thread, so a device publishing right after the REST answer is not dropped as
/// unknown. One SELECT of all nodes; such changes are rare (people and the hourly scheduler).
class IngestNodeSync : public AccessEvents {
 public:
  explicit IngestNodeSync(IngestService& ingest) : ingest_(ingest) {}
  void accessChanged(const domain::Uuid&, cache::AclChangeKind kind) override {
    if (kind == cache::AclChangeKind::kDeleted) {
      ingest_.refreshNodes();
    }
  }
  void everythingChanged() override { ingest_.refreshNodes(); }

 private:
  IngestService& ingest_;
};

}  // namespace pepeunit::service
