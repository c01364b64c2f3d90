// What the permission use cases (spec §1.6, §2.6) need from storage: the facts about an agent or
// a resource that a uuid names, and the permission rows themselves. Implemented over PostgreSQL
// in store/pg/pg_permission_store.*, and in memory for unit tests.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "domain/access.hpp"
#include "domain/enums.hpp"
#include "domain/uuid.hpp"

namespace pepeunit::store {

/// A Repo, Unit or UnitNode as far as permission rules care.
struct ResourceFacts {
  domain::Uuid uuid;
  domain::ResourceType type = domain::ResourceType::kRepo;
  /// `creator_uuid` is nullable in the schema (imported data); absent means nobody but an Admin
  /// manages the resource.
  std::optional<domain::Uuid> creator;
  /// The owning Unit, for a UnitNode only.
  std::optional<domain::Uuid> unit;
};

/// One `permissions` row in its API shape (PermissionRead plus our `valid_until`).
struct PermissionRecord {
  domain::Uuid uuid;
  domain::AgentType agent_type = domain::AgentType::kUser;
  domain::Uuid agent;
  domain::ResourceType resource_type = domain::ResourceType::kRepo;
  domain::Uuid resource;
  /// Unix seconds (UTC); nullopt = the grant never expires.
  std::optional<std::int64_t> valid_until_unix;
};

struct NewPermission {
  domain::AgentType agent_type = domain::AgentType::kUser;
  domain::Uuid agent;
  domain::ResourceType resource_type = domain::ResourceType::kRepo;
  domain::Uuid resource;
  std::optional<std::int64_t> valid_until_unix;
};

/// A page of a list plus the total before paging.
struct PermissionPage {
  std::int64_t count = 0;
  std::vector<PermissionRecord> rows;
};

class PermissionStore {
 public:
  virtual ~PermissionStore() = default;

  /// The Repo, Unit or UnitNode that `uuid` names, whatever its type, so that a caller can tell
  /// "does not exist" from "exists, but is another type". Should several tables hold the uuid
  /// (never with generated v4 uuids), the `expected` type wins.
  virtual std::optional<ResourceFacts> findResource(const domain::Uuid& uuid,
                                                    domain::ResourceType expected) = 0;

  /// Whether `uuid` names a User or a Unit; nullopt when neither. `expected` wins ties.
  virtual std::optional<domain::AgentType> findAgent(const domain::Uuid& uuid,
                                                     domain::AgentType expected) = 0;

  /// Inserts a row and returns it. Throws Error(kPermissionValidation, "Permission is exist")
  /// when (agent, resource) already has one, and ValidationError("The object does not exist")
  /// when the agent or the resource vanished meanwhile.
  virtual PermissionRecord insert(const NewPermission& permission) = 0;

  /// The rows whose resource is `resource`, optionally of one agent type only, ordered by agent
  /// type then agent uuid (the table has no timestamp; this keeps paging stable). Expired
  /// time-limited rows are included. `count` is the total before offset/limit.
  virtual PermissionPage listResourceAgents(const domain::Uuid& resource,
                                            std::optional<domain::AgentType> agent_type,
                                            std::int64_t offset, std::int64_t limit) = 0;

  /// The row of (agent, resource), expired or not.
  virtual std::optional<PermissionRecord> find(const domain::Uuid& agent,
                                               const domain::Uuid& resource) = 0;

  /// Deletes the row of (agent, resource); false when there was none.
  virtual bool remove(const domain::Uuid& agent, const domain::Uuid& resource) = 0;

  /// The agent's grants on resources of `type` that still count at `now_unix` (valid_until
  /// absent or later than now): the input of domain::listScope and canView.
  virtual std::vector<domain::Grant> activeGrants(const domain::Uuid& agent,
                                                  domain::ResourceType type,
                                                  std::int64_t now_unix) = 0;
};

}  // namespace pepeunit::store
