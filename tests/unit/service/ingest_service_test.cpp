// IngestService over an in-memory store: drops are counted, repeats never reach the store, one
// write per batch with only the newest last value per node, states with the status machine,
// logs, the known-node cache with its hooks, and the update sweeper. Threads are not started:
// the tests drive flushNow/refreshNodes/sweepOnce directly.
#include "service/ingest_service.hpp"

#include <doctest/doctest.h>

#include <map>

#include "common/errors.hpp"

using namespace pepeunit;
using service::IngestService;
using service::ingest::DropReason;
using std::chrono::seconds;
using store::Timestamp;

namespace {

class FakeIngestStore final : public store::IngestStore {
 public:
  std::vector<store::IngestNode> nodes;
  bool down = false;
  int write_calls = 0;
  int state_batches = 0;
  std::optional<std::string> reject_version;  ///< a batch holding it is rejected whole
  std::vector<store::LastValueWrite> last_values;
  std::vector<store::HistoryWrite> history;
  std::map<domain::Uuid, store::UpdateStatusView> units;
  std::map<domain::Uuid, store::UnitStateWrite> states;
  std::vector<store::UnitLogWrite> logs;

  std::vector<store::IngestNode> loadNodes() override {
    if (down)
      throw Unavailable("Database is unavailable");
    return nodes;
  }
  void writeValues(std::span<const store::LastValueWrite> lv,
                   std::span<const store::HistoryWrite> h) override {
    if (down)
      throw Unavailable("Database is unavailable");
    ++write_calls;
    last_values.insert(last_values.end(), lv.begin(), lv.end());
    history.insert(history.end(), h.begin(), h.end());
  }
  std::vector<bool> saveStates(std::span<const store::UnitStateWrite> batch,
                               const StatusDecider& decide) override {
    if (down)
      throw Unavailable("Database is unavailable");
    ++state_batches;
    for (const auto& s : batch) {
      if (reject_version && s.commit_version == reject_version)
        throw std::runtime_error("malformed array literal");  // e.g. a NUL in a version
    }
    std::vector<bool> found;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const auto it = units.find(batch[i].unit);
      found.push_back(it != units.end());
      if (it == units.end())
        continue;
      // Only units waiting for an update are decided (IngestStore::saveStates).
      const bool waiting = it->second.status == "RequestSent";
      if (const auto change = waiting ? decide(i, it->second) : std::nullopt) {
        it->second.status = change->status;
        it->second.requested_at.reset();
      }
      states[batch[i].unit] = batch[i];
    }
    return found;
  }
  std::size_t insertLogs(std::span<const store::UnitLogWrite> l) override {
    std::size_t n = 0;
    for (const auto& row : l) {
      if (units.contains(row.unit)) {
        logs.push_back(row);
        ++n;
      }
    }
    return n;
  }
  std::size_t expireUpdateRequests(Timestamp cutoff, const std::string&) override {
    std::size_t n = 0;
    for (auto& [uuid, u] : units) {
      if (u.status == "RequestSent" && u.requested_at && *u.requested_at < cutoff) {
        u.status = "Error";
        u.requested_at.reset();
        ++n;
      }
    }
    return n;
  }
  void maintainHistory() override {}
};

const std::string kDomain = "127.0.0.1";
const domain::Uuid kNodeA = *domain::Uuid::parse("0f8fad5b-d9cb-469f-a165-70867728950e");
const domain::Uuid kNodeB = *domain::Uuid::parse("1f8fad5b-d9cb-469f-a165-70867728950e");
const domain::Uuid kUnit = *domain::Uuid::parse("2f8fad5b-d9cb-469f-a165-70867728950e");

std::string valueTopic(const domain::Uuid& node) {
  return kDomain + "/" + node.toString() + "/pepeunit";
}
std::string stateTopic(const domain::Uuid& unit) {
  return kDomain + "/output_base_topic/" + unit.toString() + "/state/pepeunit";
}

struct Fixture {
  FakeIngestStore store;
  Timestamp now{std::chrono::sys_days(std::chrono::year(2025) / 1 / 1)};
  IngestService ingest{store,
                       {.domain = kDomain,
                        .max_payload_size = 100,
                        .state_interval = seconds(60),
                        .batch_max = 1000},
                       [this] { return now; }};
  Fixture() {
    store.nodes = {{kNodeA, "changes", std::nullopt, std::nullopt, now},
                   {kNodeB, "off", std::nullopt, std::string("7"), now}};
    REQUIRE(ingest.refreshNodes());
  }
};

}  // namespace

