// Permissions (§2.6) and metrics (§2.7) over real HTTP against the running backend with a real
// PostgreSQL: every endpoint's success and failure paths with exact status and `detail`, the
// time-limited grant lapsing (checked through the store on the same database) and exact
// instance counters. Users, repos, units, nodes and edges are written straight into Postgres,
// and tokens are minted with the stack's secret, so this file depends on no other REST area.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <pqxx/pqxx>
#include <string>

#include "crypto/jwt.hpp"
#include "http/permission_routes.hpp"
#include "integration/harness/http_client.hpp"
#include "integration/harness/stack.hpp"
#include "integration/harness/wait.hpp"
#include "store/pg/pg_permission_store.hpp"
#include "store/pg/pool.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using pepeunit::testing::HttpClient;
using pepeunit::testing::HttpResponse;

namespace {

constexpr const char* kApi = "/pepeunit/api/v1";
constexpr std::int64_t kMaxPage = 5;

std::int64_t nowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// One backend + Postgres for the whole binary: each test builds its own World of rows.
pepeunit::testing::Stack& stack() {
  static pepeunit::testing::Stack instance(pepeunit::testing::StackOptions::withEnv(
      {{"BACKEND_MAX_PAGINATION_SIZE", std::to_string(kMaxPage)}}));
  return instance;
}

std::string secret() {
  return stack().backendEnv().at("BACKEND_SECRET_KEY");
}

std::string userToken(const std::string& uuid) {
  nlohmann::ordered_json claims;
  claims["uuid"] = uuid;
  claims["type"] = "User";
  claims["exp"] = nowUnix() + 3600;
  return pepeunit::crypto::signJwt(claims, secret());
}

std::string unitToken(const std::string& uuid) {
  nlohmann::ordered_json claims;
  claims["uuid"] = uuid;
  claims["type"] = "Unit";
  return pepeunit::crypto::signJwt(claims, secret());
}

/// Fixture rows, written directly (no REST): alice created repo R, unit U with Output node N;
/// bob created unit V (under R) with Input node M; edge N -> M; carol is an Admin, erin a
/// Blocked user. Automatic grants as §1.6 makes them.
struct World {
  std::string alice, bob, carol, erin;
  std::string repo, unit, other_unit, node, other_node, edge;

