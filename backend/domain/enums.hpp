// The string-valued enums of the data model and the JWT/REST wire (pepeunit_backend_spec.md §1.8).
// Every enum is stored and sent as its exact string; parsing is exact and case-sensitive so that
// "public" or "PUBLIC" is a validation error, as it is in the original.
#pragma once

#include <optional>
#include <string_view>

namespace pepeunit::domain {

/// How widely an entity is visible. Ordered by priority: Public 0 < Internal 1 < Private 2.
enum class Visibility { kPublic, kInternal, kPrivate };

/// `Bot` is the anonymous caller and is never stored; users are `User` or `Admin`.
enum class Role { kBot, kUser, kAdmin };

enum class UserStatus { kUnverified, kVerified, kBlocked };

/// Who acts: the JWT `type` claim, and `permissions.agent_type`.
enum class AgentType { kUser, kUnit };

/// What a permission grants access to (`permissions.resource_type`).
enum class ResourceType { kRepo, kUnit, kUnitNode };

enum class UnitNodeType { kInput, kOutput };

enum class FirmwareUpdateStatus { kRequestSent, kError, kSuccess };

// Note for tests: doctest stringifies operands with an unqualified toString(x), so ADL picks these
// overloads and `CHECK(visibility_a == visibility_b)` fails to compile inside doctest. Compare
// the wire strings instead: `CHECK(toString(a) == toString(b))`.
std::string_view toString(Visibility value);
std::string_view toString(Role value);
std::string_view toString(UserStatus value);
std::string_view toString(AgentType value);
std::string_view toString(ResourceType value);
std::string_view toString(UnitNodeType value);
std::string_view toString(FirmwareUpdateStatus value);

std::optional<Visibility> parseVisibility(std::string_view text);
std::optional<Role> parseRole(std::string_view text);
std::optional<UserStatus> parseUserStatus(std::string_view text);
std::optional<AgentType> parseAgentType(std::string_view text);
std::optional<ResourceType> parseResourceType(std::string_view text);
std::optional<UnitNodeType> parseUnitNodeType(std::string_view text);
std::optional<FirmwareUpdateStatus> parseFirmwareUpdateStatus(std::string_view text);

/// 0 for Public, 1 for Internal, 2 for Private: a higher number is more restrictive.
int priority(Visibility value);

}  // namespace pepeunit::domain
