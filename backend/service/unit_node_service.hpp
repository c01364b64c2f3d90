// UnitNode use cases (pepeunit_backend_spec.md §1.4-§1.6, §1.9, §2.5; issue 4 item 5): read and
// list nodes within the caller's visibility, change a node's settings, set an Input's value
// through the API, and link an Output to an Input with an edge (create, delete, list a Unit's).
// The rules live in domain/access.hpp; this layer loads the facts and applies them.
//
// Who may do what (U = User, A = Admin; an Admin sees and manages everything, see access.hpp):
//   get, list, listUnitEdges   Bot, U, A, Unit; Private objects need a grant
//   update                     the node's creator or an Admin
//   setStateInput              U, A, Unit that can see the node; a Unit only where the Input is
//                              is_rewritable_input
//   createEdge                 U, A that can see both nodes
//   deleteEdge                 the edge's creator, the input node's creator, or an Admin
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "domain/access.hpp"
#include "service/access_events.hpp"
#include "service/command_sender.hpp"
#include "service/node_value_publisher.hpp"
#include "store/permission_store.hpp"
#include "store/unit_node_store.hpp"

namespace pepeunit::service {

/// PATCH /unit_nodes/{uuid}: absent fields stay as they are.
struct UnitNodeUpdate {
  std::optional<domain::Visibility> visibility_level;
  std::optional<bool> is_rewritable_input;
  /// Value history policy (issue 5): policy off|changes|all, deadband >= 0 or null, retention
  /// 1..3650 days. Out-of-range values are error 8 naming the field.
  store::UnitNodeHistoryUpdate history{};
};

class UnitNodeService {
 public:
  using Clock = std::function<std::int64_t()>;  // unix seconds

  UnitNodeService(store::UnitNodeStore& nodes, store::PermissionStore& permissions,
                  CommandSender& commands, NodeValuePublisher& publisher, Clock clock,
                  AccessEvents* events = nullptr);

  /// Errors: 403 (role, visibility), 2 "The object does not exist".
  store::UnitNode get(const domain::Principal& caller, const domain::Uuid& uuid);

  /// The nodes matching `filter` within the caller's list scope (§3.6; `requested_levels` is
  /// the caller's `visibility_level[]`, empty = all).
  store::UnitNodePage list(const domain::Principal& caller, const store::UnitNodeFilter& filter,
                           const std::vector<domain::Visibility>& requested_levels);

  /// Errors: 403 (role, not creator), 2 (no such node; a level below the Unit's: "The
  /// visibility level of the parent object Unit is lower than that of the child object
  /// UnitNode"), 8 "This Node <uuid> is not Input" when is_rewritable_input is given for an
  /// Output node.
  store::UnitNode update(const domain::Principal& caller, const domain::Uuid& uuid,
                         const UnitNodeUpdate& update);

  /// Publishes the value to the node's topic, then stores it (null stores NULL and publishes
  /// an empty payload). Errors: 403 (role, visibility, a Unit on a non-rewritable Input), 2,
  /// 8 "This Node <uuid> is not Input", 10 when the value could not be published (nothing is
  /// stored then).
  store::UnitNode setStateInput(const domain::Principal& caller, const domain::Uuid& uuid,
                                const std::optional<std::string>& state);

  /// Links `output` to `input`, creates the automatic permissions of §1.6 in the same
  /// transaction, then sends SchemaUpdate to the input node's Unit so it resubscribes.
  /// Errors: 403, 2 (either node missing), 8 "This Node <uuid> is not Output" / "... is not
  /// Input", 8 "Edge exist".
  store::UnitNodeEdge createEdge(const domain::Principal& caller, const domain::Uuid& output,
                                 const domain::Uuid& input);

  /// Removes the edge of (input, output), revokes the output Unit's grant on the input node
  /// when no other of its Outputs still feeds it, then sends SchemaUpdate to the input node's
  /// Unit. Errors: 403, 2 "The object does not exist" when there is no such edge.
  void deleteEdge(const domain::Principal& caller, const domain::Uuid& input,
                  const domain::Uuid& output);

  /// The edges with either end on a node of `unit`; the caller must see the Unit.
  store::UnitNodeEdgePage listUnitEdges(const domain::Principal& caller, const domain::Uuid& unit,
                                        std::int64_t offset, std::int64_t limit);

 private:
  store::UnitNodeFacts existing(const domain::Uuid& uuid);
  /// Tells `events_` (if any) that each of `units` saw its access change.
  void announce(const std::vector<domain::Uuid>& units, cache::AclChangeKind kind);
  bool hasActiveGrant(const domain::Principal& caller, const domain::Uuid& resource);
  void requireVisible(const domain::Principal& caller, domain::Visibility level,
                      const domain::Uuid& resource);

  store::UnitNodeStore& nodes_;
  store::PermissionStore& permissions_;
  CommandSender& commands_;
  NodeValuePublisher& publisher_;
  Clock clock_;
  AccessEvents* events_;  // may be null
};

}  // namespace pepeunit::service