  World() {
    static std::atomic<int> counter{0};
    const std::string tag = std::to_string(nowUnix() % 100000) + "_" + std::to_string(++counter);
    pqxx::connection conn(stack().pg().url());
    pqxx::work tx(conn);
    const auto user = [&](const std::string& login, const char* role, const char* status) {
      return tx
          .exec_params(
              "INSERT INTO users (role, status, login, hashed_password, cipher_dynamic_salt)"
              " VALUES ($1, $2, $3, 'x', 'x') RETURNING uuid",
              role, status, login + tag)
          .at(0)[0]
          .as<std::string>();
    };
    alice = user("alice", "User", "Verified");
    bob = user("bob", "User", "Verified");
    carol = user("carol", "Admin", "Verified");
    erin = user("erin", "User", "Blocked");
    repo = tx.exec_params(
                 "INSERT INTO repos (name, repo_url, creator_uuid)"
                 " VALUES ($1, 'https://example.com/r.git', $2) RETURNING uuid",
                 "repo" + tag, alice)
               .at(0)[0]
               .as<std::string>();
    const auto newUnit = [&](const std::string& name, const std::string& creator) {
      return tx
          .exec_params(
              "INSERT INTO units (name, creator_uuid, repo_uuid)"
              " VALUES ($1, $2, $3) RETURNING uuid",
              name + tag, creator, repo)
          .at(0)[0]
          .as<std::string>();
    };
    unit = newUnit("unitU", alice);
    other_unit = newUnit("unitV", bob);
    const auto newNode = [&](const char* type, const std::string& owner,
                             const std::string& creator) {
      return tx
          .exec_params(
              "INSERT INTO units_nodes (type, visibility_level, topic_name,"
              " creator_uuid, unit_uuid) VALUES ($1, 'Public', 'topic/pepeunit', $2, $3)"
              " RETURNING uuid",
              type, creator, owner)
          .at(0)[0]
          .as<std::string>();
    };
    node = newNode("Output", unit, alice);
    other_node = newNode("Input", other_unit, bob);
    edge = tx.exec_params(
                 "INSERT INTO units_nodes_edges (node_output_uuid, node_input_uuid,"
                 " creator_uuid) VALUES ($1, $2, $3) RETURNING uuid",
                 node, other_node, alice)
               .at(0)[0]
               .as<std::string>();
    const auto grant = [&](const char* agent_col, const std::string& agent, const char* agent_type,
                           const char* resource_col, const std::string& resource,
                           const char* resource_type) {
      tx.exec_params(std::string("INSERT INTO permissions (agent_type, ") + agent_col +
                         ", resource_type, " + resource_col + ") VALUES ($1, $2, $3, $4)",
                     agent_type, agent, resource_type, resource);
    };
    grant("agent_user_uuid", alice, "User", "resource_repo_uuid", repo, "Repo");
    grant("agent_user_uuid", alice, "User", "resource_unit_uuid", unit, "Unit");
    grant("agent_unit_uuid", unit, "Unit", "resource_unit_uuid", unit, "Unit");
    grant("agent_unit_uuid", unit, "Unit", "resource_unit_node_uuid", node, "UnitNode");
    grant("agent_user_uuid", alice, "User", "resource_unit_node_uuid", node, "UnitNode");
    grant("agent_user_uuid", bob, "User", "resource_unit_uuid", other_unit, "Unit");
    grant("agent_unit_uuid", other_unit, "Unit", "resource_unit_uuid", other_unit, "Unit");
    grant("agent_unit_uuid", other_unit, "Unit", "resource_unit_node_uuid", other_node, "UnitNode");
    grant("agent_user_uuid", bob, "User", "resource_unit_node_uuid", other_node, "UnitNode");
    tx.commit();
  }
};

HttpClient client(const std::string& token = {}) {
  HttpClient c("127.0.0.1", stack().backend().port());
  if (!token.empty())
    c.setDefaultHeader("x-auth-token", token);
  return c;
}

json createBody(const std::string& agent, const std::string& agent_type,
                const std::string& resource, const std::string& resource_type) {
  return {{"agent_uuid", agent},
          {"agent_type", agent_type},
          {"resource_uuid", resource},
          {"resource_type", resource_type}};
}

std::string agentsPath(const std::string& resource, const std::string& resource_type,
                       const std::string& extra = {}) {
  return std::string(kApi) + "/permission/get_resource_agents?resource_uuid=" + resource +
         "&resource_type=" + resource_type + extra;
}

std::string deletePath(const std::string& agent, const std::string& resource,
                       const std::string& segment = {}) {
  return std::string(kApi) + "/permission" + (segment.empty() ? "" : "/" + segment) +
         "?agent_uuid=" + agent + "&resource_uuid=" + resource;
}

bool permissionExists(const std::string& agent, const std::string& resource) {
  pqxx::connection conn(stack().pg().url());
  pqxx::work tx(conn);
  return !tx.exec_params("SELECT 1 FROM permissions WHERE agent_uuid = $1 AND resource_uuid = $2",
                         agent, resource)
              .empty();
}

const std::string kNoObject = "2: Validation Error: The object does not exist";

}  // namespace

