// Check order follows the original (role, object, ownership or visibility, type, uniqueness) so
// clients see the same error for the same mistake, except that visibility is checked before the
// node's type everywhere: a caller that may not see a node learns nothing about it.
#include "service/unit_node_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string_view>

#include "common/errors.hpp"

namespace pepeunit::service {
namespace {

using domain::Principal;
using domain::Role;
using domain::UnitNodeType;
using domain::Uuid;
using domain::Visibility;

constexpr const char* kNoObject = "The object does not exist";
constexpr std::string_view kPepeunitSuffix = "/pepeunit";

/// The `access_check(roles, is_unit_available)` gate with the messages the other areas use.
void requireRole(const Principal& caller, std::initializer_list<Role> roles, bool unit_allowed) {
  if (domain::roleAllowed(caller, roles, unit_allowed)) {
    return;
  }
  if (caller.isBlocked()) {
    throw NoAccess("User is Blocked");
  }
  if (caller.isUnit()) {
    throw NoAccess("The resource is not available for the current Unit");
  }
  throw NoAccess("The current user role is not in the list of available roles");
}

void requireAnyone(const Principal& caller) {
  requireRole(caller, {Role::kBot, Role::kUser, Role::kAdmin}, /*unit_allowed=*/true);
}

void requireUser(const Principal& caller) {
  requireRole(caller, {Role::kUser, Role::kAdmin}, /*unit_allowed=*/false);
}

Error unitNodeError(const std::string& message) {
  return Error(ErrorKind::kUnitNodeValidation, message);
}

void requireType(const store::UnitNode& node, UnitNodeType type) {
  if (node.type != type) {
    throw unitNodeError("This Node " + node.uuid.toString() + " is not " +
                        std::string(toString(type)));
  }
}

bool endsWith(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

/// Commands are best effort: the edge is already stored, so a broker problem must not turn the
/// request into an error (the Unit picks the schema up at its next SchemaUpdate or restart).
void sendSchemaUpdate(CommandSender& commands, const std::optional<Uuid>& unit) {
  if (!unit) {
    return;
  }
  try {
    commands.send(*unit, UnitCommand::kSchemaUpdate);
  } catch (const std::exception& e) {
    spdlog::warn("unit_nodes: SchemaUpdate to unit {} not sent: {}", unit->toString(), e.what());
  }
}

}  // namespace

UnitNodeService::UnitNodeService(store::UnitNodeStore& nodes, store::PermissionStore& permissions,
                                 CommandSender& commands, NodeValuePublisher& publisher,
                                 Clock clock, AccessEvents* events)
    : nodes_(nodes),
      permissions_(permissions),
      commands_(commands),
      publisher_(publisher),
      clock_(std::move(clock)),
      events_(events) {}

store::UnitNodeFacts UnitNodeService::existing(const Uuid& uuid) {
  auto facts = nodes_.find(uuid);
  if (!facts) {
    throw ValidationError(kNoObject);
  }
  return std::move(*facts);
}

bool UnitNodeService::hasActiveGrant(const Principal& caller, const Uuid& resource) {
  if (!caller.uuid) {
    return false;
  }
  const auto row = permissions_.find(*caller.uuid, resource);
  return row && domain::Grant{row->agent, row->resource, row->resource_type, row->valid_until_unix}
                    .activeAt(clock_());
}

void UnitNodeService::requireVisible(const Principal& caller, Visibility level,
                                     const Uuid& resource) {
  // The grant lookup is the only database work here; only a Private object needs it.
  const bool needs_grant = level == Visibility::kPrivate && !caller.isAdmin() && !caller.isBot();
  if (domain::canView(caller, level, needs_grant && hasActiveGrant(caller, resource))) {
    return;
  }
  if (caller.isBlocked()) {
    throw NoAccess("User is Blocked");
  }
  throw NoAccess(std::string(toString(level)) + " visibility level is not allowed");
}

store::UnitNode UnitNodeService::get(const Principal& caller, const Uuid& uuid) {
  requireAnyone(caller);
  auto facts = existing(uuid);
  requireVisible(caller, facts.node.visibility_level, uuid);
  return std::move(facts.node);
}

store::UnitNodePage UnitNodeService::list(const Principal& caller,
                                          const store::UnitNodeFilter& filter,
                                          const std::vector<Visibility>& requested_levels) {
  requireAnyone(caller);
  // Grants only change the scope of a non-Admin caller that may list Private rows.
  const bool private_requested =
      requested_levels.empty() || std::find(requested_levels.begin(), requested_levels.end(),
                                            Visibility::kPrivate) != requested_levels.end();
  std::vector<domain::Grant> grants;
  if (private_requested && (caller.isUser() || caller.isUnit()) && !caller.isAdmin() &&
      !caller.isBlocked()) {
    grants = permissions_.activeGrants(*caller.uuid, domain::ResourceType::kUnitNode, clock_());
  }
  const auto scope = domain::listScope(caller, requested_levels, grants, clock_());
  return nodes_.list(filter, scope);
}

store::UnitNode UnitNodeService::update(const Principal& caller, const Uuid& uuid,
                                        const UnitNodeUpdate& update) {
  requireUser(caller);
  const auto facts = existing(uuid);
  // A node without a creator (imported data) can only be managed by an Admin.
  if (!domain::canManage(caller, facts.node.creator_uuid.value_or(Uuid{}))) {
    throw NoAccess("The current user is not the creator of this UnitNode");
  }
  if (update.is_rewritable_input) {
    requireType(facts.node, UnitNodeType::kInput);
  }
  // Checked on the resulting level, as the original does, so a node left below its Unit by
  // imported data must be raised before anything else about it can change.
  const Visibility level = update.visibility_level.value_or(facts.node.visibility_level);
  if (facts.unit_visibility && !domain::childVisibilityAllowed(*facts.unit_visibility, level)) {
    throw ValidationError(
        "The visibility level of the parent object Unit is lower than that of the child object "
        "UnitNode");
  }
  const auto& history = update.history;
  if (history.policy && *history.policy != "off" && *history.policy != "changes" &&
      *history.policy != "all") {
    throw Error(ErrorKind::kUnitNodeValidation, "history_policy must be off, changes or all");
  }
  if (history.deadband && *history.deadband &&
      !(std::isfinite(**history.deadband) && **history.deadband >= 0)) {
    throw Error(ErrorKind::kUnitNodeValidation, "history_deadband must be a number >= 0 or null");
  }
  if (history.retention_days && (*history.retention_days < 1 || *history.retention_days > 3650)) {
    throw Error(ErrorKind::kUnitNodeValidation, "history_retention_days must be in 1..3650");
  }
  auto updated =
      nodes_.updateNodeSettings(uuid, update.visibility_level, update.is_rewritable_input, history);
  if (!updated) {
    throw ValidationError(kNoObject);
  }
  // Who may see or write a node depends on these two; the history settings change nobody's.
  if (events_ != nullptr && (update.visibility_level || update.is_rewritable_input)) {
    events_->everythingChanged();
  }
  return std::move(*updated);
}

store::UnitNode UnitNodeService::setStateInput(const Principal& caller, const Uuid& uuid,
                                               const std::optional<std::string>& state) {
  requireRole(caller, {Role::kUser, Role::kAdmin}, /*unit_allowed=*/true);
  const auto facts = existing(uuid);
  requireVisible(caller, facts.node.visibility_level, uuid);
  requireType(facts.node, UnitNodeType::kInput);
  if (caller.isUnit() && !facts.node.is_rewritable_input) {
    throw NoAccess(
        "Only a User can set this Input; set is_rewritable_input=true to let Units set it");
  }
  // Published first, as the original: a value the Units never received is not stored.
  if (!publisher_.publish(uuid, endsWith(facts.node.topic_name, kPepeunitSuffix),
                          state.value_or(""))) {
    throw Error(ErrorKind::kMqtt, "The value could not be published to the node topic");
  }
  auto updated = nodes_.setState(uuid, state);
  if (!updated) {
    throw ValidationError(kNoObject);
  }
  return std::move(*updated);
}

store::UnitNodeEdge UnitNodeService::createEdge(const Principal& caller, const Uuid& output,
                                                const Uuid& input) {
  requireUser(caller);
  const auto output_facts = existing(output);
  requireVisible(caller, output_facts.node.visibility_level, output);
  requireType(output_facts.node, UnitNodeType::kOutput);
  const auto input_facts = existing(input);
  requireVisible(caller, input_facts.node.visibility_level, input);
  requireType(input_facts.node, UnitNodeType::kInput);
  // Nodes always belong to a Unit, except in imported data whose Unit is gone.
  if (!output_facts.node.unit_uuid || !input_facts.node.unit_uuid) {
    throw ValidationError(kNoObject);
  }
  if (nodes_.findEdge(input, output)) {
    throw unitNodeError("Edge exist");
  }
  // The store answers a concurrent duplicate with "Edge exist" too (unique pair key).
  auto edge =
      nodes_.createEdge({output, input, *caller.uuid,
                         domain::grantsForEdgeCreated(*output_facts.node.unit_uuid, input,
                                                      *input_facts.node.unit_uuid, output)});
  announce({*input_facts.node.unit_uuid, *output_facts.node.unit_uuid},
           cache::AclChangeKind::kGrant);
  sendSchemaUpdate(commands_, input_facts.node.unit_uuid);
  return edge;
}

void UnitNodeService::deleteEdge(const Principal& caller, const Uuid& input, const Uuid& output) {
  requireUser(caller);
  const auto edge = nodes_.findEdge(input, output);
  if (!edge) {
    throw ValidationError(kNoObject);
  }
  const auto input_facts = existing(input);
  const bool is_edge_creator = edge->creator_uuid && *caller.uuid == *edge->creator_uuid;
  if (!is_edge_creator &&
      !domain::canManage(caller, input_facts.node.creator_uuid.value_or(Uuid{}))) {
    throw NoAccess("The current user is not the creator of this edge or of its input UnitNode");
  }
  const auto output_facts = nodes_.find(output);
  if (!nodes_.deleteEdge(input, output)) {
    throw ValidationError(kNoObject);  // deleted meanwhile
  }
  std::vector<Uuid> units;
  for (const auto& unit :
       {input_facts.node.unit_uuid, output_facts ? output_facts->node.unit_uuid : std::nullopt}) {
    if (unit) {
      units.push_back(*unit);
    }
  }
  announce(units, cache::AclChangeKind::kRevoke);
  sendSchemaUpdate(commands_, input_facts.node.unit_uuid);
}

void UnitNodeService::announce(const std::vector<Uuid>& units, cache::AclChangeKind kind) {
  if (events_ == nullptr) {
    return;
  }
  for (const auto& unit : units) {
    events_->accessChanged(unit, kind);
  }
}

store::UnitNodeEdgePage UnitNodeService::listUnitEdges(const Principal& caller, const Uuid& unit,
                                                       std::int64_t offset, std::int64_t limit) {
  requireAnyone(caller);
  const auto facts = nodes_.findUnit(unit);
  if (!facts) {
    throw ValidationError(kNoObject);
  }
  requireVisible(caller, facts->visibility_level, unit);
  return nodes_.listUnitEdges(unit, offset, limit);
}

}  // namespace pepeunit::service
