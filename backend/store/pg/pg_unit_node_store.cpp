// SQL for UnitNodes and edges. Every value is a bound parameter; the only SQL assembled at run
// time is the list filter's WHERE, each fragment a fixed string from this file.
//
// Edge writes lock the INPUT node's row (FOR NO KEY UPDATE, which leaves the foreign-key checks'
// KEY SHARE locks alone) so that creates and deletes of edges into one Input are serialized:
// the "is another Output of that Unit still linked?" question asked when revoking must not race
// with an edge being created at the same moment.
#include "store/pg/pg_unit_node_store.hpp"

#include <algorithm>
#include <charconv>
#include <pqxx/pqxx>
#include <pqxx/prepared_statement>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "domain/names.hpp"
#include "store/pg/errors.hpp"
#include "store/pg/sql_support.hpp"

namespace pepeunit::store::pg {
namespace {

using domain::Uuid;
using domain::Visibility;

constexpr const char* kNoObject = "The object does not exist";

// The columns of a UnitNode (alias n), read as text / microseconds so one function parses them.
constexpr const char* kNodeColumns =
    "n.uuid::text, n.type, n.visibility_level, n.is_rewritable_input, n.topic_name,"
    " (EXTRACT(EPOCH FROM n.create_datetime) * 1000000)::bigint, n.state,"
    " (EXTRACT(EPOCH FROM n.last_update_datetime) * 1000000)::bigint, n.creator_uuid::text,"
    " n.unit_uuid::text, n.history_policy, n.history_deadband, n.history_retention_days";
constexpr int kNodeColumnCount = 13;

// Each statement that returns nodes is kNodeColumns spliced into a fixed text at first use.
std::string withNodeColumns(const char* before, const char* after = "") {
  return std::string(before) + kNodeColumns + after;
}

constexpr const char* kFindNodeAfterColumns =
    ", u.creator_uuid::text, u.visibility_level"
    " FROM units_nodes n LEFT JOIN units u ON u.uuid = n.unit_uuid WHERE n.uuid = $1";

constexpr const char* kFindUnit =
    "SELECT creator_uuid::text, visibility_level FROM units WHERE uuid = $1";

// NULL parameters keep the column: only the settings the API exposes can change. The deadband
// may be set to NULL, so $5 says whether $6 replaces it.
constexpr const char* kUpdateSettings =
    "UPDATE units_nodes AS n SET"
    " visibility_level = COALESCE($2::text, n.visibility_level),"
    " is_rewritable_input = COALESCE($3::boolean, n.is_rewritable_input),"
    " history_policy = COALESCE($4::text, n.history_policy),"
    " history_deadband = CASE WHEN $5::boolean THEN $6::double precision"
    "   ELSE n.history_deadband END,"
    " history_retention_days = COALESCE($7::integer, n.history_retention_days),"
    " last_update_datetime = (now() AT TIME ZONE 'UTC')"
    " WHERE n.uuid = $1 RETURNING ";

constexpr const char* kSetState =
    "UPDATE units_nodes AS n SET state = $2, last_update_datetime = (now() AT TIME ZONE 'UTC')"
    " WHERE n.uuid = $1 RETURNING ";

constexpr const char* kLockInputNode =
    "SELECT 1 FROM units_nodes WHERE uuid = $1 FOR NO KEY UPDATE";

constexpr const char* kInsertEdge =
    "INSERT INTO units_nodes_edges (node_output_uuid, node_input_uuid, creator_uuid)"
    " VALUES ($1, $2, $3)"
    " RETURNING uuid::text, node_output_uuid::text, node_input_uuid::text, creator_uuid::text";

// The typed foreign-key column is picked by the type, as in pg_permission_store; a grant that
// already exists (set by hand or by an earlier edge) is kept as it is.
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
    "ON CONFLICT DO NOTHING";

constexpr const char* kFindEdge =
    "SELECT uuid::text, node_output_uuid::text, node_input_uuid::text, creator_uuid::text"
    " FROM units_nodes_edges WHERE node_input_uuid = $1 AND node_output_uuid = $2";

constexpr const char* kDeleteEdge =
    "DELETE FROM units_nodes_edges WHERE node_input_uuid = $1 AND node_output_uuid = $2"
    " RETURNING uuid";

constexpr const char* kEdgeUnits =
    "SELECT o.unit_uuid::text, i.unit_uuid::text FROM units_nodes o, units_nodes i"
    " WHERE o.uuid = $1 AND i.uuid = $2";

// Whether another Output node of the Unit $2 still feeds the Input $1.
constexpr const char* kUnitStillLinked =
    "SELECT EXISTS (SELECT 1 FROM units_nodes_edges e"
    " JOIN units_nodes o ON o.uuid = e.node_output_uuid"
    " WHERE e.node_input_uuid = $1 AND o.unit_uuid = $2)";

constexpr const char* kRevokeGrant =
    "DELETE FROM permissions WHERE agent_uuid = $1 AND resource_uuid = $2";

// Edges with either end on a node of the Unit $1.
constexpr const char* kCountUnitEdges =
    "SELECT count(*) FROM units_nodes_edges e"
    " WHERE e.node_output_uuid IN (SELECT uuid FROM units_nodes WHERE unit_uuid = $1)"
    " OR e.node_input_uuid IN (SELECT uuid FROM units_nodes WHERE unit_uuid = $1)";

constexpr const char* kListUnitEdges =
    "SELECT e.uuid::text, e.node_output_uuid::text, e.node_input_uuid::text,"
    " e.creator_uuid::text FROM units_nodes_edges e"
    " WHERE e.node_output_uuid IN (SELECT uuid FROM units_nodes WHERE unit_uuid = $1)"
    " OR e.node_input_uuid IN (SELECT uuid FROM units_nodes WHERE unit_uuid = $1)"
    " ORDER BY e.node_output_uuid, e.node_input_uuid OFFSET $2::bigint LIMIT $3::bigint";

// Data that breaks the schema's own invariants is a server fault, not a client one.
[[noreturn]] void corrupt(const std::string& what) {
  throw Error(ErrorKind::kInternal, "Internal server error", "units_nodes: " + what);
}

Visibility visibilityOf(const pqxx::field& field) {
  const auto level = domain::parseVisibility(field.c_str());
  if (!level) {
    corrupt(std::string("bad visibility ") + field.c_str());
  }
  return *level;
}

// Columns kNodeColumns, starting at index 0.
UnitNode nodeOf(const pqxx::row& row) {
  const auto type = domain::parseUnitNodeType(row[1].c_str());
  if (!type) {
    corrupt(std::string("bad node type ") + row[1].c_str());
  }
  UnitNode node;
  node.uuid = uuidOf(row[0]);
  node.type = *type;
  node.visibility_level = visibilityOf(row[2]);
  node.is_rewritable_input = row[3].as<bool>();
  node.topic_name = row[4].c_str();
  node.create_datetime = timestampOf(row[5]);
  if (!row[6].is_null()) {
    node.state = row[6].c_str();
  }
  node.last_update_datetime = timestampOf(row[7]);
  node.creator_uuid = optionalUuidOf(row[8]);
  node.unit_uuid = optionalUuidOf(row[9]);
  node.history_policy = row[10].c_str();
  if (!row[11].is_null()) {
    node.history_deadband = row[11].as<double>();
  }
  node.history_retention_days = row[12].as<std::int32_t>();
  return node;
}

std::optional<UnitNode> firstNode(const pqxx::result& rows) {
  if (rows.empty()) {
    return std::nullopt;
  }
  return nodeOf(rows[0]);
}

// The shortest text that parses back to exactly `value` (std::to_string keeps only 6 decimals).
std::string shortestText(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

UnitNodeEdge edgeOf(const pqxx::row& row) {
  return UnitNodeEdge{uuidOf(row[0]), uuidOf(row[1]), uuidOf(row[2]), optionalUuidOf(row[3])};
}

// libpqxx 6 has no std::optional parameters: a null `const char*` is sent as SQL NULL.
class NullableParam {
 public:
  explicit NullableParam(std::optional<std::string> value) : value_(std::move(value)) {}
  const char* get() const { return value_ ? value_->c_str() : nullptr; }

 private:
  std::optional<std::string> value_;
};

std::string whereClause(const UnitNodeFilter& filter, const domain::ListScope& scope,
                        Params& params) {
  std::vector<std::string> conditions;
  conditions.push_back(scopeCondition(scope, params, "n."));
  if (!filter.uuids.empty()) {
    conditions.push_back("n.uuid = ANY(" + params.add(uuidArray(filter.uuids)) + "::uuid[])");
  }
  if (filter.unit_uuid) {
    conditions.push_back("n.unit_uuid = " + params.add(filter.unit_uuid->toString()) + "::uuid");
  }
  for (const auto& word : filter.search_words) {
    conditions.push_back("n.topic_name ILIKE " + params.add(domain::likeContainsPattern(word)) +
                         " ESCAPE '\\'");
  }
  if (!filter.types.empty()) {
    conditions.push_back("n.type = ANY(" + params.add(arrayLiteral(filter.types, [](auto t) {
      return std::string(toString(t));
    })) + "::text[])");
  }
  if (filter.output_uuid) {
    conditions.push_back(
        "n.uuid IN (SELECT e.node_input_uuid FROM units_nodes_edges e"
        " WHERE e.node_output_uuid = " +
        params.add(filter.output_uuid->toString()) + "::uuid)");
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

}  // namespace

std::optional<UnitNodeFacts> PgUnitNodeStore::find(const Uuid& uuid) {
  return translateErrors([&] {
    return pool_.withRead([&](pqxx::nontransaction& tx) -> std::optional<UnitNodeFacts> {
      static const std::string sql = withNodeColumns("SELECT ", kFindNodeAfterColumns);
      const auto rows = tx.exec_params(sql, uuid.toString());
      if (rows.empty()) {
        return std::nullopt;
      }
      UnitNodeFacts facts;
      facts.node = nodeOf(rows[0]);
      facts.unit_creator = optionalUuidOf(rows[0][kNodeColumnCount]);
      if (!rows[0][kNodeColumnCount + 1].is_null()) {
        facts.unit_visibility = visibilityOf(rows[0][kNodeColumnCount + 1]);
      }
      return facts;
    });
  });
}

std::optional<UnitFacts> PgUnitNodeStore::findUnit(const Uuid& uuid) {
  return translateErrors([&] {
    return pool_.withRead([&](pqxx::nontransaction& tx) -> std::optional<UnitFacts> {
      const auto rows = tx.exec_params(kFindUnit, uuid.toString());
      if (rows.empty()) {
        return std::nullopt;
      }
      return UnitFacts{uuid, optionalUuidOf(rows[0][0]), visibilityOf(rows[0][1])};
    });
  });
}

UnitNodePage PgUnitNodeStore::list(const UnitNodeFilter& filter, const domain::ListScope& scope) {
  if (scope.matchesNothing()) {
    return {};
  }
  Params params;
  const std::string where = whereClause(filter, scope, params);
  const std::string count_sql = "SELECT count(*) FROM units_nodes n" + where;

  Params page_params = params;
  std::string rows_sql = withNodeColumns("SELECT ", " FROM units_nodes n") + where +
                         (filter.newest_first ? " ORDER BY n.create_datetime DESC, n.uuid DESC"
                                              : " ORDER BY n.create_datetime ASC, n.uuid ASC") +
                         " OFFSET " + page_params.add(std::to_string(filter.offset)) + "::bigint";
  if (filter.limit) {
    rows_sql += " LIMIT " + page_params.add(std::to_string(*filter.limit)) + "::bigint";
  }

  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) {
      UnitNodePage page;
      page.count =
          tx.exec_params1(count_sql, pqxx::prepare::make_dynamic_params(params.values()))[0]
              .as<std::int64_t>();
      const auto rows =
          tx.exec_params(rows_sql, pqxx::prepare::make_dynamic_params(page_params.values()));
      page.rows.reserve(rows.size());
      for (const auto& row : rows) {
        page.rows.push_back(nodeOf(row));
      }
      return page;
    });
  });
}

