// REST routes of UnitNodes and their edges (pepeunit_backend_spec.md §2.5), paths and bodies as
// in the original, plus the two edge routes the original had only in GraphQL or not at all:
//   GET    /unit_nodes/{uuid}                       200 UnitNodeRead
//   GET    /unit_nodes                              200 {"count", "unit_nodes": [UnitNodeRead]}
//          query uuids[], unit_uuid, search_string, type[], visibility_level[],
//          order_by_create_date (asc|desc, default desc), offset, limit, output_uuid
//   PATCH  /unit_nodes/{uuid}                       200 UnitNodeRead
//          body {"visibility_level"?, "is_rewritable_input"?}
//   PATCH  /unit_nodes/set_state_input/{uuid}       200 UnitNodeRead   body {"state": text|null}
//   POST   /unit_nodes/create_unit_node_edge        201 UnitNodeEdgeRead
//          body {"node_output_uuid", "node_input_uuid"}
//   DELETE /unit_nodes/delete_unit_node_edge        204   query input_uuid, output_uuid
//   GET    /unit_nodes/edges/{uuid}                 200 {"count", "unit_node_edges":
//          [UnitNodeEdgeRead]} for the Unit {uuid}; query offset, limit
// UnitNodeRead = {uuid, type, visibility_level, is_rewritable_input, topic_name,
// create_datetime, state, last_update_datetime, unit_uuid, creator_uuid};
// UnitNodeEdgeRead = {uuid, node_output_uuid, node_input_uuid}.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "http/api.hpp"
#include "service/unit_node_service.hpp"
#include "store/unit_node_store.hpp"

namespace pepeunit::http {

/// Literal paths are registered before the `{uuid}` ones. `max_page` caps `limit`.
void registerUnitNodeRoutes(Api& api, service::UnitNodeService& nodes, std::int64_t max_page);

nlohmann::json unitNodeRead(const store::UnitNode& node);

nlohmann::json unitNodeEdgeRead(const store::UnitNodeEdge& edge);

}  // namespace pepeunit::http
