// Rule-set facts of a unit, read by one statement (see kFacts).
#include "store/pg/pg_acl_store.hpp"

#include <pqxx/pqxx>
#include <string>

#include "common/errors.hpp"
#include "store/pg/errors.hpp"
#include "store/pg/sql_support.hpp"

namespace pepeunit::store::pg {
namespace {

using domain::Uuid;

// Every fact in ONE prepared statement (planned once per connection, one round trip, one snapshot:
// a node deleted half-way cannot appear as both own and foreign). The rule-set endpoint runs this
// for every plugin cache miss, so it must not grow with the size of the installation beyond what
// the rule set itself contains: visible nodes come from the grants of the unit (permissions index)
// and the Public/Internal nodes (visibility index), not from a per-node subquery over all nodes.
// Rows: kind 0 = the unit exists (expiry = earliest future grant expiry, or NULL); 1 = own node;
// 2 = linked output (uuid only); 3 = visible node (granted ones first, then by uuid; at most $3).
// $1 = unit, $2 = now (unix seconds), $3 = how many visible rows to return (one more than
// wanted, to detect truncation).
constexpr const char* kFactsStatement = "pepeunit_acl_facts";
constexpr const char* kFacts =
    "WITH grants AS ("
    "  SELECT DISTINCT p.resource_unit_node_uuid AS uuid FROM permissions p"
    "   WHERE p.agent_unit_uuid = $1 AND p.resource_unit_node_uuid IS NOT NULL"
    "     AND (p.valid_until IS NULL"
    "          OR p.valid_until > to_timestamp($2::bigint) AT TIME ZONE 'UTC')),"
    " visible AS ("
    "  SELECT v.uuid, v.type, v.is_rewritable_input, v.granted FROM ("
    "    SELECT n.uuid, n.type, n.is_rewritable_input, true AS granted"
    "      FROM grants g JOIN units_nodes n ON n.uuid = g.uuid"
    "     WHERE n.unit_uuid IS DISTINCT FROM $1"
    "    UNION ALL"
    "    SELECT n.uuid, n.type, n.is_rewritable_input, false FROM units_nodes n"
    "     WHERE n.visibility_level IN ('Public', 'Internal') AND n.unit_uuid IS DISTINCT FROM $1"
    "       AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.uuid = n.uuid)) v"
    "  ORDER BY v.granted DESC, v.uuid LIMIT $3)"
    " SELECT 0 AS kind, 0::bigint AS ord, NULL::uuid AS uuid, NULL::text AS type,"
    "        NULL::boolean AS rw,"
    "        (SELECT floor(extract(epoch FROM min(valid_until)))::bigint FROM permissions"
    "          WHERE agent_unit_uuid = $1 AND resource_type = 'UnitNode'"
    "            AND valid_until > to_timestamp($2::bigint) AT TIME ZONE 'UTC') AS expiry"
    "   FROM units WHERE uuid = $1"
    " UNION ALL"
    " SELECT 1, row_number() OVER (ORDER BY uuid), uuid, type, is_rewritable_input, NULL"
    "   FROM units_nodes WHERE unit_uuid = $1"
    " UNION ALL"
    " SELECT 2, row_number() OVER (ORDER BY o.uuid), o.uuid, NULL, NULL, NULL FROM ("
    "   SELECT DISTINCT e.node_output_uuid AS uuid FROM units_nodes_edges e"
    "     JOIN units_nodes i ON i.uuid = e.node_input_uuid WHERE i.unit_uuid = $1) o"
    " UNION ALL"
    " SELECT 3, row_number() OVER (ORDER BY granted DESC, uuid), uuid, type,"
    "        is_rewritable_input, NULL FROM visible"
    " ORDER BY 1, 2";

// The same visibility rule as `visible` above for one node, uncapped. $1 = unit, $2 = node,
// $3 = now (unix seconds). Columns line up with kFacts so nodeOf() reads both.
constexpr const char* kVisibleNodeStatement = "pepeunit_acl_visible_node";
constexpr const char* kVisibleNode =
    "SELECT 3, 0, n.uuid, n.type, n.is_rewritable_input FROM units_nodes n"
    " WHERE n.uuid = $2 AND n.unit_uuid IS DISTINCT FROM $1"
    "   AND (n.visibility_level IN ('Public', 'Internal')"
    "        OR EXISTS (SELECT 1 FROM permissions p"
    "                    WHERE p.agent_unit_uuid = $1 AND p.resource_unit_node_uuid = n.uuid"
    "                      AND (p.valid_until IS NULL"
    "                           OR p.valid_until > to_timestamp($3::bigint) AT TIME ZONE 'UTC')))";

AclNode nodeOf(const pqxx::row& row) {
  AclNode node;
  node.uuid = uuidOf(row[2]);
  const auto type = domain::parseUnitNodeType(row[3].c_str());
  if (!type) {
    throw Error(ErrorKind::kInternal, "Internal error",
                std::string("units_nodes.type has an unknown value ") + row[3].c_str());
  }
  node.type = *type;
  node.is_rewritable_input = row[4].as<bool>();
  return node;
}

}  // namespace

std::optional<AclFacts> PgAclStore::factsFor(const Uuid& unit, std::int64_t now_unix,
                                             std::size_t max_visible) {
  return translateErrors([&] {
    // A single statement: autocommit gives it one snapshot without BEGIN/COMMIT round trips.
    return pool_.withRead([&](pqxx::nontransaction& tx) -> std::optional<AclFacts> {
      const auto limit = static_cast<long long>(max_visible) + 1;
      // Prepared: planning this statement costs more than running it (~1.5 ms vs ~0.1 ms).
      // libpqxx 6 only records the definition here (a no-op after the first call on this
      // connection) and registers it with the server on first use.
      tx.conn().prepare(kFactsStatement, kFacts);
      const auto rows = tx.exec_prepared(kFactsStatement, unit.toString(), now_unix, limit);
      if (rows.empty() || rows[0][0].as<int>() != 0) {
        return std::nullopt;  // no kind-0 row: the unit does not exist
      }
      AclFacts facts;
      if (!rows[0][5].is_null()) {
        facts.next_grant_expiry = rows[0][5].as<std::int64_t>();
      }
      for (std::size_t i = 1; i < rows.size(); ++i) {
        const auto& row = rows[i];
        switch (row[0].as<int>()) {
          case 1:
            facts.own_nodes.push_back(nodeOf(row));
            break;
          case 2:
            facts.linked_outputs.push_back(uuidOf(row[2]));
            break;
          default:
            if (facts.visible_nodes.size() >= max_visible) {
              facts.truncated = true;
            } else {
              facts.visible_nodes.push_back(nodeOf(row));
            }
            break;
        }
      }
      return std::optional<AclFacts>(std::move(facts));
    });
  });
}

std::optional<AclNode> PgAclStore::visibleForeignNode(const Uuid& unit, const Uuid& node,
                                                      std::int64_t now_unix) {
  return translateErrors([&] {
    return pool_.withRead([&](pqxx::nontransaction& tx) -> std::optional<AclNode> {
      tx.conn().prepare(kVisibleNodeStatement, kVisibleNode);
      const auto rows =
          tx.exec_prepared(kVisibleNodeStatement, unit.toString(), node.toString(), now_unix);
      if (rows.empty()) {
        return std::nullopt;
      }
      return nodeOf(rows[0]);
    });
  });
}

std::vector<Uuid> PgAclStore::unitsWithGrantsLapsed(std::int64_t after_unix,
                                                    std::int64_t until_unix) {
  return translateErrors([&] {
    return pool_.withRead([&](pqxx::nontransaction& tx) {
      // permissions_valid_until_idx serves the range.
      const auto rows = tx.exec_params(
          "SELECT DISTINCT agent_unit_uuid FROM permissions"
          " WHERE agent_type = 'Unit' AND agent_unit_uuid IS NOT NULL"
          "   AND valid_until > to_timestamp($1::bigint) AT TIME ZONE 'UTC'"
          "   AND valid_until <= to_timestamp($2::bigint) AT TIME ZONE 'UTC'",
          after_unix, until_unix);
      std::vector<Uuid> units;
      units.reserve(rows.size());
      for (const auto& row : rows) {
        units.push_back(uuidOf(row[0]));
      }
      return units;
    });
  });
}

}  // namespace pepeunit::store::pg
