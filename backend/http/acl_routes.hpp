// Broker authorization over HTTP (issue 6 item 2): the Mosquitto plugin's rule-set endpoint
// `POST /mqtt/acl/rules` (bearer token BACKEND_PLUGIN_TOKEN) and the EMQX-compatible
// `POST /units/auth` (spec §4.2). Changes of access are announced by the use cases themselves
// (service::AccessEvents), not here.
#pragma once

#include <string>

#include "http/api.hpp"
#include "service/acl_service.hpp"
#include "service/auth_service.hpp"

namespace pepeunit::http {

/// `plugin_token` empty: `/mqtt/acl/rules` answers 404 (disabled). A wrong or missing
/// `Authorization: Bearer` answers 403; an unknown principal 404.
void registerAclRoutes(Api& api, service::AclService& acl, const service::AuthService& auth,
                       std::string plugin_token);

}  // namespace pepeunit::http
