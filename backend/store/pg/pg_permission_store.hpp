// PermissionStore over PostgreSQL (schemas/sql/0001: typed foreign keys, generated
// agent_uuid/resource_uuid with UNIQUE(agent_uuid, resource_uuid), nullable valid_until).
#pragma once

#include "store/permission_store.hpp"
#include "store/pg/pool.hpp"

namespace pepeunit::store::pg {

class PgPermissionStore : public PermissionStore {
 public:
  explicit PgPermissionStore(Pool& pool) : pool_(pool) {}

  std::optional<ResourceFacts> findResource(const domain::Uuid& uuid,
                                            domain::ResourceType expected) override;
  std::optional<domain::AgentType> findAgent(const domain::Uuid& uuid,
                                             domain::AgentType expected) override;
  PermissionRecord insert(const NewPermission& permission) override;
  PermissionPage listResourceAgents(const domain::Uuid& resource,
                                    std::optional<domain::AgentType> agent_type,
                                    std::int64_t offset, std::int64_t limit) override;
  std::optional<PermissionRecord> find(const domain::Uuid& agent,
                                       const domain::Uuid& resource) override;
  bool remove(const domain::Uuid& agent, const domain::Uuid& resource) override;
  std::vector<domain::Grant> activeGrants(const domain::Uuid& agent, domain::ResourceType type,
                                          std::int64_t now_unix) override;

 private:
  Pool& pool_;
};

}  // namespace pepeunit::store::pg
