// Wire strings of the model enums (spec §1.8): exact round trips, case-sensitive parsing.
#include "domain/enums.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

namespace pd = pepeunit::domain;

namespace {

// Checks toString gives exactly `wire` and parse(wire) gives back the value.
template <typename E, typename Parse>
void checkTable(const std::vector<std::pair<E, std::string_view>>& table, Parse parse) {
  for (const auto& entry : table) {
    const E value = entry.first;  // not a structured binding: INFO's lambda captures it
    const std::string_view wire = entry.second;
    INFO("wire string: " << wire);
    CHECK(pd::toString(value) == wire);
    REQUIRE(parse(wire).has_value());
    CHECK(pd::toString(*parse(wire)) == pd::toString(value));
    // Exact and case-sensitive: no lower/upper-case variants, no padding.
    std::string lower(wire);
    for (char& c : lower) {
      c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    std::string upper(wire);
    for (char& c : upper) {
      c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    CHECK_FALSE(parse(lower).has_value());
    CHECK_FALSE(parse(upper).has_value());
    CHECK_FALSE(parse(" " + std::string(wire)).has_value());
    CHECK_FALSE(parse(std::string(wire) + " ").has_value());
    CHECK_FALSE(parse(std::string(wire) + '\0').has_value());
  }
  CHECK_FALSE(parse("").has_value());
  CHECK_FALSE(parse("Unknown").has_value());
}

}  // namespace

TEST_CASE("domain: Visibility wire strings and priority") {
  checkTable<pd::Visibility>({{pd::Visibility::kPublic, "Public"},
                              {pd::Visibility::kInternal, "Internal"},
                              {pd::Visibility::kPrivate, "Private"}},
                             pd::parseVisibility);
  CHECK(pd::priority(pd::Visibility::kPublic) == 0);
  CHECK(pd::priority(pd::Visibility::kInternal) == 1);
  CHECK(pd::priority(pd::Visibility::kPrivate) == 2);
}

TEST_CASE("domain: Role wire strings") {
  checkTable<pd::Role>(
      {{pd::Role::kBot, "Bot"}, {pd::Role::kUser, "User"}, {pd::Role::kAdmin, "Admin"}},
      pd::parseRole);
  CHECK_FALSE(pd::parseRole("Pepeunit").has_value());  // E1-only role, gone in E3
}

TEST_CASE("domain: UserStatus wire strings") {
  checkTable<pd::UserStatus>({{pd::UserStatus::kUnverified, "Unverified"},
                              {pd::UserStatus::kVerified, "Verified"},
                              {pd::UserStatus::kBlocked, "Blocked"}},
                             pd::parseUserStatus);
}

TEST_CASE("domain: AgentType wire strings") {
  checkTable<pd::AgentType>({{pd::AgentType::kUser, "User"}, {pd::AgentType::kUnit, "Unit"}},
                            pd::parseAgentType);
  CHECK_FALSE(pd::parseAgentType("Repo").has_value());
  CHECK_FALSE(pd::parseAgentType("UnitNode").has_value());
}

TEST_CASE("domain: ResourceType wire strings") {
  checkTable<pd::ResourceType>({{pd::ResourceType::kRepo, "Repo"},
                                {pd::ResourceType::kUnit, "Unit"},
                                {pd::ResourceType::kUnitNode, "UnitNode"}},
                               pd::parseResourceType);
  CHECK_FALSE(pd::parseResourceType("User").has_value());
  CHECK_FALSE(pd::parseResourceType("Unit_Node").has_value());
}

TEST_CASE("domain: UnitNodeType wire strings") {
  checkTable<pd::UnitNodeType>(
      {{pd::UnitNodeType::kInput, "Input"}, {pd::UnitNodeType::kOutput, "Output"}},
      pd::parseUnitNodeType);
}

TEST_CASE("domain: FirmwareUpdateStatus wire strings") {
  checkTable<pd::FirmwareUpdateStatus>({{pd::FirmwareUpdateStatus::kRequestSent, "RequestSent"},
                                        {pd::FirmwareUpdateStatus::kError, "Error"},
                                        {pd::FirmwareUpdateStatus::kSuccess, "Success"}},
                                       pd::parseFirmwareUpdateStatus);
  CHECK_FALSE(pd::parseFirmwareUpdateStatus("Request_Sent").has_value());
}
