// Reading back what the ingest stored (issue 5 items 3 and 5): a node's value history and its
// hourly/daily aggregates, with exactly the visibility rules of GET /unit_nodes/{uuid} (the
// check is UnitNodeService::get itself), and a Unit's logs.
//
// Who may read a Unit's logs: its creator, an Admin, or the Unit itself (its own token). Logs
// are not encrypted, but they are a device's diagnostics, so mere visibility of the Unit (a
// Public unit is visible to anyone) is not enough: the rule is canManage(creator) or self.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "domain/access.hpp"
#include "service/unit_node_service.hpp"
#include "store/history_store.hpp"
#include "store/unit_node_store.hpp"

namespace pepeunit::service {

/// A time range whose ends default to [to - 24 h, now).
struct TimeRange {
  std::optional<store::Timestamp> from;
  std::optional<store::Timestamp> to;
};

class HistoryService {
 public:
  using Clock = std::function<store::Timestamp()>;
  static constexpr std::chrono::hours kDefaultSpan{24};

  HistoryService(store::HistoryStore& history, store::UnitNodeStore& node_store,
                 UnitNodeService& nodes, Clock clock);

  /// Errors: those of UnitNodeService::get; 1 when from > to.
  store::HistoryPage values(const domain::Principal& caller, const domain::Uuid& node,
                            const TimeRange& range, std::int64_t limit);

  /// Errors: those of UnitNodeService::get; 1 when from > to.
  std::vector<store::Aggregate> aggregates(const domain::Principal& caller,
                                           const domain::Uuid& node, store::AggregateBucket bucket,
                                           const TimeRange& range);

  /// `filter.unit` must be readable by the caller (see above). Errors: 403, 2 "The object does
  /// not exist", 1 for an unknown level.
  store::UnitLogPage logs(const domain::Principal& caller, const store::UnitLogFilter& filter);

 private:
  std::pair<store::Timestamp, store::Timestamp> resolve(const TimeRange& range) const;

  store::HistoryStore& history_;
  store::UnitNodeStore& node_store_;
  UnitNodeService& nodes_;
  Clock clock_;
};

}  // namespace pepeunit::service
