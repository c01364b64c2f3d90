// REST routes of permissions (spec §2.6), with our REST-friendly DELETE beside the original's, and
// the DTO and ISO 8601 helpers they use.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "http/api.hpp"
#include "service/permission_service.hpp"
#include "store/permission_store.hpp"

namespace pepeunit::http {

/// Relative to the API prefix:
///   POST   /permission                          body PermissionCreate -> 201 PermissionRead
///   GET    /permission/get_resource_agents      query resource_uuid, resource_type, agent_type?,
///                                               offset?, limit? -> {"count","permissions"}
///   DELETE /permission                          query agent_uuid, resource_uuid -> 204
///   DELETE /permission/{anything}               the original's path; the segment is ignored
/// PermissionCreate = {"agent_uuid","agent_type","resource_uuid","resource_type","valid_until"?}
/// where valid_until is an ISO 8601 date-time (naive = UTC) or unix seconds, or null.
/// An agent_type/resource_type outside the enum is error 4 (Permission Validation Error), as in
/// the original; a missing or non-string one is error 2.
void registerPermissionRoutes(Api& api, service::PermissionService& permissions,
                              std::int64_t max_pagination_size);

/// PermissionRead: {uuid, agent_uuid, agent_type, resource_uuid, resource_type, valid_until}
/// with valid_until an ISO string (naive UTC) or null.
nlohmann::json permissionRead(const store::PermissionRecord& permission);

/// `YYYY-MM-DD[T ]HH:MM[:SS[.ffffff]][Z|±HH[:MM]]` (pydantic v1's datetime grammar; a missing
/// offset means UTC) to unix seconds. Fractions of a second are dropped, so a grant ends at
/// most one second early, never late. nullopt for anything else or an impossible date.
std::optional<std::int64_t> parseIsoTimestamp(std::string_view text);

/// Unix seconds as naive UTC `YYYY-MM-DDTHH:MM:SS`, the way FastAPI prints the original's
/// naive datetimes.
std::string formatIsoTimestamp(std::int64_t unix_seconds);

}  // namespace pepeunit::http
