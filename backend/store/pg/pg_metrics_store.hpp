// MetricsStore over PostgreSQL.
#pragma once

#include "store/metrics_store.hpp"
#include "store/pg/pool.hpp"

namespace pepeunit::store::pg {

class PgMetricsStore : public MetricsStore {
 public:
  explicit PgMetricsStore(Pool& pool) : pool_(pool) {}
  InstanceCounters counters() override;

 private:
  Pool& pool_;
};

}  // namespace pepeunit::store::pg
