// Instance info mirrors the original's root document (spec §2.8) with our links.
#include "service/system_service.hpp"

namespace pepeunit::service {

SystemService::SystemService(Info info, std::vector<HealthProbe> probes)
    : info_(std::move(info)), probes_(std::move(probes)) {}

nlohmann::json SystemService::instanceInfo() const {
  return {
      {"name", "pepeunit-backend-cpp"},
      {"version", info_.version},
      {"description", "Pepeunit C++: self-hosted IoT backend, wire-compatible with Pepeunit units"},
      {"license", "AGPL-3.0-or-later"},
      {"authors", nlohmann::json::array({"Pepeunit C++ developers"})},
      {"openapi", info_.api_link + "/openapi.json"},
      {"health", info_.base_link + "/health"},
      {"api", info_.api_link},
  };
}

HealthReport SystemService::health() const {
  HealthReport report;
  report.healthy = true;
  for (const auto& probe : probes_) {
    const auto start = std::chrono::steady_clock::now();
    bool up = false;
    try {
      up = probe.check();
    } catch (...) {
      up = false;
    }
    const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
    report.components.push_back({probe.name, up, took.count()});
    report.healthy = report.healthy && up;
  }
  return report;
}

nlohmann::json toJson(const HealthReport& report) {
  nlohmann::json components = nlohmann::json::object();
  for (const auto& c : report.components) {
    components[c.name] = {{"status", c.up ? "up" : "down"}, {"latency_ms", c.latency_ms}};
  }
  return {{"status", report.healthy ? "ok" : "degraded"}, {"components", components}};
}

}  // namespace pepeunit::service
