// What the broker rule set of a Unit is computed from (auth_plugin_anchors.md §6.3; DESIGN §4):
// the unit's own nodes, the outputs linked into its inputs, and the other units' nodes it may
// see. One read, so the service stays pure and testable with a fake.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "domain/enums.hpp"
#include "domain/uuid.hpp"

namespace pepeunit::store {

struct AclNode {
  domain::Uuid uuid;
  domain::UnitNodeType type = domain::UnitNodeType::kInput;
  bool is_rewritable_input = false;
};

struct AclFacts {
  /// Every node of the unit itself.
  std::vector<AclNode> own_nodes;
  /// Output nodes with an edge into one of the unit's inputs (whatever their visibility: the
  /// edge's creator already had to see them).
  std::vector<domain::Uuid> linked_outputs;
  /// Nodes of OTHER units visible to the unit: Public, Internal, or Private with an active
  /// Permission(Unit → UnitNode). Private-with-grant rows first, then by uuid; at most the
  /// requested number.
  std::vector<AclNode> visible_nodes;
  /// True when more visible nodes exist than were returned.
  bool truncated = false;
  /// Unix seconds of the earliest future `valid_until` among the unit's node grants: the rule
  /// set must be refreshed then.
  std::optional<std::int64_t> next_grant_expiry;
};

class AclStore {
 public:
  virtual ~AclStore() = default;
  /// nullopt when the unit does not exist. `now_unix` decides which grants are active.
  virtual std::optional<AclFacts> factsFor(const domain::Uuid& unit, std::int64_t now_unix,
                                           std::size_t max_visible) = 0;
  /// `node` when it belongs to ANOTHER unit and is visible to `unit` (the visible_nodes rule
  /// above, uncapped); nullopt otherwise. For the topics a partial rule set leaves out.
  virtual std::optional<AclNode> visibleForeignNode(const domain::Uuid& unit,
                                                    const domain::Uuid& node,
                                                    std::int64_t now_unix) = 0;
  /// Units holding a time-limited grant whose `valid_until` fell in (after_unix, until_unix]:
  /// their access shrank without anybody calling an endpoint.
  virtual std::vector<domain::Uuid> unitsWithGrantsLapsed(std::int64_t after_unix,
                                                          std::int64_t until_unix) = 0;
};

}  // namespace pepeunit::store