TEST_CASE("POST /permission: the creator grants; the answer is PermissionRead") {
  World w;
  auto alice = client(userToken(w.alice));
  const auto r =
      alice.post(std::string(kApi) + "/permission", createBody(w.bob, "User", w.repo, "Repo"));
  INFO(r.body);
  REQUIRE(r.status == 201);
  const auto body = r.json();
  CHECK(body["agent_uuid"] == w.bob);
  CHECK(body["agent_type"] == "User");
  CHECK(body["resource_uuid"] == w.repo);
  CHECK(body["resource_type"] == "Repo");
  CHECK(body["valid_until"].is_null());
  CHECK(body["uuid"].get<std::string>().size() == 36);
  CHECK(body.size() == 6);
  CHECK(permissionExists(w.bob, w.repo));

  // A Unit as agent of a UnitNode.
  const auto r2 = alice.post(std::string(kApi) + "/permission",
                             createBody(w.other_unit, "Unit", w.node, "UnitNode"));
  CHECK(r2.status == 201);
  CHECK(r2.json()["agent_type"] == "Unit");
  CHECK(r2.json()["resource_type"] == "UnitNode");

  // An Admin manages any resource.
  auto carol = client(userToken(w.carol));
  const auto r3 =
      carol.post(std::string(kApi) + "/permission", createBody(w.bob, "User", w.unit, "Unit"));
  CHECK(r3.status == 201);
}

TEST_CASE("POST /permission: callers that may not grant") {
  World w;
  const auto body = createBody(w.bob, "User", w.repo, "Repo");
  const std::string path = std::string(kApi) + "/permission";

  auto bob = client(userToken(w.bob));
  auto r = bob.post(path, body);
  CHECK(r.status == 403);
  CHECK(detail(r) == "1: No Access: The current user is not the creator of this Repo");

  auto anonymous = client();
  r = anonymous.post(path, body);
  CHECK(r.status == 403);
  CHECK(detail(r) == "1: No Access: The current user role is not in the list of available roles");

  auto unit = client(unitToken(w.unit));
  r = unit.post(path, body);
  CHECK(r.status == 403);
  CHECK(detail(r) == "1: No Access: The resource is not available for the current Unit");

  auto erin = client(userToken(w.erin));
  r = erin.post(path, body);
  CHECK(r.status == 403);
  CHECK(detail(r) == "1: No Access: User is Blocked");

  CHECK_FALSE(permissionExists(w.bob, w.repo));
}

TEST_CASE("POST /permission: wrong, mismatched and unknown agents and resources") {
  World w;
  auto alice = client(userToken(w.alice));
  const std::string path = std::string(kApi) + "/permission";

  // A Unit's uuid given as agent_type User.
  auto r = alice.post(path, createBody(w.other_unit, "User", w.repo, "Repo"));
  CHECK(r.status == 422);
  CHECK(detail(r) ==
        "4: Permission Validation Error: Agent type User does not match the agent, "
        "which is a Unit");
  // A Unit's uuid given as resource_type Repo.
  r = alice.post(path, createBody(w.bob, "User", w.unit, "Repo"));
  CHECK(r.status == 422);
  CHECK(detail(r) ==
        "4: Permission Validation Error: Resource type Repo does not match the "
        "resource, which is a Unit");
  // Types outside the enums.
  r = alice.post(path, createBody(w.bob, "Repo", w.repo, "Repo"));
  CHECK(r.status == 422);
  CHECK(detail(r) ==
        "4: Permission Validation Error: Agent type Repo is invalid, available: User, Unit");
  r = alice.post(path, createBody(w.bob, "User", w.repo, "User"));
  CHECK(r.status == 422);
  CHECK(detail(r) ==
        "4: Permission Validation Error: Resource type User is invalid, available: "
        "Repo, Unit, UnitNode");
  // Unknown agent, unknown resource.
  const std::string nobody = "00000000-0000-4000-8000-000000000001";
  r = alice.post(path, createBody(nobody, "User", w.repo, "Repo"));
  CHECK(r.status == 422);
  CHECK(detail(r) == kNoObject);
  r = alice.post(path, createBody(w.bob, "User", nobody, "Repo"));
  CHECK(r.status == 422);
  CHECK(detail(r) == kNoObject);
  // Malformed fields.
  r = alice.post(path, json{{"agent_uuid", "not-a-uuid"},
                            {"agent_type", "User"},
                            {"resource_uuid", w.repo},
                            {"resource_type", "Repo"}});
  CHECK(r.status == 422);
  CHECK(detail(r) == "2: Validation Error: Field 'agent_uuid' is not a valid UUID");
  r = alice.post(path,
                 json{{"agent_uuid", w.bob}, {"resource_uuid", w.repo}, {"resource_type", "Repo"}});
  CHECK(r.status == 422);
  CHECK(detail(r) == "2: Validation Error: Field 'agent_type' is required");

  CHECK_FALSE(permissionExists(w.bob, w.repo));
  CHECK_FALSE(permissionExists(w.bob, w.unit));
}