std::optional<UnitNode> PgUnitNodeStore::updateSettings(const Uuid& uuid,
                                                        std::optional<Visibility> visibility,
                                                        std::optional<bool> is_rewritable_input) {
  return updateNodeSettings(uuid, visibility, is_rewritable_input, UnitNodeHistoryUpdate{});
}

std::optional<UnitNode> PgUnitNodeStore::updateNodeSettings(const Uuid& uuid,
                                                            std::optional<Visibility> visibility,
                                                            std::optional<bool> is_rewritable_input,
                                                            const UnitNodeHistoryUpdate& history) {
  const NullableParam level(visibility ? std::optional<std::string>(toString(*visibility))
                                       : std::nullopt);
  const NullableParam rewritable(
      is_rewritable_input ? std::optional<std::string>(*is_rewritable_input ? "true" : "false")
                          : std::nullopt);
  const NullableParam policy(history.policy);
  const std::string set_deadband = history.deadband ? "true" : "false";
  const NullableParam deadband(history.deadband && *history.deadband
                                   ? std::optional<std::string>(shortestText(**history.deadband))
                                   : std::nullopt);
  const NullableParam retention(
      history.retention_days ? std::optional<std::string>(std::to_string(*history.retention_days))
                             : std::nullopt);
  try {
    return translateErrors([&] {
      return pool_.withTransaction([&](pqxx::work& tx) {
        static const std::string sql = withNodeColumns(kUpdateSettings);
        return firstNode(tx.exec_params(sql, uuid.toString(), level.get(), rewritable.get(),
                                        policy.get(), set_deadband, deadband.get(),
                                        retention.get()));
      });
    });
  } catch (const pqxx::check_violation& e) {
    const auto constraint = violatedConstraint(e).value_or("check");
    // The service validates the history fields first; these only fire on a bug.
    if (constraint.rfind("units_nodes_history_", 0) == 0) {
      throw Error(ErrorKind::kUnitNodeValidation, "Invalid history policy",
                  "node update: " + constraint);
    }
    // units_nodes_rewritable_input_check: the service checks the type first, so this only
    // happens if the row changed type meanwhile (it never does today).
    throw Error(ErrorKind::kUnitNodeValidation, "This Node " + uuid.toString() + " is not Input",
                "node update: " + constraint);
  }
}

