// SQL for units. Every value is a bound parameter; the only SQL assembled at run time is the
// choice among fixed fragments of this file (WHERE conditions, ORDER BY directions).
#include "store/pg/pg_unit_store.hpp"

#include <pqxx/pqxx>
#include <string>
#include <unordered_map>

#include "common/errors.hpp"
#include "domain/names.hpp"
#include "store/pg/errors.hpp"
#include "store/pg/sql_support.hpp"

namespace pepeunit::store::pg {
namespace {

using domain::AgentType;
using domain::ResourceType;
using domain::Uuid;
using domain::Visibility;

constexpr const char* kNoObject = "The object does not exist";

// `u` is the alias of units everywhere, so the same list serves SELECT, INSERT and UPDATE.
constexpr const char* kUnitColumns =
    "u.uuid::text, u.visibility_level, u.name,"
    " (EXTRACT(EPOCH FROM u.create_datetime) * 1000000)::bigint,"
    " (EXTRACT(EPOCH FROM u.last_update_datetime) * 1000000)::bigint,"
    " u.is_auto_update_from_repo_unit, u.target_firmware_platform, u.repo_branch, u.repo_commit,"
    " u.unit_state_dict, u.current_commit_version, u.cipher_env_dict, u.cipher_state_storage,"
    " u.firmware_update_status, u.firmware_update_error,"
    " (EXTRACT(EPOCH FROM u.last_firmware_update_datetime) * 1000000)::bigint,"
    " u.creator_uuid::text, u.repo_uuid::text";

constexpr const char* kNodeColumns =
    "n.uuid::text, n.type, n.visibility_level, n.is_rewritable_input, n.topic_name,"
    " (EXTRACT(EPOCH FROM n.create_datetime) * 1000000)::bigint, n.state,"
    " (EXTRACT(EPOCH FROM n.last_update_datetime) * 1000000)::bigint,"
    " n.creator_uuid::text, n.unit_uuid::text";

constexpr const char* kFindRepo =
    "SELECT visibility_level, default_branch, default_commit, is_auto_update_repo,"
    " is_only_tag_update, is_compilable_repo, creator_uuid::text FROM repos WHERE uuid = $1";

constexpr const char* kFindUuidByName = "SELECT uuid::text FROM units WHERE name = $1";

constexpr const char* kInsertUnit =
    "INSERT INTO units AS u (repo_uuid, creator_uuid, visibility_level, name,"
    " is_auto_update_from_repo_unit, target_firmware_platform, repo_branch, repo_commit)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ";

constexpr const char* kUpdateUnit =
    "UPDATE units AS u SET visibility_level = $2, name = $3, is_auto_update_from_repo_unit = $4,"
    " target_firmware_platform = $5, repo_branch = $6, repo_commit = $7,"
    " last_update_datetime = (now() AT TIME ZONE 'UTC') WHERE u.uuid = $1 RETURNING ";

// §1.9: nodes are never more public than their Unit.
constexpr const char* kRaiseNodes =
    "UPDATE units_nodes SET visibility_level = $2"
    " WHERE unit_uuid = $1 AND array_position(ARRAY['Public','Internal','Private'],"
    " visibility_level) < array_position(ARRAY['Public','Internal','Private'], $2::text)";

// Serializes reconciles (and updates) of one Unit, so two concurrent ones cannot both create
// the same node.
constexpr const char* kLockUnit = "SELECT 1 FROM units WHERE uuid = $1 FOR UPDATE";

// The (unit, type, topic_name) key is logical only; NOT EXISTS keeps it under concurrency
// (the row lock above orders the writers).
constexpr const char* kInsertNode =
    "INSERT INTO units_nodes (type, visibility_level, topic_name, creator_uuid, unit_uuid)"
    " SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM units_nodes"
    "  WHERE unit_uuid = $5 AND type = $1 AND topic_name = $3)"
    " RETURNING uuid::text";

constexpr const char* kDeleteNodes =
    "DELETE FROM units_nodes WHERE unit_uuid = $1 AND uuid = ANY($2::uuid[])";

constexpr const char* kSetEnvAndTouch =
    "UPDATE units SET cipher_env_dict = $2, last_update_datetime = (now() AT TIME ZONE 'UTC')"
    " WHERE uuid = $1";

constexpr const char* kTouch =
    "UPDATE units SET last_update_datetime = (now() AT TIME ZONE 'UTC') WHERE uuid = $1";

// Automatic permissions (§1.6): the typed column is picked by the type, like the permission
// store does; an existing (agent, resource) row is left alone.
constexpr const char* kInsertGrant =
    "INSERT INTO permissions (agent_type, agent_user_uuid, agent_unit_uuid, resource_type,"
    "  resource_repo_uuid, resource_unit_uuid, resource_unit_node_uuid) "
    "VALUES ($1::text,"
    "  CASE WHEN $1::text = 'User' THEN $2::uuid END,"
    "  CASE WHEN $1::text = 'Unit' THEN $2::uuid END,"
    "  $3::text,"
    "  CASE WHEN $3::text = 'Repo' THEN $4::uuid END,"
    "  CASE WHEN $3::text = 'Unit' THEN $4::uuid END,"
    "  CASE WHEN $3::text = 'UnitNode' THEN $4::uuid END) "
    "ON CONFLICT ON CONSTRAINT permissions_agent_resource_key DO NOTHING";

constexpr const char* kDeleteUnit = "DELETE FROM units WHERE uuid = $1";

constexpr const char* kLinkedOutputs =
    "SELECT e.node_input_uuid::text, o.uuid::text, o.topic_name"
    " FROM units_nodes i"
    " JOIN units_nodes_edges e ON e.node_input_uuid = i.uuid"
    " JOIN units_nodes o ON o.uuid = e.node_output_uuid"
    " WHERE i.unit_uuid = $1 AND i.type = 'Input' AND o.type = 'Output'"
    " ORDER BY o.create_datetime, o.uuid";

constexpr const char* kSetCipherStateStorage =
    "UPDATE units SET cipher_state_storage = $2 WHERE uuid = $1";

constexpr const char* kSetFirmwareUpdate =
    "UPDATE units SET firmware_update_status = $2, firmware_update_error = $3,"
    " last_firmware_update_datetime = to_timestamp($4::bigint / 1000000.0) AT TIME ZONE 'UTC',"
    " firmware_update_target = $5"
    " WHERE uuid = $1";

constexpr const char* kSetCipherEnv = "UPDATE units SET cipher_env_dict = $2 WHERE uuid = $1";

OnConflict nameTaken() {
  return {ErrorKind::kUnitValidation, "Name is not unique"};
}

// Data that breaks the schema's own invariants is a server fault, not a client one.
[[noreturn]] void corrupt(const std::string& what) {
  throw Error(ErrorKind::kInternal, "Internal server error", "units: " + what);
}

std::optional<Timestamp> optionalTimestampOf(const pqxx::field& field) {
  if (field.is_null()) {
    return std::nullopt;
  }
  return timestampOf(field);
}

Visibility visibilityOf(const pqxx::field& field) {
  const auto level = domain::parseVisibility(field.c_str());
  if (!level) {
    corrupt(std::string("bad visibility ") + field.c_str());
  }
  return *level;
}

Unit toUnit(const pqxx::row& row) {
  Unit unit;
  unit.uuid = uuidOf(row[0]);
  unit.visibility_level = visibilityOf(row[1]);
  unit.name = row[2].c_str();
  unit.create_datetime = timestampOf(row[3]);
  unit.last_update_datetime = timestampOf(row[4]);
  unit.is_auto_update_from_repo_unit = row[5].as<bool>();
  unit.target_firmware_platform = optionalTextOf(row[6]);
  unit.repo_branch = optionalTextOf(row[7]);
  unit.repo_commit = optionalTextOf(row[8]);
  unit.unit_state_dict = optionalTextOf(row[9]);
  unit.current_commit_version = optionalTextOf(row[10]);
  unit.cipher_env_dict = optionalTextOf(row[11]);
  unit.cipher_state_storage = optionalTextOf(row[12]);
  if (!row[13].is_null()) {
    const auto status = domain::parseFirmwareUpdateStatus(row[13].c_str());
    if (!status) {
      corrupt(std::string("bad firmware_update_status ") + row[13].c_str());
    }
    unit.firmware_update_status = *status;
  }
  unit.firmware_update_error = optionalTextOf(row[14]);
  unit.last_firmware_update_datetime = optionalTimestampOf(row[15]);
  unit.creator_uuid = optionalUuidOf(row[16]);
  unit.repo_uuid = optionalUuidOf(row[17]);
  return unit;
}

UnitNode toNode(const pqxx::row& row) {
  UnitNode node;
  node.uuid = uuidOf(row[0]);
  const auto type = domain::parseUnitNodeType(row[1].c_str());
  if (!type) {
    corrupt(std::string("bad node type ") + row[1].c_str());
  }
  node.type = *type;
  node.visibility_level = visibilityOf(row[2]);
  node.is_rewritable_input = row[3].as<bool>();
  node.topic_name = row[4].c_str();
  node.create_datetime = timestampOf(row[5]);
  node.state = optionalTextOf(row[6]);
  node.last_update_datetime = timestampOf(row[7]);
  node.creator_uuid = optionalUuidOf(row[8]);
  node.unit_uuid = optionalUuidOf(row[9]);
  return node;
}

/// libpqxx 6 cannot bind std::optional: a null `const char*` is sent as SQL NULL.
const char* nullable(const std::optional<std::string>& value) {
  return value ? value->c_str() : nullptr;
}

/// Positional parameters collected while a statement is assembled (NULLs allowed).
class NullableParams {
 public:
  /// Adds a value and returns its placeholder ("$3").
  std::string add(std::optional<std::string> value) {
    values_.push_back(std::move(value));
    return "$" + std::to_string(values_.size());
  }
  /// The values as libpq wants them; valid while this object lives and is not modified.
  std::vector<const char*> pointers() const {
    std::vector<const char*> out;
    out.reserve(values_.size());
    for (const auto& v : values_) {
      out.push_back(nullable(v));
    }
    return out;
  }