TEST_CASE("POST /permission: a duplicate pair is 'Permission is exist'") {
  World w;
  auto alice = client(userToken(w.alice));
  const std::string path = std::string(kApi) + "/permission";
  REQUIRE(alice.post(path, createBody(w.bob, "User", w.repo, "Repo")).status == 201);
  auto r = alice.post(path, createBody(w.bob, "User", w.repo, "Repo"));
  CHECK(r.status == 422);
  CHECK(detail(r) == "4: Permission Validation Error: Permission is exist");
  // The automatic grant of the creator is a row like any other.
  r = alice.post(path, createBody(w.alice, "User", w.unit, "Unit"));
  CHECK(r.status == 422);
  CHECK(detail(r) == "4: Permission Validation Error: Permission is exist");
}

TEST_CASE("POST /permission: valid_until") {
  World w;
  auto alice = client(userToken(w.alice));
  const std::string path = std::string(kApi) + "/permission";

  auto body = createBody(w.bob, "User", w.repo, "Repo");
  body["valid_until"] = "2001-01-01T00:00:00";
  auto r = alice.post(path, body);
  CHECK(r.status == 422);
  CHECK(detail(r) == "4: Permission Validation Error: valid_until must be in the future");

  body["valid_until"] = "next tuesday";
  r = alice.post(path, body);
  CHECK(r.status == 422);
  CHECK(detail(r) == "2: Validation Error: Field 'valid_until' is not an ISO 8601 date-time");

  body["valid_until"] = "2099-06-01T14:00:00+02:00";
  r = alice.post(path, body);
  INFO(r.body);
  REQUIRE(r.status == 201);
  CHECK(r.json()["valid_until"] == "2099-06-01T12:00:00");

  body["valid_until"] = true;
  r = alice.post(path, body);
  CHECK(r.status == 422);
  CHECK(detail(r) == "2: Validation Error: Field 'valid_until' must be a string, got boolean");

  // Unix seconds are accepted too (as pydantic did).
  body = createBody(w.bob, "User", w.node, "UnitNode");
  body["valid_until"] = 4102444800;  // 2100-01-01T00:00:00Z
  r = alice.post(path, body);
  REQUIRE(r.status == 201);
  CHECK(r.json()["valid_until"] == "2100-01-01T00:00:00");

  body = createBody(w.bob, "User", w.unit, "Unit");
  body["valid_until"] = nullptr;
  r = alice.post(path, body);
  REQUIRE(r.status == 201);
  CHECK(r.json()["valid_until"].is_null());
}

