// The ISO 8601 grammar of `valid_until` and the PermissionRead shape.
#include "http/permission_routes.hpp"

#include <doctest/doctest.h>

using pepeunit::http::formatIsoTimestamp;
using pepeunit::http::parseIsoTimestamp;

TEST_CASE("iso timestamps: accepted forms") {
  // 2030-01-02T03:04:05Z
  constexpr std::int64_t t = 1893553445;
  CHECK(parseIsoTimestamp("2030-01-02T03:04:05") == t);
  CHECK(parseIsoTimestamp("2030-01-02T03:04:05Z") == t);
  CHECK(parseIsoTimestamp("2030-01-02t03:04:05z") == t);
  CHECK(parseIsoTimestamp("2030-01-02 03:04:05") == t);
  CHECK(parseIsoTimestamp("2030-01-02T03:04:05.999999") == t);  // fraction dropped
  CHECK(parseIsoTimestamp("2030-01-02T03:04:05.1234567890") == t);
  CHECK(parseIsoTimestamp("2030-01-02T03:04") == t - 5);
  CHECK(parseIsoTimestamp("2030-1-2T3:4:5") == t);
  CHECK(parseIsoTimestamp("2030-01-02T05:04:05+02:00") == t);
  CHECK(parseIsoTimestamp("2030-01-02T05:04:05+0200") == t);
  CHECK(parseIsoTimestamp("2030-01-02T05:04:05+02") == t);
  CHECK(parseIsoTimestamp("2030-01-01T22:34:05-04:30") == t);
  CHECK(parseIsoTimestamp("1970-01-01T00:00:00") == 0);
  CHECK(parseIsoTimestamp("2024-02-29T00:00:00") == 1709164800);  // leap day
}

TEST_CASE("iso timestamps: rejected forms") {
  for (const char* bad : {"",
                          "2030-01-02",
                          "2030-01-02T",
                          "2030-01-02T03",
                          "2030-01-02T03:04:05Q",
                          "2030-01-02T03:04:05 ",
                          " 2030-01-02T03:04:05",
                          "2030-13-01T00:00:00",
                          "2030-02-30T00:00:00",
                          "2023-02-29T00:00:00",
                          "2030-01-02T24:00:00",
                          "2030-01-02T23:60:00",
                          "2030-01-02T23:59:60",
                          "2030-01-02T03:04:05.",
                          "2030-01-02T03:04:05+2",
                          "2030-01-02T03:04:05+24:00",
                          "2030-01-02T03:04:05+02:",
                          "0000-01-01T00:00:00",
                          "20300-01-02T03:04:05",
                          "tomorrow",
                          "1893553445",
                          "2030-01-02T03:04:05+02:00Z",
                          "2030-01-02T03:04:05.1234567890123"}) {
    CAPTURE(bad);
    CHECK_FALSE(parseIsoTimestamp(bad).has_value());
  }
}

TEST_CASE("iso timestamps: formatting is naive UTC and round-trips") {
  CHECK(formatIsoTimestamp(0) == "1970-01-01T00:00:00");
  CHECK(formatIsoTimestamp(1893553445) == "2030-01-02T03:04:05");
  CHECK(formatIsoTimestamp(-1) == "1969-12-31T23:59:59");
  CHECK(formatIsoTimestamp(253402300799) == "9999-12-31T23:59:59");
  for (std::int64_t t : {std::int64_t{0}, std::int64_t{951782400}, std::int64_t{1709164799},
                         std::int64_t{4102444800}}) {
    CHECK(parseIsoTimestamp(formatIsoTimestamp(t)) == t);
  }
}

TEST_CASE("PermissionRead: fields and valid_until") {
  pepeunit::store::PermissionRecord row;
  row.uuid = *pepeunit::domain::Uuid::parse("11111111-1111-4111-8111-111111111111");
  row.agent = *pepeunit::domain::Uuid::parse("22222222-2222-4222-8222-222222222222");
  row.agent_type = pepeunit::domain::AgentType::kUnit;
  row.resource = *pepeunit::domain::Uuid::parse("33333333-3333-4333-8333-333333333333");
  row.resource_type = pepeunit::domain::ResourceType::kUnitNode;
  auto json = pepeunit::http::permissionRead(row);
  CHECK(json.dump() ==
        R"({"agent_type":"Unit","agent_uuid":"22222222-2222-4222-8222-222222222222",)"
        R"("resource_type":"UnitNode","resource_uuid":"33333333-3333-4333-8333-333333333333",)"
        R"("uuid":"11111111-1111-4111-8111-111111111111","valid_until":null})");
  row.valid_until_unix = 1893553445;
  json = pepeunit::http::permissionRead(row);
  CHECK(json["valid_until"] == "2030-01-02T03:04:05");
}
