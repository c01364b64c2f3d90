// Wire strings of the model enums. One table per enum drives both directions so that
// toString and parse can never disagree.
#include "domain/enums.hpp"

#include <array>
#include <utility>

namespace pepeunit::domain {
namespace {

template <typename E, std::size_t N>
using Table = std::array<std::pair<E, std::string_view>, N>;

constexpr Table<Visibility, 3> kVisibility{{
    {Visibility::kPublic, "Public"},
    {Visibility::kInternal, "Internal"},
    {Visibility::kPrivate, "Private"},
}};
constexpr Table<Role, 3> kRole{{
    {Role::kBot, "Bot"},
    {Role::kUser, "User"},
    {Role::kAdmin, "Admin"},
}};
constexpr Table<UserStatus, 3> kUserStatus{{
    {UserStatus::kUnverified, "Unverified"},
    {UserStatus::kVerified, "Verified"},
    {UserStatus::kBlocked, "Blocked"},
}};
constexpr Table<AgentType, 2> kAgentType{{
    {AgentType::kUser, "User"},
    {AgentType::kUnit, "Unit"},
}};
constexpr Table<ResourceType, 3> kResourceType{{
    {ResourceType::kRepo, "Repo"},
    {ResourceType::kUnit, "Unit"},
    {ResourceType::kUnitNode, "UnitNode"},
}};
constexpr Table<UnitNodeType, 2> kUnitNodeType{{
    {UnitNodeType::kInput, "Input"},
    {UnitNodeType::kOutput, "Output"},
}};
constexpr Table<FirmwareUpdateStatus, 3> kFirmwareUpdateStatus{{
    {FirmwareUpdateStatus::kRequestSent, "RequestSent"},
    {FirmwareUpdateStatus::kError, "Error"},
    {FirmwareUpdateStatus::kSuccess, "Success"},
}};

template <typename E, std::size_t N>
std::string_view lookup(const Table<E, N>& table, E value) {
  for (const auto& [item, text] : table) {
    if (item == value) {
      return text;
    }
  }
  return {};  // unreachable for valid enumerators; an empty string is never a valid wire value
}

template <typename E, std::size_t N>
std::optional<E> reverseLookup(const Table<E, N>& table, std::string_view text) {
  for (const auto& [item, name] : table) {
    if (name == text) {
      return item;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view toString(Visibility value) {
  return lookup(kVisibility, value);
}
std::string_view toString(Role value) {
  return lookup(kRole, value);
}
std::string_view toString(UserStatus value) {
  return lookup(kUserStatus, value);
}
std::string_view toString(AgentType value) {
  return lookup(kAgentType, value);
}
std::string_view toString(ResourceType value) {
  return lookup(kResourceType, value);
}
std::string_view toString(UnitNodeType value) {
  return lookup(kUnitNodeType, value);
}
std::string_view toString(FirmwareUpdateStatus value) {
  return lookup(kFirmwareUpdateStatus, value);
}

std::optional<Visibility> parseVisibility(std::string_view text) {
  return reverseLookup(kVisibility, text);
}
std::optional<Role> parseRole(std::string_view text) {
  return reverseLookup(kRole, text);
}
std::optional<UserStatus> parseUserStatus(std::string_view text) {
  return reverseLookup(kUserStatus, text);
}
std::optional<AgentType> parseAgentType(std::string_view text) {
  return reverseLookup(kAgentType, text);
}
std::optional<ResourceType> parseResourceType(std::string_view text) {
  return reverseLookup(kResourceType, text);
}
std::optional<UnitNodeType> parseUnitNodeType(std::string_view text) {
  return reverseLookup(kUnitNodeType, text);
}
std::optional<FirmwareUpdateStatus> parseFirmwareUpdateStatus(std::string_view text) {
  return reverseLookup(kFirmwareUpdateStatus, text);
}

int priority(Visibility value) {
  switch (value) {
    case Visibility::kPublic:
      return 0;
    case Visibility::kInternal:
      return 1;
    case Visibility::kPrivate:
      return 2;
  }
  return 2;  // an out-of-range value is treated as the most restrictive level
}

}  // namespace pepeunit::domain
