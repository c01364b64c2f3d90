// Instance description and health: what `GET /pepeunit` and `GET /pepeunit/health` report.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pepeunit::service {

/// One dependency the backend needs (Postgres, Redis, MQTT). `check` must be bounded in time.
struct HealthProbe {
  std::string name;
  std::function<bool()> check;
};

struct ComponentState {
  std::string name;
  bool up = false;
  double latency_ms = 0;
};

struct HealthReport {
  bool healthy = false;
  std::vector<ComponentState> components;
};

class SystemService {
 public:
  struct Info {
    std::string version;
    std::string base_link;  // {http|https}://{domain}{app_prefix}
    std::string api_link;   // base_link + api prefix
  };

  SystemService(Info info, std::vector<HealthProbe> probes);

  nlohmann::json instanceInfo() const;
  HealthReport health() const;

 private:
  Info info_;
  std::vector<HealthProbe> probes_;
};

nlohmann::json toJson(const HealthReport& report);

}  // namespace pepeunit::service
