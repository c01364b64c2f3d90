// PermissionService rules (spec §1.9 last bullet, §2.6, time-limited grants) against the
// in-memory store: who may grant, list and revoke, what each mistake answers, and when a
// time-limited grant stops counting.
#include "service/permission_service.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <string>

#include "fakes/fake_permission_store.hpp"
#include "fakes/recording_access_events.hpp"

namespace {

using pepeunit::Error;
using pepeunit::ErrorKind;
using pepeunit::domain::AgentType;
using pepeunit::domain::Principal;
using pepeunit::domain::ResourceType;
using pepeunit::domain::Role;
using pepeunit::domain::UserStatus;
using pepeunit::domain::Uuid;
using pepeunit::service::PermissionService;
using pepeunit::testing::FakePermissionStore;

Uuid id(int n) {
  Uuid::Bytes bytes{};
  bytes[0] = 0x10;
  bytes[15] = static_cast<std::uint8_t>(n);
  return Uuid(bytes);
}

/// Runs `f`, requires it to throw pepeunit::Error, returns "<code>: <message>".
std::string failure(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return std::to_string(e.code()) + ": " + e.what();
  }
  return "no error";
}

std::string code(ErrorKind kind, const std::string& message) {
  return std::to_string(static_cast<int>(kind)) + ": " + message;
}

// A small world: alice created repo R, unit U (with node N) and owns the automatic grants;
// bob is another user, carol an admin, dave blocked; unit V belongs to bob.
struct World {
  std::int64_t now = 1'700'000'000;
  FakePermissionStore store;
  pepeunit::testing::RecordingAccessEvents events;
  PermissionService service{store, [this] { return now; }, &events};

  Uuid alice = id(1), bob = id(2), carol = id(3), dave = id(4);
  Uuid repo = id(10), unit = id(11), node = id(12), other_unit = id(13);

  Principal aliceP = Principal::user(alice, Role::kUser, UserStatus::kVerified);
  Principal bobP = Principal::user(bob, Role::kUser, UserStatus::kVerified);
  Principal carolP = Principal::user(carol, Role::kAdmin, UserStatus::kVerified);
  Principal daveP = Principal::user(dave, Role::kUser, UserStatus::kBlocked);

  World() {
    for (const auto& u : {alice, bob, carol, dave})
      store.addUser(u);
    store.addRepo(repo, alice);
    store.addUnit(unit, alice);
    store.addNode(node, unit, alice);
    store.addUnit(other_unit, bob);
    // Automatic grants (§1.6).
    store.seed(AgentType::kUser, alice, ResourceType::kRepo, repo);
    store.seed(AgentType::kUser, alice, ResourceType::kUnit, unit);
    store.seed(AgentType::kUnit, unit, ResourceType::kUnit, unit);
    store.seed(AgentType::kUnit, unit, ResourceType::kUnitNode, node);
    store.seed(AgentType::kUser, alice, ResourceType::kUnitNode, node);
  }
};

const std::string kNoObject = code(ErrorKind::kValidation, "The object does not exist");

}  // namespace

TEST_CASE("permission create: the resource creator grants a user access") {
  World w;
  const auto row =
      w.service.create(w.aliceP, w.bob, AgentType::kUser, w.repo, ResourceType::kRepo, {});
  CHECK(row.agent == w.bob);
  CHECK(row.resource == w.repo);
  CHECK(toString(row.agent_type) == "User");
  CHECK(toString(row.resource_type) == "Repo");
  CHECK_FALSE(row.valid_until_unix.has_value());
  CHECK(w.store.find(w.bob, w.repo).has_value());
}

TEST_CASE("permission create: a unit may be the agent and a node the resource") {
  World w;
  const auto row = w.service.create(w.aliceP, w.other_unit, AgentType::kUnit, w.node,
                                    ResourceType::kUnitNode, {});
  CHECK(toString(row.agent_type) == "Unit");
  CHECK(toString(row.resource_type) == "UnitNode");
}

TEST_CASE("permission changes of a Unit agent are announced to the brokers; a User's are not") {
  World w;
  w.service.create(w.aliceP, w.bob, AgentType::kUser, w.repo, ResourceType::kRepo, {});
  CHECK(w.events.calls.empty());  // users never connect to the broker
  w.service.create(w.aliceP, w.other_unit, AgentType::kUnit, w.node, ResourceType::kUnitNode, {});
  w.service.remove(w.aliceP, w.other_unit, w.node);
  CHECK(w.events.calls == std::vector<std::string>{"grant " + w.other_unit.toString(),
                                                   "revoke " + w.other_unit.toString()});
  // A refused call announces nothing.
  CHECK_THROWS(w.service.remove(w.aliceP, w.other_unit, w.node));
  CHECK(w.events.calls.size() == 2);
}

TEST_CASE("permission create: an Admin manages any resource") {
  World w;
  CHECK_NOTHROW(
      w.service.create(w.carolP, w.bob, AgentType::kUser, w.unit, ResourceType::kUnit, {}));
}

