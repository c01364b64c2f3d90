// The backend as a real process against real Postgres, Redis and Mosquitto: instance info,
// /health turning 503 when Redis stops and 200 when it is back, and migrations at start.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "integration/harness/http_client.hpp"
#include "integration/harness/stack.hpp"
#include "integration/harness/wait.hpp"

using namespace std::chrono_literals;
using pepeunit::testing::HttpClient;
using pepeunit::testing::pollUntil;
using pepeunit::testing::Stack;

namespace {

int healthStatus(HttpClient& http) {
  const auto res = http.get("/pepeunit/health");
  return res.status;
}

}  // namespace

TEST_CASE("backend: serves instance info and a healthy /health with all dependencies up") {
  Stack stack;
  HttpClient http("127.0.0.1", stack.backend().port());

  const auto info = http.get("/pepeunit");
  REQUIRE(info.status == 200);
  const auto body = info.json();
  CHECK(body["name"] == "pepeunit-backend-cpp");
  CHECK(body["license"] == "AGPL-3.0-or-later");
  CHECK(body["openapi"].get<std::string>().find("/pepeunit/api/v1/openapi.json") !=
        std::string::npos);

  // MQTT connects asynchronously; health becomes 200 once all three are up.
  REQUIRE(pollUntil([&] { return healthStatus(http) == 200; }, 15s));
  const auto health = http.get("/pepeunit/health").json();
  CHECK(health["status"] == "ok");
  for (const char* component : {"postgres", "redis", "mqtt"}) {
    CAPTURE(component);
    CHECK(health["components"][component]["status"] == "up");
  }

  // serve applied the migrations itself.
  pqxx::connection db(stack.pg().url());
  pqxx::work tx(db);
  const auto tables = tx.exec1(
      "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND "
      "table_name IN ('users','repos','units','units_nodes','units_nodes_edges','permissions')");
  CHECK(tables[0].as<int>() == 6);

  const auto unknown = http.get("/pepeunit/api/v1/no-such-route");
  CHECK(unknown.status == 404);
  CHECK(unknown.json()["detail"].get<std::string>().rfind("15: Not Found", 0) == 0);
}

TEST_CASE("backend: /health is 503 while Redis is down and 200 again after it returns") {
  Stack stack;
  HttpClient http("127.0.0.1", stack.backend().port());
  REQUIRE(pollUntil([&] { return healthStatus(http) == 200; }, 15s));

  stack.redis().stop();
  REQUIRE(pollUntil([&] { return healthStatus(http) == 503; }, 10s));
  const auto down = http.get("/pepeunit/health").json();
  CHECK(down["status"] == "degraded");
  CHECK(down["components"]["redis"]["status"] == "down");
  CHECK(down["components"]["postgres"]["status"] == "up");
  // The rest of the service keeps answering.
  CHECK(http.get("/pepeunit").status == 200);

  stack.redis().restart();
  REQUIRE(pollUntil([&] { return healthStatus(http) == 200; }, 15s));
  CHECK(http.get("/pepeunit/health").json()["components"]["redis"]["status"] == "up");
}

TEST_CASE("backend: /health reports Postgres and MQTT outages and recoveries") {
  Stack stack;
  HttpClient http("127.0.0.1", stack.backend().port());
  REQUIRE(pollUntil([&] { return healthStatus(http) == 200; }, 15s));

  stack.mqtt().stop();
  REQUIRE(pollUntil([&] { return healthStatus(http) == 503; }, 15s));
  CHECK(http.get("/pepeunit/health").json()["components"]["mqtt"]["status"] == "down");
  stack.mqtt().restart();
  REQUIRE(pollUntil([&] { return healthStatus(http) == 200; }, 30s));

  stack.pg().stop();
  REQUIRE(pollUntil([&] { return healthStatus(http) == 503; }, 15s));
  CHECK(http.get("/pepeunit/health").json()["components"]["postgres"]["status"] == "down");
  stack.pg().restart();
  REQUIRE(pollUntil([&] { return healthStatus(http) == 200; }, 30s));
}

TEST_CASE("backend: exits cleanly on SIGTERM while an idle keep-alive client is connected") {
  // Regression: httplib's stop() waited out the 30 s keep-alive timeout, so the harness had to
  // SIGKILL the backend (exit 137).
  Stack stack;
  HttpClient http("127.0.0.1", stack.backend().port());
  REQUIRE(http.get("/pepeunit").status == 200);  // leaves the connection open and idle
  const auto code = stack.backend().stop();
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}