TEST_CASE("GET /permission/get_resource_agents: counts, agent_type filter and paging") {
  World w;
  auto alice = client(userToken(w.alice));
  REQUIRE(alice.post(std::string(kApi) + "/permission", createBody(w.bob, "User", w.unit, "Unit"))
              .status == 201);

  auto r = alice.get(agentsPath(w.unit, "Unit"));
  INFO(r.body);
  REQUIRE(r.status == 200);
  auto body = r.json();
  CHECK(body["count"] == 3);  // the creator, the unit itself, bob
  REQUIRE(body["permissions"].size() == 3);
  for (const auto& p : body["permissions"]) {
    CHECK(p["resource_uuid"] == w.unit);
    CHECK(p["resource_type"] == "Unit");
    CHECK(p.contains("valid_until"));
  }

  r = alice.get(agentsPath(w.unit, "Unit", "&agent_type=Unit"));
  REQUIRE(r.status == 200);
  body = r.json();
  CHECK(body["count"] == 1);
  REQUIRE(body["permissions"].size() == 1);
  CHECK(body["permissions"][0]["agent_uuid"] == w.unit);

  r = alice.get(agentsPath(w.unit, "Unit", "&agent_type=User"));
  REQUIRE(r.status == 200);
  CHECK(r.json()["count"] == 2);

  r = alice.get(agentsPath(w.unit, "Unit", "&offset=1&limit=1"));
  REQUIRE(r.status == 200);
  body = r.json();
  CHECK(body["count"] == 3);
  CHECK(body["permissions"].size() == 1);
  const auto second = body["permissions"][0]["uuid"];
  r = alice.get(agentsPath(w.unit, "Unit", "&offset=2&limit=5"));
  REQUIRE(r.status == 200);
  CHECK(r.json()["permissions"].size() == 1);
  CHECK(r.json()["permissions"][0]["uuid"] != second);
  r = alice.get(agentsPath(w.unit, "Unit", "&offset=3"));
  REQUIRE(r.status == 200);
  CHECK(r.json()["count"] == 3);
  CHECK(r.json()["permissions"].empty());

  r = alice.get(agentsPath(w.unit, "Unit", "&limit=" + std::to_string(kMaxPage + 1)));
  CHECK(r.status == 422);
  CHECK(detail(r) == "2: Validation Error: Query parameter 'limit' must be between 0 and " +
                         std::to_string(kMaxPage));

  // An Admin may list any resource.
  auto carol = client(userToken(w.carol));
  r = carol.get(agentsPath(w.unit, "Unit"));
  CHECK(r.status == 200);
  CHECK(r.json()["count"] == 3);
}

TEST_CASE("GET /permission/get_resource_agents: refusals") {
  World w;
  auto bob = client(userToken(w.bob));
  auto r = bob.get(agentsPath(w.unit, "Unit"));
  CHECK(r.status == 403);
  CHECK(detail(r) == "1: No Access: The current user is not the creator of this Unit");

  auto anonymous = client();
  r = anonymous.get(agentsPath(w.unit, "Unit"));
  CHECK(r.status == 403);
  CHECK(detail(r) == "1: No Access: The current user role is not in the list of available roles");

  auto unit = client(unitToken(w.unit));
  r = unit.get(agentsPath(w.unit, "Unit"));
  CHECK(r.status == 403);
  CHECK(detail(r) == "1: No Access: The resource is not available for the current Unit");

  auto alice = client(userToken(w.alice));
  r = alice.get(agentsPath(w.unit, "Repo"));
  CHECK(r.status == 422);
  CHECK(detail(r) ==
        "4: Permission Validation Error: Resource type Repo does not match the "
        "resource, which is a Unit");
  r = alice.get(agentsPath(w.unit, "Gadget"));
  CHECK(r.status == 422);
  CHECK(detail(r) ==
        "4: Permission Validation Error: Resource type Gadget is invalid, "
        "available: Repo, Unit, UnitNode");
  r = alice.get(agentsPath(w.unit, "Unit", "&agent_type=Repo"));
  CHECK(r.status == 422);
  CHECK(detail(r) ==
        "4: Permission Validation Error: Agent type Repo is invalid, available: User, Unit");
  r = alice.get(agentsPath("00000000-0000-4000-8000-000000000002", "Repo"));
  CHECK(r.status == 422);
  CHECK(detail(r) == kNoObject);
  r = alice.get(agentsPath("nope", "Repo"));
  CHECK(r.status == 422);
  CHECK(detail(r) == "2: Validation Error: Query parameter 'resource_uuid' is not a valid UUID");
}