 private:
  std::vector<std::optional<std::string>> values_;
};

std::string typeArray(const std::vector<domain::UnitNodeType>& types) {
  return arrayLiteral(types, [](auto t) { return std::string(domain::toString(t)); });
}

/// The node conditions of the `is_include_output_unit_nodes` sub-filters on alias `n` (and `e`
/// for the edge join of the unit_node_input_uuid form).
std::string nodeConditions(const UnitFilter& filter, const domain::ListScope& node_scope,
                           NullableParams& params) {
  std::string out = scopeCondition(node_scope, params, "n.");
  if (filter.unit_node_input_uuid) {
    out += " AND n.type = 'Output' AND e.node_input_uuid = " +
           params.add(filter.unit_node_input_uuid->toString()) + "::uuid";
    return out;
  }
  if (!filter.unit_node_types.empty()) {
    out += " AND n.type = ANY(" + params.add(typeArray(filter.unit_node_types)) + "::text[])";
  }
  if (!filter.unit_node_uuids.empty()) {
    out += " AND n.uuid = ANY(" + params.add(uuidArray(filter.unit_node_uuids)) + "::uuid[])";
  }
  return out;
}

/// FROM clause for nodes: with the edge join when filtering by a linked Input.
std::string nodeSource(const UnitFilter& filter) {
  return filter.unit_node_input_uuid
             ? " FROM units_nodes n JOIN units_nodes_edges e ON e.node_output_uuid = n.uuid"
             : " FROM units_nodes n";
}

std::string unitWhere(const UnitFilter& filter, const UnitListScopes& scopes,
                      NullableParams& params) {
  std::vector<std::string> conditions{scopeCondition(scopes.units, params, "u.")};
  if (!filter.uuids.empty()) {
    conditions.push_back("u.uuid = ANY(" + params.add(uuidArray(filter.uuids)) + "::uuid[])");
  }
  if (filter.creator_uuid) {
    conditions.push_back("u.creator_uuid = " + params.add(filter.creator_uuid->toString()) +
                         "::uuid");
  }
  if (filter.repo_uuid) {
    conditions.push_back("u.repo_uuid = " + params.add(filter.repo_uuid->toString()) + "::uuid");
  }
  if (!filter.repos_uuids.empty()) {
    conditions.push_back("u.repo_uuid = ANY(" + params.add(uuidArray(filter.repos_uuids)) +
                         "::uuid[])");
  }
  for (const auto& word : filter.search_words) {
    conditions.push_back("u.name ILIKE " + params.add(domain::likeContainsPattern(word)) +
                         " ESCAPE '\\'");
  }
  if (filter.is_auto_update_from_repo_unit) {
    conditions.push_back("u.is_auto_update_from_repo_unit = " +
                         params.add(*filter.is_auto_update_from_repo_unit ? "true" : "false") +
                         "::boolean");
  }
  // Selective node filters also select the Units: "the Units owning these nodes".
  if (filter.include_nodes && (filter.unit_node_input_uuid || !filter.unit_node_uuids.empty())) {
    conditions.push_back("EXISTS (SELECT 1" + nodeSource(filter) + " WHERE n.unit_uuid = u.uuid" +
                         " AND " + nodeConditions(filter, scopes.nodes, params) + ")");
  }
  std::string out = " WHERE ";
  for (std::size_t i = 0; i < conditions.size(); ++i) {
    if (i > 0) {
      out += " AND ";
    }
    out += conditions[i];
  }
  return out;
}

void insertGrant(pqxx::work& tx, AgentType agent_type, const Uuid& agent,
                 ResourceType resource_type, const Uuid& resource) {
  tx.exec_params(kInsertGrant, std::string(domain::toString(agent_type)), agent.toString(),
                 std::string(domain::toString(resource_type)), resource.toString());
}

/// Creates the nodes of `changes` for `unit` with their permissions (§1.6).
void createNodes(pqxx::work& tx, const Uuid& unit, const NodeChanges& changes) {
  const std::optional<std::string> creator =
      changes.creator_uuid ? std::optional<std::string>(changes.creator_uuid->toString())
                           : std::nullopt;
  const std::string level(domain::toString(changes.visibility_level));
  for (const auto& node : changes.create) {
    const auto rows = tx.exec_params(kInsertNode, std::string(domain::toString(node.type)), level,
                                     node.topic_name, nullable(creator), unit.toString());
    if (rows.empty()) {
      continue;  // created meanwhile by a concurrent reconcile
    }
    const auto uuid = uuidOf(rows[0][0]);
    insertGrant(tx, AgentType::kUnit, unit, ResourceType::kUnitNode, uuid);
    for (const auto& user : changes.granted_users) {
      insertGrant(tx, AgentType::kUser, user, ResourceType::kUnitNode, uuid);
    }
  }
}

std::vector<UnitNode> selectNodes(pqxx::transaction_base& tx, const Uuid& unit) {
  static const std::string sql = std::string("SELECT ") + kNodeColumns +
                                 " FROM units_nodes n WHERE n.unit_uuid = $1"
                                 " ORDER BY n.create_datetime, n.uuid";
  std::vector<UnitNode> nodes;
  for (const auto& row : tx.exec_params(sql, unit.toString())) {
    nodes.push_back(toNode(row));
  }
  return nodes;
}

/// Maps the foreign-key failure of a vanished Repo/creator to error 2.
template <class F>
decltype(auto) withUnitErrors(F&& f) {
  try {
    return translateErrors(std::forward<F>(f), nameTaken());
  } catch (const pqxx::foreign_key_violation& e) {
    throw Error(ErrorKind::kValidation, kNoObject,
                "units: " + violatedConstraint(e).value_or("foreign key"));
  }
}

}  // namespace

std::optional<Unit> PgUnitStore::find(const Uuid& uuid) {
  static const std::string sql =
      std::string("SELECT ") + kUnitColumns + " FROM units u WHERE u.uuid = $1";
  return translateErrors([&] {
    return pool_.withRead([&](pqxx::nontransaction& tx) -> std::optional<Unit> {
      const auto rows = tx.exec_params(sql, uuid.toString());
      if (rows.empty()) {
        return std::nullopt;
      }
      return toUnit(rows[0]);
    });
  });
}

std::optional<Uuid> PgUnitStore::findUuidByName(const std::string& name) {
  return translateErrors([&] {
    return pool_.withRead([&](pqxx::nontransaction& tx) -> std::optional<Uuid> {
      const auto rows = tx.exec_params(kFindUuidByName, name);
      if (rows.empty()) {
        return std::nullopt;
      }
      return uuidOf(rows[0][0]);
    });
  });
}

std::optional<UnitRepoFacts> PgUnitStore::findRepo(const Uuid& repo) {
  return translateErrors([&] {
    return pool_.withRead([&](pqxx::nontransaction& tx) -> std::optional<UnitRepoFacts> {
      const auto rows = tx.exec_params(kFindRepo, repo.toString());
      if (rows.empty()) {
        return std::nullopt;
      }
      const auto& row = rows[0];
      UnitRepoFacts facts;
      facts.uuid = repo;
      facts.visibility_level = visibilityOf(row[0]);
      facts.default_branch = optionalTextOf(row[1]);
      facts.default_commit = optionalTextOf(row[2]);
      facts.is_auto_update_repo = row[3].as<bool>();
      facts.is_only_tag_update = row[4].as<bool>();
      facts.is_compilable_repo = row[5].as<bool>();
      facts.creator_uuid = optionalUuidOf(row[6]);
      return facts;
    });
  });
}

Unit PgUnitStore::insert(const NewUnit& unit, const NodeChanges& nodes) {
  static const std::string sql = std::string(kInsertUnit) + kUnitColumns;
  return withUnitErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) {
      auto created = toUnit(tx.exec_params1(
          sql, unit.repo_uuid.toString(), unit.creator_uuid.toString(),
          std::string(domain::toString(unit.visibility_level)), unit.name,
          unit.is_auto_update_from_repo_unit, nullable(unit.target_firmware_platform),
          nullable(unit.repo_branch), nullable(unit.repo_commit)));
      for (const auto& grant : domain::grantsForUnitCreated(unit.creator_uuid, created.uuid)) {
        insertGrant(tx, grant.agent_type, grant.agent, grant.resource_type, grant.resource);
      }
      createNodes(tx, created.uuid, nodes);
      return created;
    });
  });
}