TEST_CASE("permission create: who may not") {
  World w;
  auto as = [&](const Principal& p) {
    return failure(
        [&] { w.service.create(p, w.bob, AgentType::kUser, w.repo, ResourceType::kRepo, {}); });
  };
  CHECK(as(Principal::bot()) ==
        code(ErrorKind::kNoAccess, "The current user role is not in the list of available roles"));
  CHECK(as(Principal::unit(w.unit)) ==
        code(ErrorKind::kNoAccess, "The resource is not available for the current Unit"));
  CHECK(as(w.daveP) == code(ErrorKind::kNoAccess, "User is Blocked"));
  CHECK(as(w.bobP) ==
        code(ErrorKind::kNoAccess, "The current user is not the creator of this Repo"));
  CHECK_FALSE(w.store.find(w.bob, w.repo).has_value());
}

TEST_CASE("permission create: unknown agent or resource is error 2") {
  World w;
  CHECK(failure([&] {
          w.service.create(w.aliceP, id(99), AgentType::kUser, w.repo, ResourceType::kRepo, {});
        }) == kNoObject);
  CHECK(failure([&] {
          w.service.create(w.aliceP, w.bob, AgentType::kUser, id(99), ResourceType::kRepo, {});
        }) == kNoObject);
}

TEST_CASE("permission create: a uuid of another type is error 4") {
  World w;
  // A Unit's uuid given as agent_type User.
  CHECK(failure([&] {
          w.service.create(w.aliceP, w.other_unit, AgentType::kUser, w.repo, ResourceType::kRepo,
                           {});
        }) == code(ErrorKind::kPermissionValidation,
                   "Agent type User does not match the agent, which is a Unit"));
  // A user's uuid given as agent_type Unit.
  CHECK(failure([&] {
          w.service.create(w.aliceP, w.bob, AgentType::kUnit, w.repo, ResourceType::kRepo, {});
        }) == code(ErrorKind::kPermissionValidation,
                   "Agent type Unit does not match the agent, which is a User"));
  // A Unit's uuid given as resource_type Repo.
  CHECK(failure([&] {
          w.service.create(w.aliceP, w.bob, AgentType::kUser, w.unit, ResourceType::kRepo, {});
        }) == code(ErrorKind::kPermissionValidation,
                   "Resource type Repo does not match the resource, which is a Unit"));
  CHECK(w.store.rows().size() == 5);
}

TEST_CASE("permission create: a duplicate pair is 'Permission is exist'") {
  World w;
  w.service.create(w.aliceP, w.bob, AgentType::kUser, w.repo, ResourceType::kRepo, {});
  CHECK(failure([&] {
          w.service.create(w.aliceP, w.bob, AgentType::kUser, w.repo, ResourceType::kRepo, {});
        }) == code(ErrorKind::kPermissionValidation, "Permission is exist"));
  // The automatic grants count as existing rows too.
  CHECK(failure([&] {
          w.service.create(w.aliceP, w.alice, AgentType::kUser, w.repo, ResourceType::kRepo, {});
        }) == code(ErrorKind::kPermissionValidation, "Permission is exist"));
}

TEST_CASE("permission create: valid_until must lie in the future") {
  World w;
  const std::string expected =
      code(ErrorKind::kPermissionValidation, "valid_until must be in the future");
  CHECK(failure([&] {
          w.service.create(w.aliceP, w.bob, AgentType::kUser, w.repo, ResourceType::kRepo,
                           w.now - 1);
        }) == expected);
  CHECK(failure([&] {
          w.service.create(w.aliceP, w.bob, AgentType::kUser, w.repo, ResourceType::kRepo, w.now);
        }) == expected);
  const auto row =
      w.service.create(w.aliceP, w.bob, AgentType::kUser, w.repo, ResourceType::kRepo, w.now + 60);
  REQUIRE(row.valid_until_unix.has_value());
  CHECK(*row.valid_until_unix == w.now + 60);
}

TEST_CASE("permission grants: a lapsed grant is listed but no longer active") {
  World w;
  w.service.create(w.aliceP, w.bob, AgentType::kUser, w.repo, ResourceType::kRepo, w.now + 2);
  CHECK(w.service.activeGrants(w.bob, ResourceType::kRepo).size() == 1);
  w.now += 1;
  CHECK(w.service.activeGrants(w.bob, ResourceType::kRepo).size() == 1);
  w.now += 1;  // now == valid_until: lapsed
  CHECK(w.service.activeGrants(w.bob, ResourceType::kRepo).empty());
  const auto page =
      w.service.getResourceAgents(w.aliceP, w.repo, ResourceType::kRepo, AgentType::kUser, 0, 100);
  CHECK(page.count == 2);  // alice's automatic grant and bob's lapsed one
  // Other types and other agents are not mixed in.
  CHECK(w.service.activeGrants(w.alice, ResourceType::kRepo).size() == 1);
  CHECK(w.service.activeGrants(w.alice, ResourceType::kUnitNode).size() == 1);
}

