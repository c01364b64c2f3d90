// The instance-wide counters behind GET /metrics/ (spec §2.7).
#pragma once

#include <cstdint>

namespace pepeunit::store {

struct InstanceCounters {
  std::int64_t users = 0;
  std::int64_t repos = 0;
  std::int64_t units = 0;
  std::int64_t unit_nodes = 0;
  std::int64_t unit_node_edges = 0;
};

class MetricsStore {
 public:
  virtual ~MetricsStore() = default;
  /// One consistent snapshot of the five row counts.
  virtual InstanceCounters counters() = 0;
};

}  // namespace pepeunit::store