std::optional<Unit> PgUnitStore::update(const Uuid& uuid, const UnitSettings& settings) {
  static const std::string sql = std::string(kUpdateUnit) + kUnitColumns;
  return withUnitErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) -> std::optional<Unit> {
      const std::string level(domain::toString(settings.visibility_level));
      const auto rows = tx.exec_params(
          sql, uuid.toString(), level, settings.name, settings.is_auto_update_from_repo_unit,
          nullable(settings.target_firmware_platform), nullable(settings.repo_branch),
          nullable(settings.repo_commit));
      if (rows.empty()) {
        return std::nullopt;
      }
      tx.exec_params(kRaiseNodes, uuid.toString(), level);
      return toUnit(rows[0]);
    });
  });
}

std::vector<UnitNode> PgUnitStore::reconcile(const Uuid& unit, const NodeChanges& changes,
                                             const std::optional<std::string>& new_cipher_env) {
  return withUnitErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) {
      if (tx.exec_params(kLockUnit, unit.toString()).empty()) {
        throw Error(ErrorKind::kValidation, kNoObject, "reconcile: unit vanished");
      }
      if (!changes.remove.empty()) {
        tx.exec_params(kDeleteNodes, unit.toString(), uuidArray(changes.remove));
      }
      createNodes(tx, unit, changes);
      if (new_cipher_env) {
        tx.exec_params(kSetEnvAndTouch, unit.toString(), *new_cipher_env);
      } else {
        tx.exec_params(kTouch, unit.toString());
      }
      return selectNodes(tx, unit);
    });
  });
}

