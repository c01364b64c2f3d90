// Rule-set facts of a unit. All four reads run in one transaction so the rule set is built from
// one consistent picture (a node deleted half-way cannot appear as both own and foreign).
#include "store/pg/pg_acl_store.hpp"

#include <pqxx/pqxx>
#include <string>

#include "common/errors.hpp"
#include "store/pg/errors.hpp"
#include "store/pg/sql_support.hpp"

namespace pepeunit::store::pg {
namespace {

using domain::Uuid;

constexpr const char* kUnitExists = "SELECT 1 FROM units WHERE uuid = $1";

constexpr const char* kOwnNodes =
    "SELECT uuid, type, is_rewritable_input FROM units_nodes WHERE unit_uuid = $1 ORDER BY uuid";

constexpr const char* kLinkedOutputs =
    "SELECT DISTINCT e.node_output_uuid FROM units_nodes_edges e"
    " JOIN units_nodes i ON i.uuid = e.node_input_uuid"
    " WHERE i.unit_uuid = $1 ORDER BY 1";

// $2 = now (unix seconds), $3 = how many rows to return (one more than wanted, to detect
// truncation). Explicit grants first, so a cap never drops what someone granted on purpose.
constexpr const char* kVisibleNodes =
    "SELECT n.uuid, n.type, n.is_rewritable_input, g.granted FROM units_nodes n"
    " LEFT JOIN LATERAL (SELECT true AS granted FROM permissions p"
    "   WHERE p.agent_unit_uuid = $1 AND p.resource_unit_node_uuid = n.uuid"
    "     AND (p.valid_until IS NULL"
    "          OR p.valid_until > to_timestamp($2::bigint) AT TIME ZONE 'UTC')"
    "   LIMIT 1) g ON true"
    " WHERE n.unit_uuid IS DISTINCT FROM $1"
    "   AND (n.visibility_level IN ('Public', 'Internal') OR g.granted IS NOT NULL)"
    " ORDER BY (g.granted IS NOT NULL) DESC, n.uuid LIMIT $3";

constexpr const char* kNextGrantExpiry =
    "SELECT floor(extract(epoch FROM min(valid_until)))::bigint FROM permissions"
    " WHERE agent_unit_uuid = $1 AND resource_type = 'UnitNode'"
    "   AND valid_until > to_timestamp($2::bigint) AT TIME ZONE 'UTC'";

AclNode nodeOf(const pqxx::row& row) {
  AclNode node;
  node.uuid = uuidOf(row[0]);
  const auto type = domain::parseUnitNodeType(row[1].c_str());
  if (!type) {
    throw Error(ErrorKind::kInternal, "Internal error",
                std::string("units_nodes.type has an unknown value ") + row[1].c_str());
  }
  node.type = *type;
  node.is_rewritable_input = row[2].as<bool>();
  return node;
}

}  // namespace

std::optional<AclFacts> PgAclStore::factsFor(const Uuid& unit, std::int64_t now_unix,
                                             std::size_t max_visible) {
  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) -> std::optional<AclFacts> {
      const std::string id = unit.toString();
      if (tx.exec_params(kUnitExists, id).empty()) {
        return std::nullopt;
      }
      AclFacts facts;
      for (const auto& row : tx.exec_params(kOwnNodes, id)) {
        facts.own_nodes.push_back(nodeOf(row));
      }
      for (const auto& row : tx.exec_params(kLinkedOutputs, id)) {
        facts.linked_outputs.push_back(uuidOf(row[0]));
      }
      const auto limit = static_cast<long long>(max_visible) + 1;
      for (const auto& row : tx.exec_params(kVisibleNodes, id, now_unix, limit)) {
        if (facts.visible_nodes.size() >= max_visible) {
          facts.truncated = true;
          break;
        }
        facts.visible_nodes.push_back(nodeOf(row));
      }
      const auto expiry = tx.exec_params(kNextGrantExpiry, id, now_unix);
      if (!expiry.empty() && !expiry[0][0].is_null()) {
        facts.next_grant_expiry = expiry[0][0].as<std::int64_t>();
      }
      return std::optional<AclFacts>(std::move(facts));
    });
  });
}

}  // namespace pepeunit::store::pg
