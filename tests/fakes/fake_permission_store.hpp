// In-memory PermissionStore for service unit tests: the same contract as the PostgreSQL one
// (duplicate pair -> "Permission is exist", lapsed grants listed but not active), with helpers
// to seed users, units, repos and nodes.
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "store/permission_store.hpp"

namespace pepeunit::testing {

class FakePermissionStore : public store::PermissionStore {
 public:
  // ---- Seeding ----
  void addUser(const domain::Uuid& user) { agents_[user] = domain::AgentType::kUser; }
  void addUnit(const domain::Uuid& unit, std::optional<domain::Uuid> creator) {
    agents_[unit] = domain::AgentType::kUnit;
    resources_[unit] = {unit, domain::ResourceType::kUnit, creator, std::nullopt};
  }
  void addRepo(const domain::Uuid& repo, std::optional<domain::Uuid> creator) {
    resources_[repo] = {repo, domain::ResourceType::kRepo, creator, std::nullopt};
  }
  void addNode(const domain::Uuid& node, const domain::Uuid& unit,
               std::optional<domain::Uuid> creator) {
    resources_[node] = {node, domain::ResourceType::kUnitNode, creator, unit};
  }
  /// Inserts a row directly (no checks), e.g. the automatic grants of §1.6.
  void seed(domain::AgentType agent_type, const domain::Uuid& agent,
            domain::ResourceType resource_type, const domain::Uuid& resource,
            std::optional<std::int64_t> valid_until = std::nullopt) {
    insert({agent_type, agent, resource_type, resource, valid_until});
  }
  const std::vector<store::PermissionRecord>& rows() const { return rows_; }

  // ---- PermissionStore ----
  std::optional<store::ResourceFacts> findResource(const domain::Uuid& uuid,
                                                   domain::ResourceType) override {
    const auto it = resources_.find(uuid);
    if (it == resources_.end())
      return std::nullopt;
    return it->second;
  }

  std::optional<domain::AgentType> findAgent(const domain::Uuid& uuid, domain::AgentType) override {
    const auto it = agents_.find(uuid);
    if (it == agents_.end())
      return std::nullopt;
    return it->second;
  }

  store::PermissionRecord insert(const store::NewPermission& p) override {
    if (find(p.agent, p.resource)) {
      throw Error(ErrorKind::kPermissionValidation, "Permission is exist");
    }
    domain::Uuid::Bytes bytes{};
    bytes[15] = static_cast<std::uint8_t>(++next_id_);
    bytes[14] = 0xEE;
    store::PermissionRecord row{domain::Uuid(bytes), p.agent_type, p.agent,
                                p.resource_type,     p.resource,   p.valid_until_unix};
    rows_.push_back(row);
    return row;
  }

  store::PermissionPage listResourceAgents(const domain::Uuid& resource,
                                           std::optional<domain::AgentType> agent_type,
                                           std::int64_t offset, std::int64_t limit) override {
    std::vector<store::PermissionRecord> matching;
    for (const auto& row : rows_) {
      if (row.resource == resource && (!agent_type || row.agent_type == *agent_type)) {
        matching.push_back(row);
      }
    }
    store::PermissionPage page;
    page.count = static_cast<std::int64_t>(matching.size());
    for (std::int64_t i = offset; i < page.count && i < offset + limit; ++i) {
      page.rows.push_back(matching[static_cast<std::size_t>(i)]);
    }
    return page;
  }

  std::optional<store::PermissionRecord> find(const domain::Uuid& agent,
                                              const domain::Uuid& resource) override {
    for (const auto& row : rows_) {
      if (row.agent == agent && row.resource == resource)
        return row;
    }
    return std::nullopt;
  }

  bool remove(const domain::Uuid& agent, const domain::Uuid& resource) override {
    const auto before = rows_.size();
    std::erase_if(rows_, [&](const store::PermissionRecord& row) {
      return row.agent == agent && row.resource == resource;
    });
    return rows_.size() != before;
  }

  std::vector<domain::Grant> activeGrants(const domain::Uuid& agent, domain::ResourceType type,
                                          std::int64_t now_unix) override {
    std::vector<domain::Grant> out;
    for (const auto& row : rows_) {
      const domain::Grant grant{row.agent, row.resource, row.resource_type, row.valid_until_unix};
      if (row.agent == agent && row.resource_type == type && grant.activeAt(now_unix)) {
        out.push_back(grant);
      }
    }
    return out;
  }

 private:
  std::map<domain::Uuid, domain::AgentType> agents_;
  std::map<domain::Uuid, store::ResourceFacts> resources_;
  std::vector<store::PermissionRecord> rows_;
  int next_id_ = 0;
};

}  // namespace pepeunit::testing
