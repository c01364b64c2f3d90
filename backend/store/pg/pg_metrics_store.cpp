// The five counters in one statement, so they come from one snapshot.
#include "store/pg/pg_metrics_store.hpp"

#include "store/pg/errors.hpp"

namespace pepeunit::store::pg {
namespace {

constexpr const char* kCounters =
    "SELECT (SELECT count(*) FROM users),"
    "       (SELECT count(*) FROM repos),"
    "       (SELECT count(*) FROM units),"
    "       (SELECT count(*) FROM units_nodes),"
    "       (SELECT count(*) FROM units_nodes_edges)";

}  // namespace

InstanceCounters PgMetricsStore::counters() {
  return translateErrors([&] {
    return pool_.withTransaction([](pqxx::work& tx) {
      const auto row = tx.exec(kCounters).at(0);
      return InstanceCounters{row[0].as<std::int64_t>(), row[1].as<std::int64_t>(),
                              row[2].as<std::int64_t>(), row[3].as<std::int64_t>(),
                              row[4].as<std::int64_t>()};
    });
  });
}

}  // namespace pepeunit::store::pg
