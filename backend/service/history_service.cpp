// History and log reads: the access check first, then one store call.
#include "service/history_service.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "common/errors.hpp"

namespace pepeunit::service {
namespace {

constexpr std::array<const char*, 5> kLogLevels = {"Debug", "Info", "Warning", "Error", "Critical"};

}  // namespace

HistoryService::HistoryService(store::HistoryStore& history, store::UnitNodeStore& node_store,
                               UnitNodeService& nodes, Clock clock)
    : history_(history), node_store_(node_store), nodes_(nodes), clock_(std::move(clock)) {}

std::pair<store::Timestamp, store::Timestamp> HistoryService::resolve(
    const TimeRange& range) const {
  const auto to = range.to.value_or(clock_());
  const auto from = range.from.value_or(to - kDefaultSpan);
  if (from > to) {
    throw ValidationError("from must not be after to");
  }
  return {from, to};
}

store::HistoryPage HistoryService::values(const domain::Principal& caller, const domain::Uuid& node,
                                          const TimeRange& range, std::int64_t limit) {
  nodes_.get(caller, node);  // the node's own visibility rules, errors included
  const auto [from, to] = resolve(range);
  return history_.values(node, from, to, limit);
}

std::vector<store::Aggregate> HistoryService::aggregates(const domain::Principal& caller,
                                                         const domain::Uuid& node,
                                                         store::AggregateBucket bucket,
                                                         const TimeRange& range) {
  nodes_.get(caller, node);
  const auto [from, to] = resolve(range);
  return history_.aggregates(node, bucket, from, to);
}

store::UnitLogPage HistoryService::logs(const domain::Principal& caller,
                                        const store::UnitLogFilter& filter) {
  if (caller.isBlocked() || caller.isBot()) {
    throw NoAccess("Only the Unit's creator, an Admin or the Unit itself can read its logs");
  }
  const auto unit = node_store_.findUnit(filter.unit);
  if (!unit) {
    throw ValidationError("The object does not exist");
  }
  const bool self = caller.isUnit() && caller.uuid == filter.unit;
  const bool manager =
      caller.isUser() && domain::canManage(caller, unit->creator.value_or(domain::Uuid{}));
  if (!self && !manager) {
    throw NoAccess("Only the Unit's creator, an Admin or the Unit itself can read its logs");
  }
  for (const auto& level : filter.levels) {
    if (std::find(kLogLevels.begin(), kLogLevels.end(), level) == kLogLevels.end()) {
      throw ValidationError("Unknown log level '" + level + "'");
    }
  }
  return history_.logs(filter);
}

}  // namespace pepeunit::service
