// Node reconcile when a Unit's target version changes (pepeunit_backend_spec.md §7.6 step 5) and
// the initial node set of a new Unit: which UnitNodes to create and which to delete so that the
// Unit has exactly one Input node per input_topic name and one Output node per output_topic name.
#pragma once

#include <string>
#include <vector>

#include "domain/enums.hpp"
#include "domain/schema_file.hpp"
#include "domain/uuid.hpp"

namespace pepeunit::domain {

/// A UnitNode of the Unit as stored.
struct ExistingNode {
  UnitNodeType type = UnitNodeType::kInput;
  std::string topic_name;
  Uuid uuid;
};

struct NodeToCreate {
  UnitNodeType type = UnitNodeType::kInput;
  std::string topic_name;
};

struct ReconcilePlan {
  /// Inputs first, then Outputs, each in schema order.
  std::vector<NodeToCreate> create;
  /// Nodes whose name left the schema (their edges and permissions cascade), plus duplicates of
  /// a (type, name) pair beyond the first listed in `current` (the DB does not enforce the
  /// uniqueness; reconcile restores it). In `current` order.
  std::vector<Uuid> remove;

  bool empty() const { return create.empty() && remove.empty(); }
};

/// What to do so that `current` matches `schema`. Nodes that stay keep their uuid (and thereby
/// their topics, edges, permissions and state). An empty `current` gives the initial node set.
ReconcilePlan planNodeReconcile(const std::vector<ExistingNode>& current,
                                const SchemaExample& schema);

}  // namespace pepeunit::domain
