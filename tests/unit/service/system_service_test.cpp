// Health aggregation: one down component makes the whole report unhealthy; throwing probes count
// as down instead of escaping.
#include "service/system_service.hpp"

#include <doctest/doctest.h>

using pepeunit::service::HealthProbe;
using pepeunit::service::SystemService;

TEST_CASE("system: health is ok only when every probe is up") {
  bool redis_up = true;
  SystemService system(
      {"1.2.3", "http://d/pepeunit", "http://d/pepeunit/api/v1"},
      {HealthProbe{"postgres", [] { return true; }}, HealthProbe{"redis", [&] { return redis_up; }},
       HealthProbe{"mqtt", [] { return true; }}});
  auto report = system.health();
  CHECK(report.healthy);
  CHECK(report.components.size() == 3);
  CHECK(pepeunit::service::toJson(report)["status"] == "ok");

  redis_up = false;
  report = system.health();
  CHECK_FALSE(report.healthy);
  const auto json = pepeunit::service::toJson(report);
  CHECK(json["status"] == "degraded");
  CHECK(json["components"]["redis"]["status"] == "down");
  CHECK(json["components"]["postgres"]["status"] == "up");
}

TEST_CASE("system: a throwing probe is reported down") {
  SystemService system({"1", "b", "a"},
                       {HealthProbe{"pg", []() -> bool { throw std::runtime_error("boom"); }}});
  CHECK_FALSE(system.health().healthy);
}

TEST_CASE("system: instance info carries name, version, license and links") {
  SystemService system({"0.1.0", "http://h/pepeunit", "http://h/pepeunit/api/v1"}, {});
  const auto info = system.instanceInfo();
  CHECK(info["version"] == "0.1.0");
  CHECK(info["license"] == "AGPL-3.0-or-later");
  CHECK(info["openapi"] == "http://h/pepeunit/api/v1/openapi.json");
  CHECK(info.contains("name"));
}