TEST_CASE("DELETE /permission: who may revoke, on both paths") {
  World w;
  auto alice = client(userToken(w.alice));
  auto bob = client(userToken(w.bob));
  const std::string create = std::string(kApi) + "/permission";

  // The agent itself revokes its own access.
  REQUIRE(alice.post(create, createBody(w.bob, "User", w.repo, "Repo")).status == 201);
  auto r = bob.del(deletePath(w.bob, w.repo));
  CHECK(r.status == 204);
  CHECK(r.body.empty());
  CHECK_FALSE(permissionExists(w.bob, w.repo));

  // The resource creator revokes a Unit's access, through the original's odd path.
  REQUIRE(alice.post(create, createBody(w.other_unit, "Unit", w.node, "UnitNode")).status == 201);
  r = alice.del(deletePath(w.other_unit, w.node, "whatever"));
  CHECK(r.status == 204);
  CHECK_FALSE(permissionExists(w.other_unit, w.node));

  // An Admin revokes on anyone's resource.
  REQUIRE(alice.post(create, createBody(w.bob, "User", w.unit, "Unit")).status == 201);
  auto carol = client(userToken(w.carol));
  r = carol.del(deletePath(w.bob, w.unit, "x"));
  CHECK(r.status == 204);
  CHECK_FALSE(permissionExists(w.bob, w.unit));

  // Twice: the pair no longer exists.
  r = alice.del(deletePath(w.bob, w.unit));
  CHECK(r.status == 422);
  CHECK(detail(r) == kNoObject);
}

TEST_CASE("DELETE /permission: refusals and forbidden deletions") {
  World w;
  auto alice = client(userToken(w.alice));
  auto bob = client(userToken(w.bob));
  REQUIRE(
      alice
          .post(std::string(kApi) + "/permission", createBody(w.other_unit, "Unit", w.repo, "Repo"))
          .status == 201);

  // bob is neither the repo's creator nor (as a user) the Unit agent.
  auto r = bob.del(deletePath(w.other_unit, w.repo));
  CHECK(r.status == 403);
  CHECK(detail(r) ==
        "1: No Access: Only the resource creator or the agent itself can delete "
        "this permission");
  auto anonymous = client();
  r = anonymous.del(deletePath(w.other_unit, w.repo));
  CHECK(r.status == 403);
  CHECK(detail(r) == "1: No Access: The current user role is not in the list of available roles");
  auto unit = client(unitToken(w.other_unit));
  r = unit.del(deletePath(w.other_unit, w.repo, "x"));
  CHECK(r.status == 403);
  CHECK(detail(r) == "1: No Access: The resource is not available for the current Unit");
  CHECK(permissionExists(w.other_unit, w.repo));

  // Structural prohibitions, for the creator as for an Admin.
  auto carol = client(userToken(w.carol));
  for (auto* caller : {&alice, &carol}) {
    r = caller->del(deletePath(w.alice, w.repo));
    CHECK(r.status == 422);
    CHECK(detail(r) ==
          "4: Permission Validation Error: The resource creator's own access cannot be deleted");
    r = caller->del(deletePath(w.unit, w.unit));
    CHECK(r.status == 422);
    CHECK(detail(r) ==
          "4: Permission Validation Error: An entity's access to itself cannot be deleted");
    r = caller->del(deletePath(w.unit, w.node, "anything"));
    CHECK(r.status == 422);
    CHECK(detail(r) ==
          "4: Permission Validation Error: A Unit's access to its own UnitNode cannot be deleted");
  }
  CHECK(permissionExists(w.alice, w.repo));
  CHECK(permissionExists(w.unit, w.unit));
  CHECK(permissionExists(w.unit, w.node));

  // Non-existent pair, missing and malformed parameters.
  r = alice.del(deletePath(w.bob, w.repo));
  CHECK(r.status == 422);
  CHECK(detail(r) == kNoObject);
  r = alice.del(std::string(kApi) + "/permission?resource_uuid=" + w.repo);
  CHECK(r.status == 422);
  CHECK(detail(r) == "2: Validation Error: Query parameter 'agent_uuid' is required");
  r = alice.del(deletePath("xyz", w.repo, "seg"));
  CHECK(r.status == 422);
  CHECK(detail(r) == "2: Validation Error: Query parameter 'agent_uuid' is not a valid UUID");
}

