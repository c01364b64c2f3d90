// Metrics handler: the service's counters under the original's field names.
#include "http/metrics_routes.hpp"

namespace pepeunit::http {

void registerMetricsRoutes(Api& api, service::MetricsService& metrics) {
  api.get("/metrics/", [&metrics](RequestContext& ctx) {
    const auto counters = metrics.counters(ctx.principal);
    ctx.sendJson({{"user_count", counters.users},
                  {"repo_count", counters.repos},
                  {"unit_count", counters.units},
                  {"unit_node_count", counters.unit_nodes},
                  {"unit_node_edge_count", counters.unit_node_edges}});
  });
}

}  // namespace pepeunit::http
