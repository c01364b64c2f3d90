// Check order follows the original (role, resource, creator, agent, uniqueness) so clients see
// the same error for the same mistake; see permission_service.hpp for the rules.
#include "service/permission_service.hpp"

#include <string>

#include "common/errors.hpp"

namespace pepeunit::service {
namespace {

using domain::AgentType;
using domain::Principal;
using domain::ResourceType;
using domain::Role;
using domain::Uuid;

constexpr const char* kNoObject = "The object does not exist";

/// The `access_check([User, Admin], is_unit_available=False)` gate with the original's messages.
void requireUserOrAdmin(const Principal& caller) {
  if (domain::roleAllowed(caller, {Role::kUser, Role::kAdmin}, /*unit_allowed=*/false)) {
    return;
  }
  if (caller.isUnit()) {
    throw NoAccess("The resource is not available for the current Unit");
  }
  if (caller.isBlocked()) {
    throw NoAccess("User is Blocked");
  }
  throw NoAccess("The current user role is not in the list of available roles");
}

void requireManager(const Principal& caller, const store::ResourceFacts& resource) {
  // A resource without a creator (imported data) can only be managed by an Admin.
  if (domain::canManage(caller, resource.creator.value_or(Uuid{}))) {
    return;
  }
  throw NoAccess("The current user is not the creator of this " +
                 std::string(toString(resource.type)));
}

Error permissionError(const std::string& message) {
  return Error(ErrorKind::kPermissionValidation, message);
}

}  // namespace

PermissionService::PermissionService(store::PermissionStore& store, Clock clock,
                                     AccessEvents* events)
    : store_(store), clock_(std::move(clock)), events_(events) {}

store::ResourceFacts PermissionService::loadResource(const Uuid& resource,
                                                     ResourceType resource_type) {
  auto facts = store_.findResource(resource, resource_type);
  if (!facts) {
    throw ValidationError(kNoObject);
  }
  if (facts->type != resource_type) {
    throw permissionError("Resource type " + std::string(toString(resource_type)) +
                          " does not match the resource, which is a " +
                          std::string(toString(facts->type)));
  }
  return *facts;
}

store::PermissionRecord PermissionService::create(const Principal& caller, const Uuid& agent,
                                                  AgentType agent_type, const Uuid& resource,
                                                  ResourceType resource_type,
                                                  std::optional<std::int64_t> valid_until_unix) {
  requireUserOrAdmin(caller);
  if (valid_until_unix && *valid_until_unix <= clock_()) {
    throw permissionError("valid_until must be in the future");
  }
  const auto facts = loadResource(resource, resource_type);
  requireManager(caller, facts);

  const auto actual_agent_type = store_.findAgent(agent, agent_type);
  if (!actual_agent_type) {
    throw ValidationError(kNoObject);
  }
  if (*actual_agent_type != agent_type) {
    throw permissionError("Agent type " + std::string(toString(agent_type)) +
                          " does not match the agent, which is a " +
                          std::string(toString(*actual_agent_type)));
  }
  // The store turns a duplicate into "Permission is exist" atomically (unique key), so two
  // concurrent creates cannot both succeed.
  auto record = store_.insert({agent_type, agent, resource_type, resource, valid_until_unix});
  if (events_ != nullptr && agent_type == AgentType::kUnit) {
    events_->accessChanged(agent, cache::AclChangeKind::kGrant);
  }
  return record;
}

store::PermissionPage PermissionService::getResourceAgents(
    const Principal& caller, const Uuid& resource, ResourceType resource_type,
    std::optional<AgentType> agent_type, std::int64_t offset, std::int64_t limit) {
  requireUserOrAdmin(caller);
  requireManager(caller, loadResource(resource, resource_type));
  return store_.listResourceAgents(resource, agent_type, offset, limit);
}

void PermissionService::remove(const Principal& caller, const Uuid& agent, const Uuid& resource) {
  requireUserOrAdmin(caller);
  const auto permission = store_.find(agent, resource);
  if (!permission) {
    throw ValidationError(kNoObject);
  }
  // The row cascades away with its resource, so a missing resource means a concurrent delete.
  const auto facts = store_.findResource(resource, permission->resource_type);
  if (!facts || facts->type != permission->resource_type) {
    throw ValidationError(kNoObject);
  }

  const auto denial = domain::permissionDeleteDenial(caller, facts->creator.value_or(Uuid{}), agent,
                                                     resource, permission->agent_type,
                                                     permission->resource_type, facts->unit);
  if (denial) {
    throw Error(domain::errorKindFor(*denial), std::string(domain::describe(*denial)));
  }

  if (!store_.remove(agent, resource)) {
    throw ValidationError(kNoObject);
  }
  if (events_ != nullptr && permission->agent_type == AgentType::kUnit) {
    events_->accessChanged(agent, cache::AclChangeKind::kRevoke);
  }
}

std::vector<domain::Grant> PermissionService::activeGrants(const Uuid& agent, ResourceType type) {
  return store_.activeGrants(agent, type, clock_());
}

}  // namespace pepeunit::service
