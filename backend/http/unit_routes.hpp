// REST routes of units (pepeunit_backend_spec.md §2.3), paths and bodies as in the original:
//   POST   /units                                            201 UnitRead
//   GET    /units/env/{uuid}                                 200 env (JSON string for 2024
//                                                                repos, object for 2026 ones)
//   PATCH  /units/env/{uuid}                                 204 {"env_json_string": "<json>"}
//   GET    /units/get_target_version/{uuid}                  200 {"commit", "tag"}
//   GET    /units/get_current_schema/{uuid}                  200 schema.json (encoded like env)
//   GET    /units/firmware/{zip,tar,tgz}/{uuid}              200 application/octet-stream
//   POST   /units/set_state_storage/{uuid}                   204 {"state": "<text>"}
//   GET    /units/get_state_storage/{uuid}                   200 JSON string ("" when unset)
//   POST   /units/send_command_to_input_base_topic/{uuid}    204 ?command=Update|EnvUpdate|
//                                                                 SchemaUpdate|LogSync
//   GET    /units/{uuid}                                     200 UnitRead
//   PATCH  /units/{uuid}                                     200 UnitRead
//   DELETE /units/{uuid}                                     204
//   GET    /units                                            200 {"count", "units": [UnitRead]}
// (`POST /units/auth`, the broker's authorization hook, belongs to the broker routes.)
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "http/api.hpp"
#include "service/unit_service.hpp"
#include "store/unit_store.hpp"

namespace pepeunit::http {

/// Literal-prefix paths are registered before the `{uuid}` ones. `max_page` caps `limit`.
void registerUnitRoutes(Api& api, service::UnitService& units, std::int64_t max_page);

/// UnitRead (§2.3): `unit_state` is the stored state object or null; `unit_nodes` holds
/// `nodes` (UnitNodeRead each), empty unless they were requested.
nlohmann::json unitRead(const store::Unit& unit, const std::vector<store::UnitNode>& nodes = {});

}  // namespace pepeunit::http