TEST_CASE("ingest service: repeats filtered in memory, one write per batch, newest last value") {
  Fixture f;
  for (const auto* v : {"1", "1", "2", "2", "2", "1"})
    f.ingest.onMessage(valueTopic(kNodeA), v);
  f.ingest.onMessage(valueTopic(kNodeB), "7");  // equals the stored value: nothing to write
  f.ingest.onMessage(valueTopic(kNodeB), "8");  // policy off: last value only
  CHECK(f.ingest.flushNow() == 4);
  CHECK(f.store.write_calls == 1);
  REQUIRE(f.store.last_values.size() == 2);
  CHECK(f.store.last_values[0].node == kNodeA);
  CHECK(f.store.last_values[0].value == "1");
  CHECK(f.store.last_values[1].value == "8");
  REQUIRE(f.store.history.size() == 3);
  CHECK(f.store.history[0].value == "1");
  CHECK(f.store.history[1].value == "2");
  CHECK(f.store.history[2].value == "1");
  CHECK(*f.store.history[0].numeric == 1.0);
  const auto s = f.ingest.stats();
  CHECK(s.values_in == 8);
  CHECK(s.values_unchanged == 4);
  CHECK(s.history_rows_written == 3);
  CHECK(s.batches == 1);
  CHECK(s.droppedTotal() == 0);
}

TEST_CASE("ingest service: bad input is dropped and counted by reason") {
  Fixture f;
  f.ingest.onMessage(valueTopic(kNodeA), std::string(101, 'x'));
  f.ingest.onMessage(valueTopic(kNodeA), "\xff");
  f.ingest.onMessage(valueTopic(*domain::Uuid::parse("3f8fad5b-d9cb-469f-a165-70867728950e")), "1");
  f.ingest.onMessage(kDomain + "/input_base_topic/" + kUnit.toString() + "/update/pepeunit", "{}");
  f.ingest.onMessage(kDomain + "/output_base_topic/" + kUnit.toString() + "/x/pepeunit", "{}");
  f.ingest.onMessage(stateTopic(kUnit), "not json");
  f.ingest.onMessage("garbage", "1");
  f.ingest.onMessage(valueTopic(kNodeA), "ok");
  f.ingest.flushNow();
  const auto s = f.ingest.stats();
  CHECK(s.messages_in == 8);
  CHECK(s.droppedBy(DropReason::kOversize) == 1);
  CHECK(s.droppedBy(DropReason::kInvalidUtf8) == 1);
  CHECK(s.droppedBy(DropReason::kUnknownNode) == 1);
  CHECK(s.droppedBy(DropReason::kOwnCommand) == 1);
  CHECK(s.droppedBy(DropReason::kWrongDestination) == 1);
  CHECK(s.droppedBy(DropReason::kBadState) == 1);
  CHECK(s.droppedBy(DropReason::kBadTopic) == 1);
  REQUIRE(f.store.last_values.size() == 1);
  CHECK(f.store.last_values[0].value == "ok");
}

TEST_CASE("ingest service: node hooks and refresh maintain the known-node cache") {
  Fixture f;
  const auto c = *domain::Uuid::parse("4f8fad5b-d9cb-469f-a165-70867728950e");
  f.ingest.onMessage(valueTopic(c), "1");
  f.ingest.nodeCreated(c, "all");
  f.ingest.onMessage(valueTopic(c), "1");
  f.ingest.onMessage(valueTopic(c), "1");
  f.ingest.refreshNodes();  // not in the store yet, but created by the hook a moment ago: kept
  f.ingest.onMessage(valueTopic(c), "1");
  f.ingest.nodeDeleted(kNodeA);
  f.ingest.onMessage(valueTopic(kNodeA), "1");
  f.ingest.flushNow();
  CHECK(f.ingest.stats().droppedBy(DropReason::kUnknownNode) == 2);
  CHECK(f.store.history.size() == 3);  // policy all: every message
  CHECK(f.store.last_values.size() == 1);
  f.ingest.refreshNodes();  // kNodeA is still in the store: known again
  f.ingest.onMessage(valueTopic(kNodeA), "1");
  CHECK(f.ingest.stats().droppedBy(DropReason::kUnknownNode) == 2);
}

TEST_CASE("ingest service: a value written elsewhere is adopted by the refresh") {
  Fixture f;
  f.ingest.onMessage(valueTopic(kNodeA), "1");
  f.ingest.flushNow();
  f.now += seconds(1);
  f.store.nodes[0].state = "2";  // REST set_state or another instance
  f.store.nodes[0].last_update = f.now;
  f.ingest.refreshNodes();
  f.ingest.onMessage(valueTopic(kNodeA), "2");  // equal to the stored value: filtered
  f.ingest.onMessage(valueTopic(kNodeA), "1");  // a change again
  f.ingest.flushNow();
  REQUIRE(f.store.last_values.size() == 2);
  CHECK(f.store.last_values[1].value == "1");
  CHECK(f.ingest.stats().values_unchanged == 1);
}

