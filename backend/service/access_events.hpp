// The port through which use cases announce changes that affect who may use which MQTT topics
// (DESIGN §4, issue 6 item 2): the use case that changed access says so after its write, whether
// it ran for a REST call, the repo scheduler or a sweeper. AclService implements it (recompute
// rule sets, write them through to Redis, publish invalidation events), IngestNodeSync reloads
// the ingest's known nodes; unit tests record calls.
#pragma once

#include <vector>

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

/// Forwards every announcement to each listener in order (the broker rule sets, the ingest's
/// known-node cache). Listeners are added at composition time, before any use case runs.
class AccessEventsFanOut : public AccessEvents {
 public:
  void add(AccessEvents* listener) { listeners_.push_back(listener); }
  void accessChanged(const domain::Uuid& unit, cache::AclChangeKind kind) override {
    for (auto* listener : listeners_) {
      listener->accessChanged(unit, kind);
    }
  }
  void everythingChanged() override {
    for (auto* listener : listeners_) {
      listener->everythingChanged();
    }
  }

 private:
  std::vector<AccessEvents*> listeners_;
};

}  // namespace pepeunit::service
