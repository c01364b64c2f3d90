// Permission use cases (spec §1.6, §1.9 last bullet, §2.6; issue 3 item 5): grant an agent access
// to a resource, list a resource's agents, revoke. The rules themselves live in domain/access.hpp;
// this layer loads the facts and applies them.
//
// Time-limited grants (beyond the original): a grant may carry `valid_until`. Once that instant
// has passed the row still exists and is still listed by getResourceAgents (with its
// valid_until, so its owner sees what lapsed), but it never counts for access: activeGrants()
// leaves it out, and domain::Grant::activeAt ignores it everywhere else. A lapsed row still
// occupies its (agent, resource) pair: creating it again answers "Permission is exist"; delete it
// first.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "domain/access.hpp"
#include "service/access_events.hpp"
#include "store/permission_store.hpp"

namespace pepeunit::service {

class PermissionService {
 public:
  using Clock = std::function<std::int64_t()>;  // unix seconds

  /// `events` (may be null) hears about every grant to or revoke from a Unit.
  PermissionService(store::PermissionStore& store, Clock clock, AccessEvents* events = nullptr);

  /// POST /permission. Callers: Users and Admins (Bot and Unit tokens: 403), and only the
  /// resource's creator or an Admin (403). The agent and the resource must exist (422, error 2
  /// "The object does not exist"); a uuid that names an entity of another type than the one
  /// given (a Unit's uuid as agent_type User, a Repo's uuid as resource_type Unit) is error 4,
  /// as is a valid_until that is not in the future and an existing (agent, resource) pair
  /// ("Permission is exist").
  store::PermissionRecord create(const domain::Principal& caller, const domain::Uuid& agent,
                                 domain::AgentType agent_type, const domain::Uuid& resource,
                                 domain::ResourceType resource_type,
                                 std::optional<std::int64_t> valid_until_unix);

  /// GET /permission/get_resource_agents: the resource's creator or an Admin; the same
  /// existence and type checks on the resource as create. Lapsed grants are listed too.
  store::PermissionPage getResourceAgents(const domain::Principal& caller,
                                          const domain::Uuid& resource,
                                          domain::ResourceType resource_type,
                                          std::optional<domain::AgentType> agent_type,
                                          std::int64_t offset, std::int64_t limit);

  /// DELETE /permission: allowed for the resource's creator, the agent itself (a User) and
  /// Admins (otherwise 403); an entity's access to itself, the creator's own access and a Unit's
  /// access to its own node are never deleted (error 4). No such pair: 422 error 2.
  void remove(const domain::Principal& caller, const domain::Uuid& agent,
              const domain::Uuid& resource);

  /// The agent's grants on resources of `type` that count now (lapsed ones left out): the input
  /// of domain::listScope / canView for the list and get use cases.
  std::vector<domain::Grant> activeGrants(const domain::Uuid& agent, domain::ResourceType type);

 private:
  store::ResourceFacts loadResource(const domain::Uuid& resource,
                                    domain::ResourceType resource_type);

  store::PermissionStore& store_;
  Clock clock_;
  AccessEvents* events_;
};

}  // namespace pepeunit::service
