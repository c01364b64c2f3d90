// Ingest statements. Batches travel as PostgreSQL array literals (libpqxx 6 cannot bind
// arrays) and are unnested server-side, so a batch of any size is one statement and one round
// trip. Times travel as microseconds since the Unix epoch and are rebuilt exactly in SQL
// (`'epoch' + n * 1 µs`): naive UTC `timestamp` for the original's columns, `timestamptz` for the
// history.
#include "store/pg/pg_ingest_store.hpp"

#include <algorithm>
#include <charconv>
#include <exception>
#include <future>
#include <map>
#include <pqxx/pqxx>
#include <unordered_set>

#include "store/pg/errors.hpp"

namespace pepeunit::store::pg {
namespace {

constexpr const char* kLoadNodes =
    "SELECT uuid::text, history_policy, history_deadband, state,"
    "       (EXTRACT(EPOCH FROM last_update_datetime) * 1000000)::bigint"
    " FROM units_nodes";

// Last values and history in one statement: the data-modifying CTE runs exactly once even
// though the INSERT does not read it. `IS DISTINCT FROM` skips rows that already hold the value
// (another instance got there first) and `last_update_datetime <= ts` keeps a slower instance
// from overwriting a newer value with an older one.
constexpr const char* kWriteValues =
    "WITH v AS ("
    "  SELECT u, s, timestamp 'epoch' + t * interval '1 microsecond' AS ts"
    "  FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS x(u, s, t)),"
    " upd AS ("
    "  UPDATE units_nodes AS n SET state = v.s, last_update_datetime = v.ts FROM v"
    "  WHERE n.uuid = v.u AND n.state IS DISTINCT FROM v.s AND n.last_update_datetime <= v.ts"
    "  RETURNING 1)"
    " INSERT INTO unit_node_values (unit_node_uuid, value, numeric_value, created_at)"
    " SELECT u, s, x, timestamptz 'epoch' + t * interval '1 microsecond'"
    " FROM unnest($4::uuid[], $5::text[], $6::float8[], $7::bigint[]) AS h(u, s, x, t)";

// The update columns of those of a batch's units that wait for a firmware update (the only
// status a state can move), locked in uuid order (a stable order across instances). The others
// are not locked: a unit that starts waiting meanwhile keeps its status (the UPDATE below writes
// a status only where one was decided), which is right, since a state received before the
// Update command went out cannot complete it.
constexpr const char* kLockWaitingUnits =
    "SELECT uuid::text, firmware_update_status, firmware_update_target,"
    "       (EXTRACT(EPOCH FROM last_firmware_update_datetime) * 1000000)::bigint"
    " FROM units WHERE uuid = ANY($1::uuid[]) AND firmware_update_status = 'RequestSent'"
    " ORDER BY uuid FOR UPDATE";

// One row per unit: its last state of the batch and, when the status machine moved, the new
// status (the error is null for Success) with the request datetime cleared.
constexpr const char* kSaveStates =
    "UPDATE units AS u SET unit_state_dict = x.s, current_commit_version = x.v,"
    " last_update_datetime = timestamp 'epoch' + x.t * interval '1 microsecond',"
    " firmware_update_status = COALESCE(x.st, u.firmware_update_status),"
    " firmware_update_error = CASE WHEN x.st IS NULL THEN u.firmware_update_error ELSE x.e END,"
    " last_firmware_update_datetime ="
    "   CASE WHEN x.st IS NULL THEN u.last_firmware_update_datetime ELSE NULL END"
    " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[])"
    "   AS x(id, s, v, t, st, e)"
    " WHERE u.uuid = x.id RETURNING u.uuid::text";

constexpr const char* kInsertLogs =
    "INSERT INTO unit_logs (unit_uuid, level, text, create_datetime, expires_at)"
    " SELECT x.u, x.l, x.m, timestamp 'epoch' + x.c * interval '1 microsecond',"
    "        timestamp 'epoch' + x.e * interval '1 microsecond'"
    " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::bigint[])"
    "   AS x(u, l, m, c, e)"
    " JOIN units ON units.uuid = x.u";

constexpr const char* kExpireUpdates =
    "UPDATE units SET firmware_update_status = 'Error', firmware_update_error = $1,"
    " last_firmware_update_datetime = NULL"
    " WHERE firmware_update_status = 'RequestSent'"
    "   AND last_firmware_update_datetime < timestamp 'epoch' + $2::bigint * interval '1 "
    "microsecond'";

constexpr const char* kMaintain = "SELECT pepeunit_history_maintain()";

// From this many units on, a state batch is written as two halves in parallel.
constexpr std::size_t kParallelStatesMin = 256;

std::int64_t micros(Timestamp t) {
  return t.time_since_epoch().count();
}

/// Builds `{a,b,...}` array literals element by element.
class ArrayLiteral {
 public:
  ArrayLiteral() { text_.push_back('{'); }
  void add(std::string_view raw) {
    separator();
    text_.append(raw);
  }
  void addQuoted(std::string_view value) {
    separator();
    text_.push_back('"');
    for (const char c : value) {
      if (c == '"' || c == '\\')
        text_.push_back('\\');
      text_.push_back(c);
    }
    text_.push_back('"');
  }
  void addUuid(const domain::Uuid& uuid) { add(uuid.toString()); }
  void addNullable(const std::optional<std::string>& value) {
    if (value) {
      addQuoted(*value);
    } else {
      add("NULL");
    }
  }
  void addInt(std::int64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    add(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
  }
  void addDouble(std::optional<double> v) {
    if (!v) {
      add("NULL");
      return;
    }
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, *v);
    add(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
  }
  std::string finish() {
    text_.push_back('}');
    return std::move(text_);
  }
  void reserve(std::size_t n) { text_.reserve(n); }

 private:
  void separator() {
    if (text_.size() > 1)
      text_.push_back(',');
  }
  std::string text_;
};

}  // namespace

std::vector<IngestNode> PgIngestStore::loadNodes() {
  return translateErrors([&] {
    return pool_.withRead([](pqxx::nontransaction& tx) {
      std::vector<IngestNode> nodes;
      const auto rows = tx.exec(kLoadNodes);
      nodes.reserve(rows.size());
      for (const auto& row : rows) {
        const auto uuid = domain::Uuid::parse(row[0].c_str());
        if (!uuid)
          continue;
        IngestNode node;
        node.uuid = *uuid;
        node.history_policy = row[1].c_str();
        if (!row[2].is_null())
          node.history_deadband = row[2].as<double>();
        if (!row[3].is_null())
          node.state = std::string(row[3].c_str(), row[3].size());
        node.last_update = Timestamp(std::chrono::microseconds(row[4].as<std::int64_t>()));
        nodes.push_back(std::move(node));
      }
      return nodes;
    });
  });
}

void PgIngestStore::writeValues(std::span<const LastValueWrite> last_values,
                                std::span<const HistoryWrite> history) {
  if (last_values.empty() && history.empty())
    return;
  // A stable lock order across instances makes deadlocks between two batches rare; the retry
  // below handles the rest.
  std::vector<const LastValueWrite*> sorted;
  sorted.reserve(last_values.size());
  for (const auto& v : last_values)
    sorted.push_back(&v);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->node < b->node; });
  ArrayLiteral lu, ls, lt;
  std::size_t bytes = 0;
  for (const auto* v : sorted)
    bytes += v->value.size() + 4;
  ls.reserve(bytes + 2);
  for (const auto* v : sorted) {
    lu.addUuid(v->node);
    ls.addQuoted(v->value);
    lt.addInt(micros(v->at));
  }
  ArrayLiteral hu, hs, hx, ht;
  bytes = 0;
  for (const auto& h : history)
    bytes += h.value.size() + 4;
  hs.reserve(bytes + 2);
  for (const auto& h : history) {
    hu.addUuid(h.node);
    hs.addQuoted(h.value);
    hx.addDouble(h.numeric);
    ht.addInt(micros(h.at));
  }
  const auto p1 = lu.finish(), p2 = ls.finish(), p3 = lt.finish();
  const auto p4 = hu.finish(), p5 = hs.finish(), p6 = hx.finish(), p7 = ht.finish();
  translateErrors([&] {
    for (int attempt = 0;; ++attempt) {
      try {
        pool_.withRead([&](pqxx::nontransaction& tx) {
          tx.exec_params(kWriteValues, p1, p2, p3, p4, p5, p6, p7);
        });
        return;
      } catch (const pqxx::deadlock_detected&) {
        if (attempt >= 3)
          throw;
      }
    }
  });
}