std::optional<UnitNode> PgUnitNodeStore::setState(const Uuid& uuid,
                                                  const std::optional<std::string>& state) {
  const NullableParam value(state);
  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) {
      static const std::string sql = withNodeColumns(kSetState);
      return firstNode(tx.exec_params(sql, uuid.toString(), value.get()));
    });
  });
}

UnitNodeEdge PgUnitNodeStore::createEdge(const NewUnitNodeEdge& edge) {
  try {
    return translateErrors(
        [&] {
          return pool_.withTransaction([&](pqxx::work& tx) {
            if (tx.exec_params(kLockInputNode, edge.node_input_uuid.toString()).empty()) {
              throw ValidationError(kNoObject);
            }
            const auto created = edgeOf(
                tx.exec_params1(kInsertEdge, edge.node_output_uuid.toString(),
                                edge.node_input_uuid.toString(), edge.creator_uuid.toString()));
            for (const auto& grant : edge.grants) {
              tx.exec_params(kInsertGrant, std::string(toString(grant.agent_type)),
                             grant.agent.toString(), std::string(toString(grant.resource_type)),
                             grant.resource.toString());
            }
            return created;
          });
        },
        OnConflict{ErrorKind::kUnitNodeValidation, "Edge exist"});
  } catch (const pqxx::foreign_key_violation& e) {
    // A node, a unit or the creator was deleted between the service's checks and the insert.
    throw Error(ErrorKind::kValidation, kNoObject,
                "edge insert: " + violatedConstraint(e).value_or("foreign key"));
  }
}

