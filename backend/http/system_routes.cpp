// System routes.
#include "http/system_routes.hpp"

namespace pepeunit::http {

void registerSystemRoutes(httplib::Server& server, const std::string& app_prefix,
                          const service::SystemService& system) {
  const std::string root = app_prefix.empty() ? "/" : app_prefix;
  // The instance document never changes while the process runs: serialize it once.
  server.Get(
      root, [info = system.instanceInfo().dump()](const httplib::Request&, httplib::Response& res) {
        res.set_content(info, "application/json");
      });
  server.Get(app_prefix + "/health", [&system](const httplib::Request&, httplib::Response& res) {
    const auto report = system.health();
    res.status = report.healthy ? 200 : 503;
    res.set_content(service::toJson(report).dump(), "application/json");
  });
  server.Get("/ping", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("pong", "text/plain");
  });
}

}  // namespace pepeunit::http
