// SQL for the value history, its aggregates and unit logs. Times travel as microseconds since
// the epoch (bigint) and are turned into timestamps by exact interval arithmetic, never through
// a double.
#include "store/pg/pg_history_store.hpp"

#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "store/pg/errors.hpp"
#include "store/pg/sql_support.hpp"

namespace pepeunit::store::pg {
namespace {

// The newest $4 values of node $1 in [$2, $3), returned oldest first; `total` counts the range
// (the window is evaluated before LIMIT).
constexpr const char* kValues =
    "SELECT value, numeric_value, (EXTRACT(EPOCH FROM created_at) * 1000000)::bigint, total"
    " FROM (SELECT value, numeric_value, created_at, count(*) OVER () AS total"
    "  FROM unit_node_values WHERE unit_node_uuid = $1"
    "   AND created_at >= TIMESTAMPTZ 'epoch' + $2::bigint * INTERVAL '1 microsecond'"
    "   AND created_at < TIMESTAMPTZ 'epoch' + $3::bigint * INTERVAL '1 microsecond'"
    "  ORDER BY created_at DESC LIMIT $4::bigint) newest"
    " ORDER BY created_at ASC";

// Hours from the rollups, plus raw values for hours without a rollup row (maintenance rolls up
// only the last hours, so the current hour is usually not there yet); then truncated to the
// asked bucket ($4 = 'hour' | 'day') with a count-weighted average.
constexpr const char* kAggregates =
    "WITH bounds AS (SELECT TIMESTAMPTZ 'epoch' + $2::bigint * INTERVAL '1 microsecond' AS lo,"
    "                       TIMESTAMPTZ 'epoch' + $3::bigint * INTERVAL '1 microsecond' AS hi),"
    " hours AS ("
    "  SELECT r.bucket_start, r.avg_value, r.min_value, r.max_value, r.value_count"
    "  FROM unit_node_value_rollups r, bounds b"
    "  WHERE r.unit_node_uuid = $1 AND r.bucket_start >= b.lo AND r.bucket_start < b.hi"
    "  UNION ALL"
    "  SELECT date_trunc('hour', v.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',"
    "         avg(v.numeric_value), min(v.numeric_value), max(v.numeric_value), count(*)"
    "  FROM unit_node_values v, bounds b"
    "  WHERE v.unit_node_uuid = $1 AND v.numeric_value IS NOT NULL"
    "   AND v.created_at >= b.lo AND v.created_at < b.hi"
    "   AND NOT EXISTS (SELECT 1 FROM unit_node_value_rollups r WHERE r.unit_node_uuid = $1"
    "    AND r.bucket_start = date_trunc('hour', v.created_at AT TIME ZONE 'UTC') AT TIME ZONE"
    "    'UTC')"
    "  GROUP BY 1)"
    " SELECT (EXTRACT(EPOCH FROM date_trunc($4::text, bucket_start AT TIME ZONE 'UTC')) * 1000000)"
    "        ::bigint AS bucket,"
    "        sum(avg_value * value_count) / sum(value_count), min(min_value), max(max_value),"
    "        sum(value_count)::bigint"
    " FROM hours GROUP BY 1 ORDER BY 1";

// $2 = levels array or NULL, $3/$4 = bounds in microseconds or NULL. create_datetime is a naive
// UTC timestamp.
constexpr const char* kLogWhere =
    " FROM unit_logs WHERE unit_uuid = $1"
    " AND ($2::text[] IS NULL OR level = ANY($2::text[]))"
    " AND ($3::bigint IS NULL OR"
    "      create_datetime >= TIMESTAMP 'epoch' + $3::bigint * INTERVAL '1 microsecond')"
    " AND ($4::bigint IS NULL OR"
    "      create_datetime < TIMESTAMP 'epoch' + $4::bigint * INTERVAL '1 microsecond')";

const std::string kCountLogs = std::string("SELECT count(*)") + kLogWhere;
const std::string kListLogs =
    std::string(
        "SELECT uuid::text, level, text, (EXTRACT(EPOCH FROM create_datetime) * 1000000)::bigint,"
        " (EXTRACT(EPOCH FROM expires_at) * 1000000)::bigint, unit_uuid::text") +
    kLogWhere + " ORDER BY create_datetime, uuid OFFSET $5::bigint LIMIT $6::bigint";

std::int64_t micros(Timestamp time) {
  return time.time_since_epoch().count();
}

// libpqxx 6 has no std::optional parameters: a null `const char*` is sent as SQL NULL.
class NullableParam {
 public:
  explicit NullableParam(std::optional<std::string> value) : value_(std::move(value)) {}
  const char* get() const { return value_ ? value_->c_str() : nullptr; }

 private:
  std::optional<std::string> value_;
};

NullableParam optionalMicros(const std::optional<Timestamp>& time) {
  return NullableParam(time ? std::optional<std::string>(std::to_string(micros(*time)))
                            : std::nullopt);
}

}  // namespace

HistoryPage PgHistoryStore::values(const domain::Uuid& node, Timestamp from, Timestamp to,
                                   std::int64_t limit) {
  return translateErrors([&] {
    return pool_.withRead([&](pqxx::nontransaction& tx) {
      const auto rows = tx.exec_params(kValues, node.toString(), micros(from), micros(to), limit);
      HistoryPage page;
      for (const auto& row : rows) {
        HistoryValue value;
        value.value = row[0].c_str();
        if (!row[1].is_null())
          value.numeric = row[1].as<double>();
        value.created_at = timestampOf(row[2]);
        page.count = row[3].as<std::int64_t>();
        page.values.push_back(std::move(value));
      }
      return page;
    });
  });
}

std::vector<Aggregate> PgHistoryStore::aggregates(const domain::Uuid& node, AggregateBucket bucket,
                                                  Timestamp from, Timestamp to) {
  const std::string unit = bucket == AggregateBucket::kDay ? "day" : "hour";
  return translateErrors([&] {
    return pool_.withRead([&](pqxx::nontransaction& tx) {
      const auto rows =
          tx.exec_params(kAggregates, node.toString(), micros(from), micros(to), unit);
      std::vector<Aggregate> out;
      for (const auto& row : rows) {
        out.push_back(Aggregate{timestampOf(row[0]), row[1].as<double>(), row[2].as<double>(),
                                row[3].as<double>(), row[4].as<std::int64_t>()});
      }
      return out;
    });
  });
}

UnitLogPage PgHistoryStore::logs(const UnitLogFilter& filter) {
  const NullableParam levels(filter.levels.empty()
                                 ? std::nullopt
                                 : std::optional<std::string>(arrayLiteral(
                                       filter.levels, [](const std::string& l) { return l; })));
  const auto from = optionalMicros(filter.from);
  const auto to = optionalMicros(filter.to);
  const auto unit = filter.unit.toString();
  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) {
      UnitLogPage page;
      page.count = tx.exec_params1(kCountLogs, unit, levels.get(), from.get(), to.get())[0]
                       .as<std::int64_t>();
      const auto rows = tx.exec_params(kListLogs, unit, levels.get(), from.get(), to.get(),
                                       filter.offset, filter.limit);
      for (const auto& row : rows) {
        page.rows.push_back(UnitLog{uuidOf(row[0]), row[1].c_str(), row[2].c_str(),
                                    timestampOf(row[3]), timestampOf(row[4]), uuidOf(row[5])});
      }
      return page;
    });
  });
}

}  // namespace pepeunit::store::pg