std::optional<UnitNodeEdge> PgUnitNodeStore::findEdge(const Uuid& input, const Uuid& output) {
  return translateErrors([&] {
    return pool_.withRead([&](pqxx::nontransaction& tx) -> std::optional<UnitNodeEdge> {
      const auto rows = tx.exec_params(kFindEdge, input.toString(), output.toString());
      if (rows.empty()) {
        return std::nullopt;
      }
      return edgeOf(rows[0]);
    });
  });
}

bool PgUnitNodeStore::deleteEdge(const Uuid& input, const Uuid& output) {
  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) {
      // No input node: its edges went with it (ON DELETE CASCADE).
      if (tx.exec_params(kLockInputNode, input.toString()).empty()) {
        return false;
      }
      if (tx.exec_params(kDeleteEdge, input.toString(), output.toString()).empty()) {
        return false;
      }
      const auto units = tx.exec_params(kEdgeUnits, output.toString(), input.toString());
      if (units.empty() || units[0][0].is_null() || units[0][1].is_null()) {
        return true;
      }
      const Uuid output_unit = uuidOf(units[0][0]);
      const Uuid input_unit = uuidOf(units[0][1]);
      // An edge inside one Unit: the "revoked" grant would be the Unit's own access to its node.
      if (output_unit == input_unit) {
        return true;
      }
      const bool still_linked =
          tx.exec_params1(kUnitStillLinked, input.toString(), output_unit.toString())[0].as<bool>();
      for (const auto& revoke : domain::revokesForEdgeDeleted(output_unit, input, still_linked)) {
        tx.exec_params(kRevokeGrant, revoke.agent.toString(), revoke.resource.toString());
      }
      return true;
    });
  });
}

UnitNodeEdgePage PgUnitNodeStore::listUnitEdges(const Uuid& unit, std::int64_t offset,
                                                std::int64_t limit) {
  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) {
      UnitNodeEdgePage page;
      page.count = tx.exec_params1(kCountUnitEdges, unit.toString())[0].as<std::int64_t>();
      const auto rows = tx.exec_params(kListUnitEdges, unit.toString(), offset, limit);
      page.rows.reserve(rows.size());
      for (const auto& row : rows) {
        page.rows.push_back(edgeOf(row));
      }
      return page;
    });
  });
}

}  // namespace pepeunit::store::pg
