// REST route of the instance counters (spec §2.7).
#pragma once

#include "http/api.hpp"
#include "service/metrics_service.hpp"

namespace pepeunit::http {

/// GET /metrics/ (trailing slash, as the original) ->
/// {"user_count","repo_count","unit_count","unit_node_count","unit_node_edge_count"}.
void registerMetricsRoutes(Api& api, service::MetricsService& metrics);

}  // namespace pepeunit::http
