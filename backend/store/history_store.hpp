// Persistence of what the ingest writes for reading back (issue 5 items 3 and 5): a node's value
// history (`unit_node_values`), its numeric aggregates (`unit_node_value_rollups`, with raw values
// standing in for hours not rolled up yet) and a Unit's logs (`unit_logs`). Read-only: the ingest
// and pepeunit_history_maintain write these tables. Implemented over PostgreSQL in
// store/pg/pg_history_store.*.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domain/uuid.hpp"
#include "store/user_store.hpp"

namespace pepeunit::store {

/// One stored value of a node.
struct HistoryValue {
  std::string value;
  /// The value parsed as a finite number at ingest; nullopt otherwise.
  std::optional<double> numeric;
  Timestamp created_at{};
};

struct HistoryPage {
  /// Values in [from, to) before the limit.
  std::int64_t count = 0;
  /// The newest `limit` values in [from, to), oldest first.
  std::vector<HistoryValue> values;
};

enum class AggregateBucket : std::uint8_t { kHour, kDay };

/// avg/min/max/count of the numeric values of one bucket (UTC hour or day).
struct Aggregate {
  Timestamp bucket_start{};
  double avg = 0;
  double min = 0;
  double max = 0;
  std::int64_t count = 0;
};

/// One `unit_logs` row.
struct UnitLog {
  domain::Uuid uuid;
  std::string level;
  std::string text;
  Timestamp create_datetime{};
  Timestamp expiration_datetime{};
  domain::Uuid unit_uuid;
};

struct UnitLogFilter {
  domain::Uuid unit;
  /// Empty = every level.
  std::vector<std::string> levels;
  std::optional<Timestamp> from;  // create_datetime >= from
  std::optional<Timestamp> to;    // create_datetime < to
  std::int64_t offset = 0;
  std::int64_t limit = 0;
};

struct UnitLogPage {
  std::int64_t count = 0;  ///< before offset/limit
  std::vector<UnitLog> rows;
};

class HistoryStore {
 public:
  virtual ~HistoryStore() = default;

  virtual HistoryPage values(const domain::Uuid& node, Timestamp from, Timestamp to,
                             std::int64_t limit) = 0;

  /// Buckets with at least one numeric value whose start lies in [from, to), oldest first.
  /// An hour comes from its rollup row when there is one, else from the raw values of that
  /// hour within [from, to); a day combines its hours (count-weighted average).
  virtual std::vector<Aggregate> aggregates(const domain::Uuid& node, AggregateBucket bucket,
                                            Timestamp from, Timestamp to) = 0;

  /// The Unit's logs matching `filter`, oldest first.
  virtual UnitLogPage logs(const UnitLogFilter& filter) = 0;
};

}  // namespace pepeunit::store
