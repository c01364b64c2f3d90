// The embedded OpenAPI document parses, and the route/doc comparison finds both directions of
// drift (the backend refuses to start on either).
#include "http/openapi.hpp"

#include <doctest/doctest.h>

using pepeunit::http::Api;
using pepeunit::http::openApiFromYaml;
using pepeunit::http::openApiMismatches;

TEST_CASE("openapi: the embedded document is valid OpenAPI 3 with typed scalars") {
  const auto& doc = pepeunit::http::openApiDocument();
  CHECK(doc["openapi"].get<std::string>().rfind("3.", 0) == 0);
  CHECK(doc["paths"].contains("/users/{uuid}"));
  CHECK(doc["paths"]["/users"]["post"]["responses"].contains("201"));
  const auto& create = doc["components"]["schemas"]["UserCreate"]["properties"];
  CHECK(create["password"]["minLength"] == 8);  // ints stay ints
}

TEST_CASE("openapi: YAML scalars convert to JSON types; quoted numbers stay strings") {
  const auto j = openApiFromYaml("a: 1\nb: true\nc: null\nd: '200'\ne: 1.5\nf: [x, 2]\n");
  CHECK(j["a"] == 1);
  CHECK(j["b"] == true);
  CHECK(j["c"].is_null());
  CHECK(j["d"] == "200");
  CHECK(j["e"] == 1.5);
  CHECK(j["f"][1] == 2);
  CHECK_THROWS_AS(openApiFromYaml("a: [1, 2"), std::runtime_error);
}

TEST_CASE("openapi: undocumented and unregistered routes are both reported") {
  const auto doc = openApiFromYaml(
      "paths:\n  /a:\n    get: {}\n    parameters: []\n  /b/{uuid}:\n    delete: {}\n");
  CHECK(openApiMismatches({{"GET", "/a"}, {"DELETE", "/b/{uuid}"}}, doc).empty());
  const auto m = openApiMismatches({{"GET", "/a"}, {"POST", "/a"}}, doc);
  REQUIRE(m.size() == 2);
  CHECK(m[0] == "undocumented: POST /a");
  CHECK(m[1] == "not registered: DELETE /b/{uuid}");
}

TEST_CASE("openapi: fragments merge paths and schemas and refuse duplicates") {
  auto doc = openApiFromYaml("paths:\n  /a:\n    get: {}\ncomponents:\n  schemas:\n    A: {}\n");
  doc = pepeunit::http::mergeOpenApiFragment(
      doc, openApiFromYaml("paths:\n  /b:\n    post: {}\ncomponents:\n  schemas:\n    B: {}\n"));
  CHECK(doc["paths"].contains("/b"));
  CHECK(doc["components"]["schemas"].contains("B"));
  CHECK_THROWS_AS(
      pepeunit::http::mergeOpenApiFragment(doc, openApiFromYaml("paths:\n  /a:\n    delete: {}\n")),
      std::runtime_error);
}