TEST_CASE("permission list: the resource's agents, filtered and paged") {
  World w;
  w.service.create(w.aliceP, w.bob, AgentType::kUser, w.unit, ResourceType::kUnit, {});
  auto page =
      w.service.getResourceAgents(w.aliceP, w.unit, ResourceType::kUnit, std::nullopt, 0, 100);
  CHECK(page.count == 3);  // creator, the unit itself, bob
  CHECK(page.rows.size() == 3);

  page =
      w.service.getResourceAgents(w.aliceP, w.unit, ResourceType::kUnit, AgentType::kUnit, 0, 100);
  CHECK(page.count == 1);
  REQUIRE(page.rows.size() == 1);
  CHECK(page.rows[0].agent == w.unit);

  page = w.service.getResourceAgents(w.aliceP, w.unit, ResourceType::kUnit, std::nullopt, 1, 1);
  CHECK(page.count == 3);
  CHECK(page.rows.size() == 1);

  // Admins may list too.
  CHECK(w.service.getResourceAgents(w.carolP, w.unit, ResourceType::kUnit, std::nullopt, 0, 100)
            .count == 3);
}

TEST_CASE("permission list: refusals") {
  World w;
  CHECK(failure([&] {
          w.service.getResourceAgents(w.bobP, w.unit, ResourceType::kUnit, std::nullopt, 0, 10);
        }) == code(ErrorKind::kNoAccess, "The current user is not the creator of this Unit"));
  CHECK(failure([&] {
          w.service.getResourceAgents(Principal::bot(), w.unit, ResourceType::kUnit, std::nullopt,
                                      0, 10);
        }) ==
        code(ErrorKind::kNoAccess, "The current user role is not in the list of available roles"));
  CHECK(failure([&] {
          w.service.getResourceAgents(Principal::unit(w.unit), w.unit, ResourceType::kUnit,
                                      std::nullopt, 0, 10);
        }) == code(ErrorKind::kNoAccess, "The resource is not available for the current Unit"));
  CHECK(failure([&] {
          w.service.getResourceAgents(w.aliceP, w.unit, ResourceType::kRepo, std::nullopt, 0, 10);
        }) == code(ErrorKind::kPermissionValidation,
                   "Resource type Repo does not match the resource, which is a Unit"));
  CHECK(failure([&] {
          w.service.getResourceAgents(w.aliceP, id(98), ResourceType::kRepo, std::nullopt, 0, 10);
        }) == kNoObject);
}

TEST_CASE("permission delete: the resource creator and the agent itself may revoke") {
  World w;
  w.service.create(w.aliceP, w.bob, AgentType::kUser, w.repo, ResourceType::kRepo, {});
  w.service.remove(w.aliceP, w.bob, w.repo);
  CHECK_FALSE(w.store.find(w.bob, w.repo).has_value());

  w.service.create(w.aliceP, w.bob, AgentType::kUser, w.repo, ResourceType::kRepo, {});
  w.service.remove(w.bobP, w.bob, w.repo);
  CHECK_FALSE(w.store.find(w.bob, w.repo).has_value());

  w.service.create(w.aliceP, w.other_unit, AgentType::kUnit, w.node, ResourceType::kUnitNode, {});
  w.service.remove(w.carolP, w.other_unit, w.node);  // Admin
  CHECK_FALSE(w.store.find(w.other_unit, w.node).has_value());
}

TEST_CASE("permission delete: refusals") {
  World w;
  w.service.create(w.aliceP, w.other_unit, AgentType::kUnit, w.repo, ResourceType::kRepo, {});
  // bob created other_unit but not the repo, and a Unit agent is not "the agent itself" for a
  // user.
  CHECK(failure([&] { w.service.remove(w.bobP, w.other_unit, w.repo); }) ==
        code(ErrorKind::kNoAccess,
             "Only the resource creator or the agent itself can delete this permission"));
  CHECK(failure([&] { w.service.remove(Principal::bot(), w.other_unit, w.repo); }) ==
        code(ErrorKind::kNoAccess, "The current user role is not in the list of available roles"));
  CHECK(failure([&] { w.service.remove(Principal::unit(w.other_unit), w.other_unit, w.repo); }) ==
        code(ErrorKind::kNoAccess, "The resource is not available for the current Unit"));
  CHECK(w.store.find(w.other_unit, w.repo).has_value());

  for (const auto& caller : {w.aliceP, w.carolP}) {
    CHECK(failure([&] { w.service.remove(caller, w.alice, w.repo); }) ==
          code(ErrorKind::kPermissionValidation,
               "The resource creator's own access cannot be deleted"));
    CHECK(failure([&] { w.service.remove(caller, w.unit, w.unit); }) ==
          code(ErrorKind::kPermissionValidation, "An entity's access to itself cannot be deleted"));
    CHECK(failure([&] { w.service.remove(caller, w.unit, w.node); }) ==
          code(ErrorKind::kPermissionValidation,
               "A Unit's access to its own UnitNode cannot be deleted"));
  }
  CHECK(failure([&] { w.service.remove(w.aliceP, w.bob, w.repo); }) == kNoObject);
  CHECK(failure([&] { w.service.remove(w.aliceP, id(97), id(96)); }) == kNoObject);
  CHECK(w.store.rows().size() == 6);
}
