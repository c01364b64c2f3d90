// Broker authorization over HTTP (issue 6 item 2): the Mosquitto plugin's rule-set endpoint
// `POST /mqtt/acl/rules` (bearer token BACKEND_PLUGIN_TOKEN), the EMQX-compatible
// `POST /units/auth` (spec §4.2), and the hook that publishes rule-set changes to Redis after
// successful REST calls that change access.
#pragma once

#include <httplib.h>

#include <string>

#include "http/api.hpp"
#include "service/acl_service.hpp"
#include "service/auth_service.hpp"

namespace pepeunit::http {

/// `plugin_token` empty: `/mqtt/acl/rules` answers 404 (disabled). A wrong or missing
/// `Authorization: Bearer` answers 403; an unknown principal 404.
void registerAclRoutes(Api& api, service::AclService& acl, const service::AuthService& auth,
                       std::string plugin_token);

/// Installs an httplib post-routing handler: after a successful (2xx) REST call under
/// `api_base` (e.g. "/pepeunit/api/v1") that changes access, tells `acl`:
///   * POST /permission with agent_type Unit           → accessChanged(agent, grant)
///   * DELETE /permission[/x]                          → accessChanged(agent_uuid, revoke)
///   * DELETE /units/{uuid}                            → accessChanged(uuid) = "deleted"
///   * POST /units, PATCH /units/{uuid}, PATCH /unit_nodes/{uuid}, edge create/delete,
///     DELETE/PATCH /repos/{uuid}, /repos/update_local_repo|update_units_firmware/{uuid},
///     POST /repos/bulk_update                         → everythingChanged()
/// Runs before the response is written, so a client sees the event before the response.
/// Not covered (no REST call): the repo scheduler's background node reconcile, and the expiry of
/// time-limited grants (bounded instead by the rule set's ttl, see AclService).
void installAccessChangeHook(httplib::Server& server, std::string api_base,
                             service::AclService& acl);

}  // namespace pepeunit::http
