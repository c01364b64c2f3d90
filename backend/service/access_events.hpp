// The port through which use cases announce changes that affect who may use which MQTT topics
// (DESIGN §4, issue 6 item 2): the use case that changed access says so after its write, whether
// it ran for a REST call, the repo scheduler or a sweeper. AclService implements it (recompute
// rule sets, write them through to Redis, publish invalidation events); unit tests record calls.
#pragma once

#include "cache/acl_publisher.hpp"
#include "domain/uuid.hpp"

namespace pepeunit::service {

class AccessEvents {
 public:
  virtual ~AccessEvents() = default;
  /// `unit`'s own access changed (a grant to it, a revoke, an edge into its inputs) or it was
  /// deleted. Never throws: a lost announcement is bounded by the rule sets' ttl.
  virtual void accessChanged(const domain::Uuid& unit, cache::AclChangeKind kind) = 0;
  /// A change whose affected units are not cheaply known (visibility, nodes created or deleted).
  /// Never throws.
  virtual void everythingChanged() = 0;
};

}  // namespace pepeunit::service