bool PgUnitStore::remove(const Uuid& uuid) {
  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) {
      return tx.exec_params(kDeleteUnit, uuid.toString()).affected_rows() > 0;
    });
  });
}

std::size_t PgUnitStore::deleteLogs(const Uuid& unit) {
  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) {
      return static_cast<std::size_t>(
          tx.exec_params("DELETE FROM unit_logs WHERE unit_uuid = $1", unit.toString())
              .affected_rows());
    });
  });
}

std::vector<UnitNode> PgUnitStore::nodesOf(const Uuid& unit) {
  return translateErrors([&] {
    return pool_.withRead([&](pqxx::nontransaction& tx) { return selectNodes(tx, unit); });
  });
}

std::vector<LinkedOutput> PgUnitStore::linkedOutputs(const Uuid& unit) {
  return translateErrors([&] {
    return pool_.withRead([&](pqxx::nontransaction& tx) {
      std::vector<LinkedOutput> out;
      for (const auto& row : tx.exec_params(kLinkedOutputs, unit.toString())) {
        out.push_back({uuidOf(row[0]), uuidOf(row[1]), row[2].c_str()});
      }
      return out;
    });
  });
}

UnitPage PgUnitStore::list(const UnitFilter& filter, const UnitListScopes& scopes) {
  UnitPage page;
  if (scopes.units.matchesNothing()) {
    return page;
  }

  NullableParams params;
  const std::string where = unitWhere(filter, scopes, params);
  const std::string count_sql = "SELECT count(*) FROM units u" + where;

  NullableParams page_params = params;
  const auto dir = [](bool desc) { return desc ? " DESC" : " ASC"; };
  std::string rows_sql = std::string("SELECT ") + kUnitColumns + " FROM units u" + where +
                         " ORDER BY u.create_datetime" + dir(filter.order_create_desc) +
                         ", u.last_update_datetime" + dir(filter.order_update_desc) + ", u.name" +
                         dir(filter.order_name_desc) + ", u.uuid OFFSET " +
                         page_params.add(std::to_string(filter.offset)) + "::bigint";
  if (filter.limit) {
    rows_sql += " LIMIT " + page_params.add(std::to_string(*filter.limit)) + "::bigint";
  }

  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) {
      const auto count_args = params.pointers();
      page.count = tx.exec_params1(count_sql, pqxx::prepare::make_dynamic_params(count_args))[0]
                       .as<std::int64_t>();
      const auto row_args = page_params.pointers();
      const auto rows = tx.exec_params(rows_sql, pqxx::prepare::make_dynamic_params(row_args));
      std::vector<Uuid> uuids;
      for (const auto& row : rows) {
        page.rows.push_back({toUnit(row), {}});
        uuids.push_back(page.rows.back().unit.uuid);
      }
      if (!filter.include_nodes || uuids.empty()) {
        return page;
      }

      NullableParams node_params;
      const std::string nodes_sql =
          std::string("SELECT ") + kNodeColumns + nodeSource(filter) + " WHERE n.unit_uuid = ANY(" +
          node_params.add(uuidArray(uuids)) + "::uuid[]) AND " +
          nodeConditions(filter, scopes.nodes, node_params) + " ORDER BY n.create_datetime, n.uuid";
      const auto node_args = node_params.pointers();
      std::unordered_map<Uuid, std::vector<UnitNode>> by_unit;
      for (const auto& row :
           tx.exec_params(nodes_sql, pqxx::prepare::make_dynamic_params(node_args))) {
        auto node = toNode(row);
        if (node.unit_uuid) {
          by_unit[*node.unit_uuid].push_back(std::move(node));
        }
      }
      for (auto& item : page.rows) {
        if (auto it = by_unit.find(item.unit.uuid); it != by_unit.end()) {
          item.nodes = std::move(it->second);
        }
      }
      return page;
    });
  });
}

