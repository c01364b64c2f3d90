// HistoryStore over PostgreSQL (schemas/sql/0005_value_history.sql).
#pragma once

#include "store/history_store.hpp"
#include "store/pg/pool.hpp"

namespace pepeunit::store::pg {

class PgHistoryStore : public HistoryStore {
 public:
  explicit PgHistoryStore(Pool& pool) : pool_(pool) {}

  HistoryPage values(const domain::Uuid& node, Timestamp from, Timestamp to,
                     std::int64_t limit) override;
  std::vector<Aggregate> aggregates(const domain::Uuid& node, AggregateBucket bucket,
                                    Timestamp from, Timestamp to) override;
  UnitLogPage logs(const UnitLogFilter& filter) override;

 private:
  Pool& pool_;
};

}  // namespace pepeunit::store::pg
