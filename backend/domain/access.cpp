// Access-model rules; see access.hpp for the policy and where it departs from the original.
#include "domain/access.hpp"

#include <algorithm>
#include <array>

namespace pepeunit::domain {
namespace {

constexpr std::array<Visibility, 3> kAllLevels{Visibility::kPublic, Visibility::kInternal,
                                               Visibility::kPrivate};

bool contains(const std::vector<Visibility>& levels, Visibility level) {
  return std::find(levels.begin(), levels.end(), level) != levels.end();
}

// The requested levels in canonical order without duplicates; empty request = every level.
std::vector<Visibility> normalizedRequest(const std::vector<Visibility>& requested) {
  std::vector<Visibility> out;
  for (Visibility level : kAllLevels) {
    if (requested.empty() || contains(requested, level)) {
      out.push_back(level);
    }
  }
  return out;
}

// A principal that takes part in authenticated checks: a user that is not blocked, or a unit.
bool isActiveUser(const Principal& p) {
  return p.isUser() && !p.isBlocked();
}

bool isCallerUser(const Principal& p, const Uuid& uuid) {
  return isActiveUser(p) && *p.uuid == uuid;
}

}  // namespace

// ---- Principal ----

Principal Principal::bot() {
  return Principal{};
}

Principal Principal::user(const Uuid& uuid, Role role, UserStatus status) {
  return Principal{AgentType::kUser, role, uuid, status};
}

Principal Principal::unit(const Uuid& uuid) {
  return Principal{AgentType::kUnit, Role::kBot, uuid, UserStatus::kVerified};
}

bool Principal::isUser() const {
  return type == AgentType::kUser && uuid.has_value() &&
         (role == Role::kUser || role == Role::kAdmin);
}

bool Principal::isAdmin() const {
  return isUser() && role == Role::kAdmin;
}

bool Principal::isUnit() const {
  return type == AgentType::kUnit && uuid.has_value();
}

bool Principal::isBot() const {
  return !isUser() && !isUnit();
}

bool Principal::isBlocked() const {
  return isUser() && status == UserStatus::kBlocked;
}

// ---- Grants ----

bool Grant::activeAt(std::int64_t now) const {
  return !valid_until_unix.has_value() || now < *valid_until_unix;
}

bool hasActiveGrant(const std::vector<Grant>& grants, const Uuid& agent, const Uuid& resource,
                    std::int64_t now) {
  return std::any_of(grants.begin(), grants.end(), [&](const Grant& g) {
    return g.agent == agent && g.resource == resource && g.activeAt(now);
  });
}

// ---- Roles ----

bool roleAllowed(const Principal& principal, std::initializer_list<Role> roles, bool unit_allowed) {
  if (principal.isBlocked()) {
    return false;
  }
  if (principal.isUnit()) {
    return unit_allowed;
  }
  const Role role = principal.isUser() ? principal.role : Role::kBot;
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

// ---- Single objects ----

bool canView(const Principal& principal, Visibility visibility, bool has_active_grant) {
  if (principal.isBlocked()) {
    return false;
  }
  if (principal.isAdmin()) {
    return true;
  }
  const bool authenticated = principal.isUser() || principal.isUnit();
  switch (visibility) {
    case Visibility::kPublic:
      return true;
    case Visibility::kInternal:
      return authenticated;
    case Visibility::kPrivate:
      return authenticated && has_active_grant;
  }
  return false;
}

// ---- Lists ----

bool ListScope::admits(Visibility level, const Uuid& uuid) const {
  if (!contains(levels, level)) {
    return false;
  }
  if (level != Visibility::kPrivate || unrestricted) {
    return true;
  }
  return std::binary_search(private_allowed.begin(), private_allowed.end(), uuid);
}

ListScope listScope(const Principal& principal, const std::vector<Visibility>& requested,
                    const std::vector<Grant>& caller_grants_of_that_type, std::int64_t now) {
  ListScope scope;
  if (principal.isBlocked()) {
    return scope;
  }
  if (principal.isBot()) {
    scope.levels = {Visibility::kPublic};
    return scope;
  }
  scope.levels = normalizedRequest(requested);
  if (principal.isAdmin()) {
    scope.unrestricted = true;
    return scope;
  }

  std::vector<Uuid> granted;
  for (const Grant& grant : caller_grants_of_that_type) {
    if (grant.agent == *principal.uuid && grant.activeAt(now)) {
      granted.push_back(grant.resource);
    }
  }
  if (granted.empty()) {
    std::erase(scope.levels, Visibility::kPrivate);
    return scope;
  }
  if (contains(scope.levels, Visibility::kPrivate)) {
    std::sort(granted.begin(), granted.end());
    granted.erase(std::unique(granted.begin(), granted.end()), granted.end());
    scope.private_allowed = std::move(granted);
  }
  return scope;
}

// ---- Creator rules ----

bool canManage(const Principal& principal, const Uuid& creator_uuid) {
  if (!isActiveUser(principal)) {
    return false;
  }
  return principal.isAdmin() || *principal.uuid == creator_uuid;
}

bool canReadSecrets(const Principal& principal, const Uuid& creator_uuid,
                    std::optional<Uuid> unit_uuid) {
  if (principal.isUnit()) {
    return unit_uuid.has_value() && *principal.uuid == *unit_uuid;
  }
  return isCallerUser(principal, creator_uuid);
}

bool canWriteSecrets(const Principal& principal, const Uuid& creator_uuid,
                     std::optional<Uuid> self_unit_uuid) {
  return canReadSecrets(principal, creator_uuid, self_unit_uuid);
}

// ---- Monotonicity ----

bool childVisibilityAllowed(Visibility parent, Visibility child) {
  return priority(child) >= priority(parent);
}

Visibility raisedTo(Visibility current, Visibility floor) {
  return priority(current) >= priority(floor) ? current : floor;
}

// ---- Automatic permissions ----

std::vector<GrantSpec> grantsForRepoCreated(const Uuid& creator, const Uuid& repo) {
  return {{AgentType::kUser, creator, ResourceType::kRepo, repo}};
}

std::vector<GrantSpec> grantsForUnitCreated(const Uuid& creator, const Uuid& unit) {
  return {{AgentType::kUser, creator, ResourceType::kUnit, unit},
          {AgentType::kUnit, unit, ResourceType::kUnit, unit}};
}

std::vector<GrantSpec> grantsForUnitNodeCreated(const Uuid& unit, const Uuid& node,
                                                const Uuid& acting_user) {
  return {{AgentType::kUnit, unit, ResourceType::kUnitNode, node},
          {AgentType::kUser, acting_user, ResourceType::kUnitNode, node}};
}

std::vector<GrantSpec> grantsForEdgeCreated(const Uuid& output_unit, const Uuid& input_node,
                                            const Uuid& input_unit, const Uuid& output_node) {
  return {{AgentType::kUnit, output_unit, ResourceType::kUnitNode, input_node},
          {AgentType::kUnit, input_unit, ResourceType::kUnitNode, output_node},
          {AgentType::kUnit, output_unit, ResourceType::kUnit, input_unit}};
}

std::vector<GrantSpec> revokesForEdgeDeleted(const Uuid& output_unit, const Uuid& input_node,
                                             bool unit_still_linked_to_input) {
  if (unit_still_linked_to_input) {
    return {};
  }
  return {{AgentType::kUnit, output_unit, ResourceType::kUnitNode, input_node}};
}

// ---- Permission deletion ----

std::optional<PermissionDeleteDenial> permissionDeleteDenial(
    const Principal& caller, const Uuid& resource_creator, const Uuid& agent, const Uuid& resource,
    AgentType agent_type, ResourceType resource_type, std::optional<Uuid> node_owner_unit) {
  // Who first, so a stranger learns nothing about the permission's shape.
  const bool is_agent = agent_type == AgentType::kUser && isCallerUser(caller, agent);
  if (!canManage(caller, resource_creator) && !is_agent) {
    return PermissionDeleteDenial::kNotAllowed;
  }
  if (agent == resource) {
    return PermissionDeleteDenial::kSelfAccess;
  }
  if (agent_type == AgentType::kUser && agent == resource_creator) {
    return PermissionDeleteDenial::kCreatorAccess;
  }
  if (agent_type == AgentType::kUnit && resource_type == ResourceType::kUnitNode &&
      node_owner_unit.has_value() && *node_owner_unit == agent) {
    return PermissionDeleteDenial::kUnitOwnNode;
  }
  return std::nullopt;
}

bool canDeletePermission(const Principal& caller, const Uuid& resource_creator, const Uuid& agent,
                         const Uuid& resource, AgentType agent_type, ResourceType resource_type,
                         std::optional<Uuid> node_owner_unit) {
  return !permissionDeleteDenial(caller, resource_creator, agent, resource, agent_type,
                                 resource_type, node_owner_unit)
              .has_value();
}

std::string_view describe(PermissionDeleteDenial denial) {
  switch (denial) {
    case PermissionDeleteDenial::kNotAllowed:
      return "Only the resource creator or the agent itself can delete this permission";
    case PermissionDeleteDenial::kSelfAccess:
      return "An entity's access to itself cannot be deleted";
    case PermissionDeleteDenial::kCreatorAccess:
      return "The resource creator's own access cannot be deleted";
    case PermissionDeleteDenial::kUnitOwnNode:
      return "A Unit's access to its own UnitNode cannot be deleted";
  }
  return "Permission cannot be deleted";
}

ErrorKind errorKindFor(PermissionDeleteDenial denial) {
  return denial == PermissionDeleteDenial::kNotAllowed ? ErrorKind::kNoAccess
                                                       : ErrorKind::kPermissionValidation;
}

}  // namespace pepeunit::domain
