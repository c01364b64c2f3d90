// Permission queries. Times cross the boundary as unix seconds and are stored as naive UTC
// `timestamp`, like every other timestamp of the schema; "now" is always the caller's clock, so
// the service and the database never disagree about whether a grant has expired.
#include "store/pg/pg_permission_store.hpp"

#include <pqxx/pqxx>
#include <string>

#include "common/errors.hpp"
#include "store/pg/errors.hpp"
#include "store/pg/sql_support.hpp"

namespace pepeunit::store::pg {
namespace {

using domain::AgentType;
using domain::ResourceType;
using domain::Uuid;

// Looks in all three resource tables so the service can tell "no such object" from "an object
// of another type"; $2 (the expected type) only breaks ties.
constexpr const char* kFindResource =
    "SELECT kind, creator_uuid, unit_uuid FROM ("
    "  SELECT 'Repo' AS kind, creator_uuid, NULL::uuid AS unit_uuid FROM repos WHERE uuid = $1"
    "  UNION ALL"
    "  SELECT 'Unit', creator_uuid, NULL::uuid FROM units WHERE uuid = $1"
    "  UNION ALL"
    "  SELECT 'UnitNode', creator_uuid, unit_uuid FROM units_nodes WHERE uuid = $1"
    ") AS found ORDER BY (kind = $2::text) DESC LIMIT 1";

constexpr const char* kFindAgent =
    "SELECT kind FROM ("
    "  SELECT 'User' AS kind FROM users WHERE uuid = $1"
    "  UNION ALL"
    "  SELECT 'Unit' FROM units WHERE uuid = $1"
    ") AS found ORDER BY (kind = $2::text) DESC LIMIT 1";

// The typed foreign-key column is picked by the type; the CHECK constraints reject any mix-up.
constexpr const char* kInsert =
    "INSERT INTO permissions (agent_type, agent_user_uuid, agent_unit_uuid, resource_type,"
    "  resource_repo_uuid, resource_unit_uuid, resource_unit_node_uuid, valid_until) "
    "VALUES ($1::text,"
    "  CASE WHEN $1::text = 'User' THEN $2::uuid END,"
    "  CASE WHEN $1::text = 'Unit' THEN $2::uuid END,"
    "  $3::text,"
    "  CASE WHEN $3::text = 'Repo' THEN $4::uuid END,"
    "  CASE WHEN $3::text = 'Unit' THEN $4::uuid END,"
    "  CASE WHEN $3::text = 'UnitNode' THEN $4::uuid END,"
    "  to_timestamp($5::bigint) AT TIME ZONE 'UTC') "
    "RETURNING uuid, agent_type, agent_uuid, resource_type, resource_uuid,"
    "  floor(extract(epoch FROM valid_until))::bigint";

constexpr const char* kCountResourceAgents =
    "SELECT count(*) FROM permissions"
    " WHERE resource_uuid = $1 AND ($2::text IS NULL OR agent_type = $2::text)";

constexpr const char* kListResourceAgents =
    "SELECT uuid, agent_type, agent_uuid, resource_type, resource_uuid,"
    "  floor(extract(epoch FROM valid_until))::bigint"
    " FROM permissions"
    " WHERE resource_uuid = $1 AND ($2::text IS NULL OR agent_type = $2::text)"
    " ORDER BY agent_type, agent_uuid OFFSET $3::bigint LIMIT $4::bigint";

constexpr const char* kFind =
    "SELECT uuid, agent_type, agent_uuid, resource_type, resource_uuid,"
    "  floor(extract(epoch FROM valid_until))::bigint"
    " FROM permissions WHERE agent_uuid = $1 AND resource_uuid = $2";

constexpr const char* kDelete =
    "DELETE FROM permissions WHERE agent_uuid = $1 AND resource_uuid = $2";

constexpr const char* kActiveGrants =
    "SELECT resource_uuid, floor(extract(epoch FROM valid_until))::bigint"
    " FROM permissions"
    " WHERE agent_uuid = $1 AND resource_type = $2::text"
    "   AND (valid_until IS NULL OR valid_until > to_timestamp($3::bigint) AT TIME ZONE 'UTC')";

// The unique (agent_uuid, resource_uuid) key answers duplicates atomically.
OnConflict duplicatePermission() {
  return {ErrorKind::kPermissionValidation, "Permission is exist"};
}

// Data that breaks the schema's own invariants is a server fault, not a client one.
[[noreturn]] void corrupt(const std::string& what) {
  throw Error(ErrorKind::kInternal, "Internal server error", "permissions: " + what);
}

std::optional<std::int64_t> optionalIntOf(const pqxx::field& field) {
  if (field.is_null()) {
    return std::nullopt;
  }
  return field.as<std::int64_t>();
}

AgentType agentTypeOf(const pqxx::field& field) {
  const auto type = domain::parseAgentType(field.c_str());
  if (!type) {
    corrupt(std::string("bad agent type ") + field.c_str());
  }
  return *type;
}

ResourceType resourceTypeOf(const pqxx::field& field) {
  const auto type = domain::parseResourceType(field.c_str());
  if (!type) {
    corrupt(std::string("bad resource type ") + field.c_str());
  }
  return *type;
}

// Columns: uuid, agent_type, agent_uuid, resource_type, resource_uuid, valid_until (epoch).
PermissionRecord recordOf(const pqxx::row& row) {
  return PermissionRecord{uuidOf(row[0]),         agentTypeOf(row[1]), uuidOf(row[2]),
                          resourceTypeOf(row[3]), uuidOf(row[4]),      optionalIntOf(row[5])};
}

// libpqxx 6 has no std::optional parameters: a null `const char*` is sent as SQL NULL.
class NullableParam {
 public:
  explicit NullableParam(std::optional<std::string> value) : value_(std::move(value)) {}
  const char* get() const { return value_ ? value_->c_str() : nullptr; }

