// Routes outside the versioned API: instance info, health and a trivial ping baseline.
#pragma once

#include <httplib.h>

#include <string>

#include "service/system_service.hpp"

namespace pepeunit::http {

/// GET {app_prefix}          instance info (name, version, license, links)
/// GET {app_prefix}/health   dependency states; 200 when all are up, 503 otherwise
/// GET /ping                 "pong" — the in-process baseline for benchmarks
void registerSystemRoutes(httplib::Server& server, const std::string& app_prefix,
                          const service::SystemService& system);

}  // namespace pepeunit::http