namespace {

/// What one unit ends a state batch with: the update columns as the status machine leaves
/// them, the indices of its states (arrival order; the last one is written) and the last
/// status change, if any, to write.
struct StateUnit {
  domain::Uuid uuid;
  std::vector<std::size_t> states;
  UpdateStatusView view;
  bool waiting = false;  ///< RequestSent, locked
  std::optional<UpdateStatusChange> change;
};

/// Stores `units` (sorted by uuid) in one transaction; returns the uuids that exist.
std::unordered_set<domain::Uuid> saveStateUnits(Pool& pool, std::span<StateUnit> units,
                                                std::span<const UnitStateWrite> states,
                                                const IngestStore::StatusDecider& decide) {
  ArrayLiteral ids;
  for (const auto& unit : units)
    ids.addUuid(unit.uuid);
  const auto id_list = ids.finish();
  return translateErrors([&] {
    for (int attempt = 0;; ++attempt) {
      try {
        return pool.withTransaction([&](pqxx::work& tx) {
          for (auto& unit : units) {
            unit.view = {};
            unit.waiting = false;
            unit.change.reset();
          }
          for (const auto& row : tx.exec_params(kLockWaitingUnits, id_list)) {
            const auto uuid = domain::Uuid::parse(row[0].c_str());
            const auto it = uuid ? std::lower_bound(units.begin(), units.end(), *uuid,
                                                    [](const StateUnit& u, const domain::Uuid& id) {
                                                      return u.uuid < id;
                                                    })
                                 : units.end();
            if (it == units.end() || it->uuid != *uuid)
              continue;
            it->waiting = true;
            it->view.status = row[1].c_str();
            if (!row[2].is_null())
              it->view.target = row[2].c_str();
            if (!row[3].is_null()) {
              it->view.requested_at =
                  Timestamp(std::chrono::microseconds(row[3].as<std::int64_t>()));
            }
          }
          // A unit's later state sees what its earlier one changed.
          for (auto& unit : units) {
            for (const auto i : unit.states) {
              if (!unit.waiting)
                break;
              if (auto change = decide(i, unit.view)) {
                unit.view.status = change->status;
                unit.view.requested_at.reset();
                unit.change = std::move(change);
                unit.waiting = unit.view.status == "RequestSent";
              }
            }
          }
          ArrayLiteral u, s, v, t, st, e;
          std::size_t bytes = 0;
          for (const auto& unit : units)
            bytes += states[unit.states.back()].state_json.size() * 2 + 4;
          s.reserve(bytes + 2);
          for (const auto& unit : units) {
            const auto& last = states[unit.states.back()];
            u.addUuid(unit.uuid);
            s.addQuoted(last.state_json);
            v.addNullable(last.commit_version);
            t.addInt(micros(last.at));
            st.addNullable(unit.change ? std::optional<std::string>(unit.change->status)
                                       : std::nullopt);
            e.addNullable(unit.change ? unit.change->error : std::nullopt);
          }
          std::unordered_set<domain::Uuid> stored;
          for (const auto& row : tx.exec_params(kSaveStates, u.finish(), s.finish(), v.finish(),
                                                t.finish(), st.finish(), e.finish())) {
            if (const auto uuid = domain::Uuid::parse(row[0].c_str()))
              stored.insert(*uuid);
          }
          return stored;
        });
      } catch (const pqxx::deadlock_detected&) {
        if (attempt >= 3)
          throw;
      }
    }
  });
}

}  // namespace

