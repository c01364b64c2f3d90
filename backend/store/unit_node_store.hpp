// Persistence of UnitNodes and their edges (pepeunit_backend_spec.md §1.4, §1.5, §1.6, §2.5) as
// the node use cases see it: nodes with the facts about their Unit that the access rules need,
// the visibility-scoped list, the two node writes the API allows, and edges together with the
// automatic permissions that come and go with them. Nodes themselves are created and deleted
// only by the unit reconcile, which lives with the units. Implemented over PostgreSQL in
// store/pg/pg_unit_node_store.*.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "domain/access.hpp"
#include "domain/enums.hpp"
#include "domain/uuid.hpp"
#include "store/user_store.hpp"

namespace pepeunit::store {

/// One `units_nodes` row.
struct UnitNode {
  domain::Uuid uuid;
  domain::UnitNodeType type = domain::UnitNodeType::kInput;
  domain::Visibility visibility_level = domain::Visibility::kPublic;
  bool is_rewritable_input = false;
  std::string topic_name;
  Timestamp create_datetime{};
  std::optional<std::string> state;
  Timestamp last_update_datetime{};
  /// Nullable in the schema (imported data); the Unit's creator otherwise.
  std::optional<domain::Uuid> creator_uuid;
  std::optional<domain::Uuid> unit_uuid;
  /// Value history policy (schemas/sql/0005): off | changes | all, numeric deadband (nullopt =
  /// none) and retention in days.
  std::string history_policy = "changes";
  std::optional<double> history_deadband;
  std::int32_t history_retention_days = 30;
};

/// The history columns a PATCH may change; absent members keep the column.
struct UnitNodeHistoryUpdate {
  std::optional<std::string> policy;
  /// Outer nullopt = keep; inner nullopt = set NULL (no deadband).
  std::optional<std::optional<double>> deadband;
  std::optional<std::int32_t> retention_days;

  bool empty() const { return !policy && !deadband && !retention_days; }
};

/// A node with what the rules need to know about its Unit. The unit fields are empty when the
/// node has no Unit (only possible in imported data).
struct UnitNodeFacts {
  UnitNode node;
  std::optional<domain::Uuid> unit_creator;
  std::optional<domain::Visibility> unit_visibility;
};

/// A Unit as far as the node rules care (the edge list checks that the caller sees it).
struct UnitFacts {
  domain::Uuid uuid;
  std::optional<domain::Uuid> creator;
  domain::Visibility visibility_level = domain::Visibility::kPublic;
};

/// `GET /unit_nodes` filters (§2.5 UnitNodeFilter) except visibility, which the caller passes
/// as a domain::ListScope. Empty vectors mean "no filter on that column".
struct UnitNodeFilter {
  std::vector<domain::Uuid> uuids;
  std::optional<domain::Uuid> unit_uuid;
  /// Every word must be a case-insensitive substring of topic_name, taken literally.
  std::vector<std::string> search_words;
  std::vector<domain::UnitNodeType> types;
  /// Only the Input nodes linked from this Output node by an edge.
  std::optional<domain::Uuid> output_uuid;
  bool newest_first = true;
  std::int64_t offset = 0;
  /// nullopt = no limit.
  std::optional<std::int64_t> limit;
};

struct UnitNodePage {
  /// Matching rows before offset/limit.
  std::int64_t count = 0;
  std::vector<UnitNode> rows;
};

/// One `units_nodes_edges` row.
struct UnitNodeEdge {
  domain::Uuid uuid;
  domain::Uuid node_output_uuid;
  domain::Uuid node_input_uuid;
  std::optional<domain::Uuid> creator_uuid;
};

struct UnitNodeEdgePage {
  std::int64_t count = 0;
  std::vector<UnitNodeEdge> rows;
};

/// What creating an edge writes, in one transaction.
struct NewUnitNodeEdge {
  domain::Uuid node_output_uuid;
  domain::Uuid node_input_uuid;
  domain::Uuid creator_uuid;
  /// The automatic permissions of §1.6 (domain::grantsForEdgeCreated); rows that already exist
  /// are left as they are.
  std::vector<domain::GrantSpec> grants;
};

class UnitNodeStore {
 public:
  virtual ~UnitNodeStore() = default;

  virtual std::optional<UnitNodeFacts> find(const domain::Uuid& uuid) = 0;

  virtual std::optional<UnitFacts> findUnit(const domain::Uuid& uuid) = 0;

  /// The nodes matching `filter` that `scope` admits (level ∈ scope.levels, and a Private row
  /// only when the scope is unrestricted or its uuid is in scope.private_allowed), newest first
  /// unless asked otherwise. A scope that matches nothing gives an empty page.
  virtual UnitNodePage list(const UnitNodeFilter& filter, const domain::ListScope& scope) = 0;

  /// Writes the given columns (and last_update_datetime = now); nullopt when no such node.
  /// Only Input nodes may be rewritable (the schema enforces it too).
  virtual std::optional<UnitNode> updateSettings(const domain::Uuid& uuid,
                                                 std::optional<domain::Visibility> visibility,
                                                 std::optional<bool> is_rewritable_input) = 0;

  /// updateSettings plus the history columns, in one statement. Not pure so that stores which
  /// predate the history policy keep compiling: the default handles only an empty `history`.
  virtual std::optional<UnitNode> updateNodeSettings(const domain::Uuid& uuid,
                                                     std::optional<domain::Visibility> visibility,
                                                     std::optional<bool> is_rewritable_input,
                                                     const UnitNodeHistoryUpdate& history) {
    if (!history.empty()) {
      throw Error(ErrorKind::kInternal, "Internal server error",
                  "this UnitNodeStore cannot change the history policy");
    }
    return updateSettings(uuid, visibility, is_rewritable_input);
  }

  /// Stores the node's value (NULL when `state` is nullopt) and last_update_datetime = now;
  /// nullopt when no such node.
  virtual std::optional<UnitNode> setState(const domain::Uuid& uuid,
                                           const std::optional<std::string>& state) = 0;

  /// Inserts the edge and its grants atomically. Throws Error(kUnitNodeValidation,
  /// "Edge exist") when the (output, input) pair already has an edge, and
  /// ValidationError("The object does not exist") when a node or unit vanished meanwhile.
  virtual UnitNodeEdge createEdge(const NewUnitNodeEdge& edge) = 0;

  virtual std::optional<UnitNodeEdge> findEdge(const domain::Uuid& input,
                                               const domain::Uuid& output) = 0;

  /// Deletes the edge of (input, output) and, in the same transaction, the permissions of
  /// domain::revokesForEdgeDeleted (absent rows are no error). A Unit's grant on its own node
  /// is never revoked, even for an edge between two nodes of the same Unit. False when there
  /// was no such edge.
  virtual bool deleteEdge(const domain::Uuid& input, const domain::Uuid& output) = 0;

  /// The edges with either end on a node of `unit`, ordered by (output, input) node uuid;
  /// `count` is the total before offset/limit.
  virtual UnitNodeEdgePage listUnitEdges(const domain::Uuid& unit, std::int64_t offset,
                                         std::int64_t limit) = 0;
};

}  // namespace pepeunit::store
