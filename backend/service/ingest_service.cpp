// MQTT ingest: handler-side filtering, the batch writer and housekeeping (ingest_service.hpp).
#include "service/ingest_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <span>
#include <unordered_set>

#include "common/errors.hpp"

namespace pepeunit::service {
namespace {

using ingest::DropReason;

double millisBetween(store::Timestamp from, store::Timestamp to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

void atomicMax(std::atomic<double>& target, double value) {
  double current = target.load(std::memory_order_relaxed);
  while (value > current && !target.compare_exchange_weak(current, value)) {
  }
}

}  // namespace

std::uint64_t IngestService::Stats::droppedTotal() const {
  std::uint64_t total = 0;
  for (const auto n : dropped)
    total += n;
  return total;
}

store::Timestamp IngestService::systemClock() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
}

IngestService::IngestService(store::IngestStore& store, Options options, Clock clock)
    : store_(store),
      options_(std::move(options)),
      clock_(std::move(clock)),
      throttle_(std::chrono::duration_cast<std::chrono::milliseconds>(options_.state_interval)) {}

IngestService::~IngestService() {
  stop();
}

void IngestService::count(DropReason reason) noexcept {
  dropped_[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
}

void IngestService::onMessage(std::string_view topic, std::string_view payload) noexcept {
  messages_in_.fetch_add(1, std::memory_order_relaxed);
  try {
    handle(topic, payload);
  } catch (const std::exception& e) {
    // Nothing here should throw but allocation; never let it reach Paho's thread.
    spdlog::error("ingest: message dropped: {}", e.what());
    count(DropReason::kBadTopic);
  }
}

void IngestService::handle(std::string_view topic, std::string_view payload) {
  // The spec counts characters; bytes are a stricter (never looser) bound and need no decode.
  if (payload.size() > options_.max_payload_size)
    return count(DropReason::kOversize);
  const auto parsed = ingest::parseIngestTopic(topic, options_.domain);
  if (const auto* reason = std::get_if<DropReason>(&parsed))
    return count(*reason);
  if (!ingest::isStorableText(payload))
    return count(DropReason::kInvalidUtf8);
  const auto now = clock_();

  if (const auto* value = std::get_if<ingest::ValueTopic>(&parsed)) {
    values_in_.fetch_add(1, std::memory_order_relaxed);
    const auto numeric = ingest::parseNumeric(payload);
    ingest::ValueDecision decision;
    {
      std::lock_guard lock(nodes_mutex_);
      const auto it = nodes_.find(value->node);
      if (it == nodes_.end())
        return count(DropReason::kUnknownNode);
      decision = ingest::decideValue(it->second, payload, numeric, now);
    }
    if (!decision.update_last)
      values_unchanged_.fetch_add(1, std::memory_order_relaxed);
    if (!decision.update_last && !decision.write_history)
      return;
    enqueue(ValueItem{value->node, std::string(payload), numeric, now, decision.update_last,
                      decision.write_history});
    return;
  }

  if (const auto* state = std::get_if<ingest::StateTopic>(&parsed)) {
    states_in_.fetch_add(1, std::memory_order_relaxed);
    auto filtered = ingest::filterState(payload);
    if (!filtered)
      return count(DropReason::kBadState);
    {
      std::lock_guard lock(throttle_mutex_);
      if (!throttle_.admit(state->unit, filtered->version, now)) {
        return count(DropReason::kStateTooEarly);
      }
    }
    enqueue(StateItem{store::UnitStateWrite{state->unit, std::move(filtered->json),
                                            std::move(filtered->version), now}});
    return;
  }

  const auto& log = std::get<ingest::LogTopic>(parsed);
  logs_in_.fetch_add(1, std::memory_order_relaxed);
  auto entries = ingest::parseLogs(payload, now);
  if (!entries)
    return count(DropReason::kBadLog);
  for (std::size_t i = 0; i < entries->skipped; ++i)
    count(DropReason::kBadLog);
  if (entries->entries.empty())
    return;
  LogItem item;
  item.at = now;
  const auto expires = now + options_.log_ttl;
  for (auto& e : entries->entries) {
    item.rows.push_back(store::UnitLogWrite{log.unit, std::move(e.level), std::move(e.text),
                                            e.create_datetime, expires});
  }
  enqueue(std::move(item));
}

void IngestService::enqueue(Item item) {
  bool wake = false;
  {
    std::lock_guard lock(queue_mutex_);
    if (queue_.size() >= options_.queue_capacity) {
      queue_.pop_front();
      count(DropReason::kQueueOverflow);
    }
    queue_.push_back(std::move(item));
    wake = queue_.size() >= options_.batch_max;
  }
  if (wake)
    queue_cv_.notify_one();
}

void IngestService::nodeCreated(const domain::Uuid& node, const std::string& history_policy,
                                std::optional<double> deadband) {
  std::lock_guard lock(nodes_mutex_);
  auto& memory = nodes_[node];
  memory.policy =
      ingest::parseHistoryPolicy(history_policy).value_or(ingest::HistoryPolicy::kChanges);
  memory.deadband = deadband;
  created_by_hook_[node] = clock_();
}

void IngestService::nodeDeleted(const domain::Uuid& node) {
  std::lock_guard lock(nodes_mutex_);
  nodes_.erase(node);
  created_by_hook_.erase(node);
}

bool IngestService::refreshNodes() noexcept {
  std::vector<store::IngestNode> rows;
  try {
    rows = store_.loadNodes();
  } catch (const std::exception& e) {
    spdlog::warn("ingest: node refresh failed: {}", e.what());
    return false;
  }
  try {
    const auto now = clock_();
    std::unordered_set<domain::Uuid> present;
    present.reserve(rows.size());
    std::lock_guard lock(nodes_mutex_);
    for (auto& row : rows) {
      present.insert(row.uuid);
      auto [it, inserted] = nodes_.try_emplace(row.uuid);
      auto& memory = it->second;
      memory.policy =
          ingest::parseHistoryPolicy(row.history_policy).value_or(ingest::HistoryPolicy::kChanges);
      memory.deadband = row.history_deadband;
      // Adopt the stored value when it is newer than ours: written through REST or by another
      // instance. Ours may be newer (queued, not flushed yet): then keep it.
      if (inserted || row.last_update > memory.last_at) {
        if (!inserted && memory.last_value != row.state) {
          memory.last_history_numeric.reset();
        }
        memory.last_value = std::move(row.state);
        memory.last_at = row.last_update;
        if (inserted && memory.last_value) {
          memory.last_history_numeric = ingest::parseNumeric(*memory.last_value);
        }
      }
    }
    // Forget deleted nodes, except those a hook added after our snapshot may have been taken.
    const auto grace = 2 * options_.node_refresh + std::chrono::seconds(1);
    for (auto it = created_by_hook_.begin(); it != created_by_hook_.end();) {
      it = now - it->second > grace ? created_by_hook_.erase(it) : std::next(it);
    }
    for (auto it = nodes_.begin(); it != nodes_.end();) {
      if (!present.contains(it->first) && !created_by_hook_.contains(it->first)) {
        it = nodes_.erase(it);
      } else {
        ++it;
      }
    }
    nodes_loaded_ = true;
    return true;
  } catch (const std::exception& e) {
    spdlog::error("ingest: node refresh failed: {}", e.what());
    return false;
  }
}

void IngestService::writeBatch(std::vector<Item>& batch, bool retry) {
  std::vector<store::LastValueWrite> last_values;
  std::vector<store::HistoryWrite> history;
  std::vector<store::UnitLogWrite> logs;
  std::vector<store::UnitStateWrite> states;
  store::Timestamp oldest = store::Timestamp::max();
  // Only the newest value per node goes to the last-value column; history keeps them all.
  std::unordered_map<domain::Uuid, std::size_t> last_index;
  for (auto& item : batch) {
    if (auto* v = std::get_if<ValueItem>(&item)) {
      oldest = std::min(oldest, v->at);
      if (v->write_history)
        history.push_back({v->node, v->value, v->numeric, v->at});
      if (v->update_last) {
        const auto [it, inserted] = last_index.try_emplace(v->node, last_values.size());
        if (inserted) {
          last_values.push_back({v->node, std::move(v->value), v->at});
        } else {
          last_values[it->second] = {v->node, std::move(v->value), v->at};
        }
      }
    } else if (auto* s = std::get_if<StateItem>(&item)) {
      oldest = std::min(oldest, s->state.at);
      states.push_back(std::move(s->state));
    } else {
      auto& l = std::get<LogItem>(item);
      oldest = std::min(oldest, l.at);
      for (auto& row : l.rows)
        logs.push_back(std::move(row));
    }
  }

  // Runs `step` until it succeeds, retrying outages while `retry` and we are not stopping.
  const auto attempt = [&](const char* what, std::size_t rows, auto&& step) {
    while (true) {
      try {
        step();
        return;
      } catch (const Unavailable& e) {
        bool stopping = false;
        {
          std::unique_lock lock(queue_mutex_);
          stopping = stopping_;
          if (retry && !stopping) {
            queue_cv_.wait_for(lock, options_.retry_delay, [this] { return stopping_; });
          }
        }
        if (!retry || stopping) {
          spdlog::error("ingest: {} lost ({} rows), database unavailable: {}", what, rows,
                        e.what());
          for (std::size_t i = 0; i < rows; ++i)
            count(DropReason::kWriteFailed);
          return;
        }
        write_retries_.fetch_add(1, std::memory_order_relaxed);
      } catch (const std::exception& e) {
        spdlog::error("ingest: {} rejected ({} rows): {}", what, rows, e.what());
        for (std::size_t i = 0; i < rows; ++i)
          count(DropReason::kWriteFailed);
        return;
      }
    }
  };

  if (!last_values.empty() || !history.empty()) {
    attempt("value batch", last_values.size() + history.size(), [&] {
      store_.writeValues(last_values, history);
      last_values_written_.fetch_add(last_values.size(), std::memory_order_relaxed);
      history_rows_written_.fetch_add(history.size(), std::memory_order_relaxed);
    });
  }
  // States go in one statement; if the database rejects the batch (not an outage), they are
  // retried one by one, so a single unstorable state cannot take the others with it.
  const auto save_states = [&](std::span<const store::UnitStateWrite> part) {
    std::vector<std::optional<store::UpdateStatusChange>> applied(part.size());
    const auto found =
        store_.saveStates(part, [&](std::size_t i, const store::UpdateStatusView& view) {
          applied[i] = ingest::advanceUpdateStatus(view, part[i].commit_version, part[i].at,
                                                   options_.state_interval);
          return applied[i];
        });
    for (std::size_t i = 0; i < part.size(); ++i) {
      if (!found[i]) {
        count(DropReason::kUnknownUnit);
        continue;
      }
      states_saved_.fetch_add(1, std::memory_order_relaxed);
      if (applied[i] && applied[i]->status == "Success")
        updates_succeeded_.fetch_add(1);
      if (applied[i] && applied[i]->status == "Error")
        updates_failed_.fetch_add(1);
    }
  };
  bool states_rejected = false;
  if (!states.empty()) {
    attempt("state batch", states.size(), [&] {
      if (states.size() == 1)
        return save_states(states);
      try {
        save_states(states);
      } catch (const Unavailable&) {
        throw;
      } catch (const std::exception& e) {
        spdlog::warn("ingest: state batch rejected ({} states), storing one by one: {}",
                     states.size(), e.what());
        states_rejected = true;
      }
    });
  }
  if (states_rejected) {
    for (std::size_t i = 0; i < states.size(); ++i)
      attempt("state", 1, [&] { save_states(std::span(states).subspan(i, 1)); });
  }
  if (!logs.empty()) {
    attempt("log batch", logs.size(), [&] {
      const auto stored = store_.insertLogs(logs);
      log_rows_written_.fetch_add(stored, std::memory_order_relaxed);
      for (std::size_t i = stored; i < logs.size(); ++i)
        count(DropReason::kUnknownUnit);
    });
  }
  batches_.fetch_add(1, std::memory_order_relaxed);
  if (oldest != store::Timestamp::max()) {
    const double lag = millisBetween(oldest, clock_());
    last_batch_lag_ms_.store(lag, std::memory_order_relaxed);
    atomicMax(max_batch_lag_ms_, lag);
  }
}

std::size_t IngestService::flushNow() {
  std::lock_guard flush_lock(flush_mutex_);
  std::size_t processed = 0;
  while (true) {
    std::vector<Item> batch;
    {
      std::lock_guard lock(queue_mutex_);
      const auto n = std::min(queue_.size(), std::max(options_.batch_max, options_.batch_rows_max));
      if (n == 0)
        break;
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    bool stopping = false;
    {
      std::lock_guard lock(queue_mutex_);
      stopping = stopping_;
    }
    writeBatch(batch, !stopping);
    processed += batch.size();
  }
  return processed;
}

void IngestService::writerLoop() {
  while (true) {
    {
      std::unique_lock lock(queue_mutex_);
      queue_cv_.wait_for(lock, options_.flush_interval,
                         [this] { return stopping_ || queue_.size() >= options_.batch_max; });
      if (stopping_)
        break;
    }
    flushNow();
  }
  flushNow();  // whatever arrived before stop(), one attempt
}

std::size_t IngestService::sweepOnce() noexcept {
  try {
    const auto cutoff = clock_() - 2 * options_.state_interval;
    const auto n = store_.expireUpdateRequests(
        cutoff, ingest::updateTimeoutError(options_.state_interval.count()));
    if (n > 0) {
      updates_failed_.fetch_add(n, std::memory_order_relaxed);
      spdlog::info("ingest: {} firmware update(s) timed out", n);
    }
    return n;
  } catch (const std::exception& e) {
    spdlog::warn("ingest: update sweep failed: {}", e.what());
    return 0;
  }
}

void IngestService::housekeepingLoop() {
  using steady = std::chrono::steady_clock;
  auto next_refresh = steady::now() + options_.node_refresh;
  auto next_sweep = steady::now();
  auto next_maintenance = steady::now();
  auto next_stats = steady::now() + options_.stats_log_interval;
  bool loaded = false;
  {
    std::lock_guard lock(nodes_mutex_);
    loaded = nodes_loaded_;
  }
  while (true) {
    const auto now = steady::now();
    if (!loaded || now >= next_refresh) {
      loaded = refreshNodes() || loaded;
      // Until the first load succeeds, retry quickly: unknown nodes are dropped meanwhile.
      next_refresh = now + (loaded ? options_.node_refresh : options_.retry_delay);
    }
    if (now >= next_sweep) {
      sweepOnce();
      next_sweep = now + options_.sweep_interval;
    }
    if (now >= next_maintenance) {
      try {
        store_.maintainHistory();
        next_maintenance = now + options_.maintenance_interval;
      } catch (const std::exception& e) {
        spdlog::warn("ingest: history maintenance failed: {}", e.what());
        next_maintenance = now + std::chrono::seconds(30);
      }
    }
    if (now >= next_stats) {
      logStats();
      next_stats = now + options_.stats_log_interval;
    }
    const auto wake = std::min({next_refresh, next_sweep, next_maintenance, next_stats});
    std::unique_lock lock(queue_mutex_);
    if (queue_cv_.wait_until(lock, wake, [this] { return stopping_; }))
      break;
  }
}

void IngestService::start() {
  {
    std::lock_guard lock(queue_mutex_);
    if (writer_.joinable())
      return;
    stopping_ = false;
  }
  refreshNodes();  // best effort now; housekeeping keeps trying when Postgres is not up yet
  writer_ = std::thread([this] { writerLoop(); });
  housekeeping_ = std::thread([this] { housekeepingLoop(); });
}

void IngestService::stop() {
  {
    std::lock_guard lock(queue_mutex_);
    if (!writer_.joinable() && !housekeeping_.joinable())
      return;
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (housekeeping_.joinable())
    housekeeping_.join();
  if (writer_.joinable())
    writer_.join();
  logStats();
}

IngestService::Stats IngestService::stats() const {
  Stats s;
  s.messages_in = messages_in_.load();
  s.values_in = values_in_.load();
  s.states_in = states_in_.load();
  s.logs_in = logs_in_.load();
  s.values_unchanged = values_unchanged_.load();
  s.last_values_written = last_values_written_.load();
  s.history_rows_written = history_rows_written_.load();
  s.states_saved = states_saved_.load();
  s.log_rows_written = log_rows_written_.load();
  s.updates_succeeded = updates_succeeded_.load();
  s.updates_failed = updates_failed_.load();
  s.batches = batches_.load();
  s.write_retries = write_retries_.load();
  s.last_batch_lag_ms = last_batch_lag_ms_.load();
  s.max_batch_lag_ms = max_batch_lag_ms_.load();
  for (std::size_t i = 0; i < s.dropped.size(); ++i)
    s.dropped[i] = dropped_[i].load();
  {
    std::lock_guard lock(queue_mutex_);
    s.queue_depth = queue_.size();
  }
  {
    std::lock_guard lock(nodes_mutex_);
    s.known_nodes = nodes_.size();
  }
  return s;
}

void IngestService::logStats() const {
  const auto s = stats();
  std::string dropped;
  for (std::size_t i = 0; i < s.dropped.size(); ++i) {
    if (s.dropped[i] == 0)
      continue;
    dropped += (dropped.empty() ? "" : " ") +
               std::string(ingest::dropReasonName(static_cast<DropReason>(i))) + "=" +
               std::to_string(s.dropped[i]);
  }
  spdlog::info(
      "ingest: in={} values={} states={} logs={} unchanged={} last_values={} history={} "
      "states_saved={} log_rows={} batches={} retries={} queue={} nodes={} lag_ms={:.1f} "
      "max_lag_ms={:.1f} dropped=[{}]",
      s.messages_in, s.values_in, s.states_in, s.logs_in, s.values_unchanged, s.last_values_written,
      s.history_rows_written, s.states_saved, s.log_rows_written, s.batches, s.write_retries,
      s.queue_depth, s.known_nodes, s.last_batch_lag_ms, s.max_batch_lag_ms, dropped);
}

}  // namespace pepeunit::service