 private:
  std::optional<std::string> value_;
};

NullableParam nullable(std::optional<std::int64_t> value) {
  return NullableParam(value ? std::optional<std::string>(std::to_string(*value)) : std::nullopt);
}

NullableParam nullable(std::optional<AgentType> value) {
  return NullableParam(value ? std::optional<std::string>(std::string(toString(*value)))
                             : std::nullopt);
}

}  // namespace

std::optional<ResourceFacts> PgPermissionStore::findResource(const Uuid& uuid,
                                                             ResourceType expected) {
  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) -> std::optional<ResourceFacts> {
      const auto rows =
          tx.exec_params(kFindResource, uuid.toString(), std::string(toString(expected)));
      if (rows.empty()) {
        return std::nullopt;
      }
      return ResourceFacts{uuid, resourceTypeOf(rows[0][0]), optionalUuidOf(rows[0][1]),
                           optionalUuidOf(rows[0][2])};
    });
  });
}

std::optional<AgentType> PgPermissionStore::findAgent(const Uuid& uuid, AgentType expected) {
  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) -> std::optional<AgentType> {
      const auto rows =
          tx.exec_params(kFindAgent, uuid.toString(), std::string(toString(expected)));
      if (rows.empty()) {
        return std::nullopt;
      }
      return agentTypeOf(rows[0][0]);
    });
  });
}

PermissionRecord PgPermissionStore::insert(const NewPermission& permission) {
  const auto valid_until = nullable(permission.valid_until_unix);
  try {
    return translateErrors(
        [&] {
          return pool_.withTransaction([&](pqxx::work& tx) {
            const auto rows = tx.exec_params(kInsert, std::string(toString(permission.agent_type)),
                                             permission.agent.toString(),
                                             std::string(toString(permission.resource_type)),
                                             permission.resource.toString(), valid_until.get());
            return recordOf(rows.at(0));
          });
        },
        duplicatePermission());
  } catch (const pqxx::foreign_key_violation& e) {
    // The agent or the resource was deleted between the service's checks and the insert.
    throw Error(ErrorKind::kValidation, "The object does not exist",
                "permission insert: " + violatedConstraint(e).value_or("foreign key"));
  }
}

PermissionPage PgPermissionStore::listResourceAgents(const Uuid& resource,
                                                     std::optional<AgentType> agent_type,
                                                     std::int64_t offset, std::int64_t limit) {
  const auto type = nullable(agent_type);
  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) {
      PermissionPage page;
      page.count = tx.exec_params(kCountResourceAgents, resource.toString(), type.get())
                       .at(0)[0]
                       .as<std::int64_t>();
      const auto rows =
          tx.exec_params(kListResourceAgents, resource.toString(), type.get(), offset, limit);
      page.rows.reserve(rows.size());
      for (const auto& row : rows) {
        page.rows.push_back(recordOf(row));
      }
      return page;
    });
  });
}

std::optional<PermissionRecord> PgPermissionStore::find(const Uuid& agent, const Uuid& resource) {
  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) -> std::optional<PermissionRecord> {
      const auto rows = tx.exec_params(kFind, agent.toString(), resource.toString());
      if (rows.empty()) {
        return std::nullopt;
      }
      return recordOf(rows[0]);
    });
  });
}

bool PgPermissionStore::remove(const Uuid& agent, const Uuid& resource) {
  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) {
      return tx.exec_params(kDelete, agent.toString(), resource.toString()).affected_rows() > 0;
    });
  });
}

std::vector<domain::Grant> PgPermissionStore::activeGrants(const Uuid& agent, ResourceType type,
                                                           std::int64_t now_unix) {
  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) {
      const auto rows =
          tx.exec_params(kActiveGrants, agent.toString(), std::string(toString(type)), now_unix);
      std::vector<domain::Grant> grants;
      grants.reserve(rows.size());
      for (const auto& row : rows) {
        grants.push_back(domain::Grant{agent, uuidOf(row[0]), type, optionalIntOf(row[1])});
      }
      return grants;
    });
  });
}

}  // namespace pepeunit::store::pg