TEST_CASE("ingest service: an outage keeps the batch; the queue drops the oldest when full") {
  FakeIngestStore store;
  store.nodes = {{kNodeA, "changes", std::nullopt, std::nullopt, {}}};
  IngestService ingest(store, {.domain = kDomain, .queue_capacity = 3});
  REQUIRE(ingest.refreshNodes());
  for (const auto* v : {"1", "2", "3", "4", "5"})
    ingest.onMessage(valueTopic(kNodeA), v);
  CHECK(ingest.stats().droppedBy(DropReason::kQueueOverflow) == 2);
  CHECK(ingest.stats().queue_depth == 3);
  ingest.flushNow();
  REQUIRE(store.history.size() == 3);
  CHECK(store.history.front().value == "3");
  CHECK(store.last_values.back().value == "5");
}

TEST_CASE("ingest service: states are filtered, throttled and advance the update status") {
  Fixture f;
  f.store.units[kUnit] = {"RequestSent", "newsha", f.now};
  f.ingest.onMessage(stateTopic(kUnit), R"({"commit_version": "oldsha", "millis": 5})");
  f.now += seconds(10);
  f.ingest.onMessage(stateTopic(kUnit), R"({"commit_version": "oldsha"})");  // too early
  f.now += seconds(1);
  f.ingest.onMessage(stateTopic(kUnit), R"({"pu_commit_version": "newsha"})");  // rebooted
  f.ingest.onMessage(stateTopic(*domain::Uuid::parse("5f8fad5b-d9cb-469f-a165-70867728950e")),
                     "{}");
  f.ingest.flushNow();
  const auto s = f.ingest.stats();
  CHECK(s.droppedBy(DropReason::kStateTooEarly) == 1);
  CHECK(s.droppedBy(DropReason::kUnknownUnit) == 1);
  CHECK(s.states_saved == 2);
  CHECK(s.updates_succeeded == 1);
  CHECK(f.store.units[kUnit].status == "Success");
  CHECK(f.store.states[kUnit].commit_version == "newsha");
  CHECK(f.store.state_batches == 1);  // one statement for the whole batch
}

TEST_CASE("ingest service: a rejected state batch is retried state by state") {
  Fixture f;
  const auto unit_b = *domain::Uuid::parse("3f8fad5b-d9cb-469f-a165-70867728950e");
  const auto unit_c = *domain::Uuid::parse("4f8fad5b-d9cb-469f-a165-70867728950e");
  f.store.units[kUnit] = {};
  f.store.units[unit_b] = {};
  f.store.units[unit_c] = {};
  f.store.reject_version = "bad";
  f.ingest.onMessage(stateTopic(kUnit), R"({"commit_version": "a"})");
  f.ingest.onMessage(stateTopic(unit_b), R"({"commit_version": "bad"})");
  f.ingest.onMessage(stateTopic(unit_c), R"({"commit_version": "c"})");
  f.ingest.flushNow();
  const auto s = f.ingest.stats();
  CHECK(s.states_saved == 2);
  CHECK(s.droppedBy(DropReason::kWriteFailed) == 1);
  CHECK(f.store.states.contains(kUnit));
  CHECK(!f.store.states.contains(unit_b));
  CHECK(f.store.states.contains(unit_c));
}

TEST_CASE("ingest service: the sweeper fails silent updates after twice the interval") {
  Fixture f;
  f.store.units[kUnit] = {"RequestSent", "newsha", f.now};
  f.now += seconds(120);
  CHECK(f.ingest.sweepOnce() == 0);
  f.now += seconds(1);
  CHECK(f.ingest.sweepOnce() == 1);
  CHECK(f.store.units[kUnit].status == "Error");
  CHECK(f.ingest.stats().updates_failed == 1);
}

TEST_CASE("ingest service: logs of known units are stored with an expiry") {
  Fixture f;
  f.store.units[kUnit] = {};
  f.ingest.onMessage(kDomain + "/output_base_topic/" + kUnit.toString() + "/log/pepeunit",
                     R"([{"level":"info","text":"a"},{"level":"bad","text":"b"}])");
  f.ingest.onMessage(kDomain + "/output_base_topic/" + kUnit.toString() + "/log/pepeunit", "x");
  f.ingest.flushNow();
  REQUIRE(f.store.logs.size() == 1);
  CHECK(f.store.logs[0].level == "Info");
  CHECK(f.store.logs[0].expires_at == f.now + seconds(86400));
  CHECK(f.ingest.stats().droppedBy(DropReason::kBadLog) == 2);
}
