// The OpenAPI document (schemas/openapi.yaml, embedded at build time) and the check that keeps
// it in step with the registered routes.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "http/api.hpp"

namespace pepeunit::http {

/// Adds a fragment's `paths` and `components/schemas` to `document`; a name defined twice is
/// an error.
nlohmann::json mergeOpenApiFragment(nlohmann::json document, const nlohmann::json& fragment);

/// The embedded base YAML plus all fragments, converted to JSON (parsed once).
const nlohmann::json& openApiDocument();
/// Converts an OpenAPI YAML text to JSON; throws std::runtime_error on a syntax error.
nlohmann::json openApiFromYaml(const std::string& yaml);

/// "GET /users/{uuid}" strings for routes registered but not documented, and documented but
/// not registered. Empty means in sync.
std::vector<std::string> openApiMismatches(const std::vector<Api::Route>& routes,
                                           const nlohmann::json& document);

/// GET /openapi.json under the API prefix.
void registerOpenApiRoute(Api& api);

}  // namespace pepeunit::http