std::vector<bool> PgIngestStore::saveStates(std::span<const UnitStateWrite> states,
                                            const StatusDecider& decide) {
  std::vector<bool> found(states.size(), false);
  if (states.empty())
    return found;
  std::vector<StateUnit> units;
  {
    std::map<domain::Uuid, std::vector<std::size_t>> by_unit;
    for (std::size_t i = 0; i < states.size(); ++i)
      by_unit[states[i].unit].push_back(i);
    units.reserve(by_unit.size());
    for (auto& [uuid, indices] : by_unit)
      units.push_back({uuid, std::move(indices), {}, false, {}});
  }
  // A large batch is split by uuid range over two connections: a row update of `units` (a
  // non-HOT update through 7 indexes) is CPU-bound in Postgres, and the halves share no row.
  // Each half locks in uuid order, as one transaction would.
  std::unordered_set<domain::Uuid> stored;
  const std::span<StateUnit> all(units);
  if (units.size() >= kParallelStatesMin && pool_.capacity() >= 2) {
    const auto half = units.size() / 2;
    auto low = std::async(std::launch::async,
                          [&] { return saveStateUnits(pool_, all.first(half), states, decide); });
    std::unordered_set<domain::Uuid> high;
    std::exception_ptr high_error;
    try {
      high = saveStateUnits(pool_, all.subspan(half), states, decide);
    } catch (...) {
      high_error = std::current_exception();
    }
    stored = low.get();  // rethrows the low half's error; wait for it either way
    if (high_error)
      std::rethrow_exception(high_error);
    stored.merge(high);
  } else {
    stored = saveStateUnits(pool_, all, states, decide);
  }
  for (std::size_t i = 0; i < states.size(); ++i)
    found[i] = stored.contains(states[i].unit);
  return found;
}

std::size_t PgIngestStore::insertLogs(std::span<const UnitLogWrite> logs) {
  if (logs.empty())
    return 0;
  ArrayLiteral u, l, m, c, e;
  for (const auto& log : logs) {
    u.addUuid(log.unit);
    l.addQuoted(log.level);
    m.addQuoted(log.text);
    c.addInt(micros(log.create_datetime));
    e.addInt(micros(log.expires_at));
  }
  return translateErrors([&] {
    return pool_.withRead([&](pqxx::nontransaction& tx) {
      return static_cast<std::size_t>(
          tx.exec_params(kInsertLogs, u.finish(), l.finish(), m.finish(), c.finish(), e.finish())
              .affected_rows());
    });
  });
}

std::size_t PgIngestStore::expireUpdateRequests(Timestamp cutoff, const std::string& error) {
  return translateErrors([&] {
    return pool_.withRead([&](pqxx::nontransaction& tx) {
      return static_cast<std::size_t>(
          tx.exec_params(kExpireUpdates, error, micros(cutoff)).affected_rows());
    });
  });
}

void PgIngestStore::maintainHistory() {
  translateErrors([&] { pool_.withRead([](pqxx::nontransaction& tx) { tx.exec(kMaintain); }); });
}

}  // namespace pepeunit::store::pg