std::vector<Unit> PgUnitStore::autoUpdateUnitsOf(const Uuid& repo) {
  static const std::string sql = std::string("SELECT ") + kUnitColumns +
                                 " FROM units u WHERE u.repo_uuid = $1"
                                 " AND u.is_auto_update_from_repo_unit"
                                 " ORDER BY u.create_datetime, u.uuid";
  return translateErrors([&] {
    return pool_.withRead([&](pqxx::nontransaction& tx) {
      std::vector<Unit> units;
      for (const auto& row : tx.exec_params(sql, repo.toString())) {
        units.push_back(toUnit(row));
      }
      return units;
    });
  });
}

bool PgUnitStore::setCipherEnv(const Uuid& unit, const std::optional<std::string>& cipher) {
  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) {
      return tx.exec_params(kSetCipherEnv, unit.toString(), nullable(cipher)).affected_rows() > 0;
    });
  });
}

bool PgUnitStore::setCipherStateStorage(const Uuid& unit,
                                        const std::optional<std::string>& cipher) {
  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) {
      return tx.exec_params(kSetCipherStateStorage, unit.toString(), nullable(cipher))
                 .affected_rows() > 0;
    });
  });
}

bool PgUnitStore::setFirmwareUpdate(const Uuid& unit,
                                    std::optional<domain::FirmwareUpdateStatus> status,
                                    const std::optional<std::string>& error,
                                    std::optional<Timestamp> last_firmware_update_datetime,
                                    const std::optional<std::string>& target) {
  const std::optional<std::string> status_text =
      status ? std::optional<std::string>(std::string(domain::toString(*status))) : std::nullopt;
  const std::optional<std::string> micros =
      last_firmware_update_datetime
          ? std::optional<std::string>(
                std::to_string(last_firmware_update_datetime->time_since_epoch().count()))
          : std::nullopt;
  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) {
      return tx.exec_params(kSetFirmwareUpdate, unit.toString(), nullable(status_text),
                            nullable(error), nullable(micros), nullable(target))
                 .affected_rows() > 0;
    });
  });
}

}  // namespace pepeunit::store::pg