TEST_CASE("time-limited grant: listed with valid_until, and no longer active once it lapses") {
  World w;
  auto alice = client(userToken(w.alice));
  const auto valid_until = nowUnix() + 2;
  auto body = createBody(w.bob, "User", w.repo, "Repo");
  body["valid_until"] = pepeunit::http::formatIsoTimestamp(valid_until) + "Z";
  const auto r = alice.post(std::string(kApi) + "/permission", body);
  INFO(r.body);
  REQUIRE(r.status == 201);
  CHECK(r.json()["valid_until"] == pepeunit::http::formatIsoTimestamp(valid_until));

  pepeunit::store::pg::Pool pool(stack().pg().url(), 1);
  pepeunit::store::pg::PgPermissionStore store(pool);
  const auto bob = *pepeunit::domain::Uuid::parse(w.bob);
  const auto repo = *pepeunit::domain::Uuid::parse(w.repo);
  const auto holds = [&](std::int64_t now) {
    for (const auto& g : store.activeGrants(bob, pepeunit::domain::ResourceType::kRepo, now)) {
      if (g.resource == repo) {
        CHECK(g.valid_until_unix == valid_until);
        return true;
      }
    }
    return false;
  };
  CHECK(holds(valid_until - 1));
  CHECK_FALSE(holds(valid_until));  // the instant itself no longer counts
  // Real time passes: the grant lapses without anyone touching it.
  CHECK(pepeunit::testing::pollUntil([&] { return !holds(nowUnix()); }, 10s, 100ms));
  CHECK(nowUnix() >= valid_until);

  // Still listed for its owner, with its valid_until.
  const auto listed = alice.get(agentsPath(w.repo, "Repo", "&agent_type=User"));
  REQUIRE(listed.status == 200);
  const auto listed_body = listed.json();
  CHECK(listed_body["count"] == 2);
  bool found = false;
  for (const auto& p : listed_body["permissions"]) {
    if (p["agent_uuid"] == w.bob) {
      found = true;
      CHECK(p["valid_until"] == pepeunit::http::formatIsoTimestamp(valid_until));
    }
  }
  CHECK(found);
  // Grants of other types and other agents are unaffected.
  const auto alice_uuid = *pepeunit::domain::Uuid::parse(w.alice);
  CHECK(store.activeGrants(alice_uuid, pepeunit::domain::ResourceType::kRepo, nowUnix()).size() ==
        1);
  CHECK(
      store.activeGrants(alice_uuid, pepeunit::domain::ResourceType::kUnitNode, nowUnix()).size() ==
      1);
}

TEST_CASE("GET /metrics/: exact counters, for anyone") {
  {
    pqxx::connection conn(stack().pg().url());
    pqxx::work tx(conn);
    tx.exec("TRUNCATE permissions, units_nodes_edges, units_nodes, units, repos, users CASCADE");
    tx.commit();
  }
  World w;  // 4 users, 1 repo, 2 units, 2 nodes, 1 edge
  const json expected = {{"user_count", 4},
                         {"repo_count", 1},
                         {"unit_count", 2},
                         {"unit_node_count", 2},
                         {"unit_node_edge_count", 1}};
  const std::string path = std::string(kApi) + "/metrics/";
  for (const auto& token :
       {std::string(), userToken(w.bob), userToken(w.carol), unitToken(w.unit)}) {
    auto c = client(token);
    const auto r = c.get(path);
    INFO(r.body);
    CHECK(r.status == 200);
    CHECK(r.json() == expected);
  }
  World second;
  auto anonymous = client();
  const auto r = anonymous.get(path);
  REQUIRE(r.status == 200);
  CHECK(r.json()["user_count"] == 8);
  CHECK(r.json()["unit_node_edge_count"] == 2);

  auto erin = client(userToken(w.erin));
  const auto blocked = erin.get(path);
  CHECK(blocked.status == 403);
  CHECK(detail(blocked) == "1: No Access: User is Blocked");
}
