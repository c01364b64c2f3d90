// UnitNodes and edges (spec §1.4-§1.6, §1.9, §2.5) over real HTTP against the running backend
// with a real PostgreSQL: visibility of get/list for every kind of caller, the list filters,
// the update and set_state_input rules, and edges (create with their permissions checked in
// Postgres, duplicates, direction, delete through the REST path, a unit's edge list).
// Users are registered and logged in through REST; the repo, units, nodes and automatic grants
// are written straight into Postgres (Units and Repos REST are separate areas), and Unit tokens
// are minted with the stack's secret exactly as the backend issues them.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <vector>

#include "crypto/jwt.hpp"
#include "integration/harness/http_client.hpp"
#include "integration/harness/stack.hpp"

using nlohmann::json;
using pepeunit::testing::HttpClient;
using pepeunit::testing::HttpResponse;

namespace {

const std::string kApi = "/pepeunit/api/v1";
const std::string kPassword = "correct-horse-1";
constexpr std::int64_t kMaxPage = 50;

/// One backend + Postgres for the whole binary: each test builds its own World of rows.
pepeunit::testing::Stack& stack() {
  static pepeunit::testing::Stack instance(pepeunit::testing::StackOptions::withEnv(
      {{"BACKEND_MAX_PAGINATION_SIZE", std::to_string(kMaxPage)}}));
  return instance;
}

HttpClient client(const std::string& token = {}) {
  HttpClient c("127.0.0.1", stack().backend().port());
  if (!token.empty())
    c.setDefaultHeader("x-auth-token", token);
  return c;
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay as they are).
std::string encode(const std::string& value) {
  std::string out;
  for (const unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

struct User {
  std::string uuid;
  std::string token;
};

/// Registers through REST and logs in; returns the uuid and a User token.
User registerUser(const std::string& login) {
  auto anonymous = client();
  const auto created =
      anonymous.post(kApi + "/users", json{{"login", login}, {"password", kPassword}});
  REQUIRE_MESSAGE(created.status == 201, created.body);
  const auto auth =
      anonymous.post(kApi + "/users/auth", json{{"credentials", login}, {"password", kPassword}});
  REQUIRE_MESSAGE(auth.status == 200, auth.body);
  return {created.json()["uuid"], auth.json()["token"]};
}

/// The users every test shares: the first registration becomes the Admin.
struct Users {
  User admin = registerUser("nodes_admin");
  User alice = registerUser("nodes_alice");
  User bob = registerUser("nodes_bob");
  User eve = registerUser("nodes_eve");
};

const Users& users() {
  static const Users instance;
  return instance;
}

std::string unitToken(const std::string& unit) {
  nlohmann::ordered_json claims;
  claims["uuid"] = unit;
  claims["type"] = "Unit";
  return pepeunit::crypto::signJwt(claims, stack().backendEnv().at("BACKEND_SECRET_KEY"));
}

/// Fixture rows written directly: alice's repo R; alice's Public unit A with Output a_out
/// ("temp/pepeunit") and Input a_in ("cmd"); bob's Internal unit B with Output b_out and Input
/// b_in ("set/pepeunit"); alice's Private unit P with Private Input p_in. Nodes are created one
/// second apart in the order a_out, a_in, b_out, b_in, p_in, with last_update_datetime in 2024.
/// The automatic grants of §1.6 for all of them.
struct World {
  const Users& u = users();
  std::string tag;
  std::string repo, unit_a, unit_b, unit_p;
  std::string a_out, a_in, b_out, b_in, p_in;

  World() {
    static std::atomic<int> counter{0};
    tag = std::to_string(++counter);
    pqxx::connection conn(stack().pg().url());
    pqxx::work tx(conn);
    repo = tx.exec_params1(
                 "INSERT INTO repos (name, repo_url, creator_uuid, visibility_level)"
                 " VALUES ($1, 'https://example.com/r.git', $2, 'Public') RETURNING uuid",
                 "nrepo" + tag, u.alice.uuid)[0]
               .as<std::string>();
    const auto unit = [&](const std::string& name, const std::string& creator, const char* level) {
      return tx
          .exec_params1(
              "INSERT INTO units (name, creator_uuid, repo_uuid, visibility_level)"
              " VALUES ($1, $2, $3, $4) RETURNING uuid",
              name + tag, creator, repo, level)[0]
          .as<std::string>();
    };
    unit_a = unit("nunitA", u.alice.uuid, "Public");
    unit_b = unit("nunitB", u.bob.uuid, "Internal");
    unit_p = unit("nunitP", u.alice.uuid, "Private");
    int second = 0;
    const auto node = [&](const char* type, const std::string& owner, const std::string& creator,
                          const char* level, const std::string& topic) {
      ++second;
      return tx
          .exec_params1(
              "INSERT INTO units_nodes (type, visibility_level, topic_name, creator_uuid,"
              " unit_uuid, create_datetime, last_update_datetime)"
              " VALUES ($1, $2, $3, $4, $5,"
              "  (now() AT TIME ZONE 'UTC') + make_interval(secs => $6),"
              "  TIMESTAMP '2024-01-01 00:00:00') RETURNING uuid",
              type, level, topic, creator, owner, second)[0]
          .as<std::string>();
    };
    a_out = node("Output", unit_a, u.alice.uuid, "Public", "temp/pepeunit");
    a_in = node("Input", unit_a, u.alice.uuid, "Public", "cmd");
    b_out = node("Output", unit_b, u.bob.uuid, "Internal", "level/pepeunit");
    b_in = node("Input", unit_b, u.bob.uuid, "Internal", "set/pepeunit");
    p_in = node("Input", unit_p, u.alice.uuid, "Private", "secret/pepeunit");

    const auto grant = [&](const char* agent_col, const std::string& agent, const char* agent_type,
                           const char* resource_col, const std::string& resource,
                           const char* resource_type) {
      tx.exec_params(std::string("INSERT INTO permissions (agent_type, ") + agent_col +
                         ", resource_type, " + resource_col + ") VALUES ($1, $2, $3, $4)",
                     agent_type, agent, resource_type, resource);
    };
    grant("agent_user_uuid", u.alice.uuid, "User", "resource_repo_uuid", repo, "Repo");
    for (const auto& [unit_uuid, creator] :
         {std::pair{unit_a, u.alice.uuid}, std::pair{unit_b, u.bob.uuid},
          std::pair{unit_p, u.alice.uuid}}) {
      grant("agent_user_uuid", creator, "User", "resource_unit_uuid", unit_uuid, "Unit");
      grant("agent_unit_uuid", unit_uuid, "Unit", "resource_unit_uuid", unit_uuid, "Unit");
    }
    for (const auto& [unit_uuid, node_uuid, creator] :
         {std::tuple{unit_a, a_out, u.alice.uuid}, std::tuple{unit_a, a_in, u.alice.uuid},
          std::tuple{unit_b, b_out, u.bob.uuid}, std::tuple{unit_b, b_in, u.bob.uuid},
          std::tuple{unit_p, p_in, u.alice.uuid}}) {
      grant("agent_unit_uuid", unit_uuid, "Unit", "resource_unit_node_uuid", node_uuid, "UnitNode");
      grant("agent_user_uuid", creator, "User", "resource_unit_node_uuid", node_uuid, "UnitNode");
    }
    tx.commit();
  }

  /// `uuids=` for this world's five nodes, so lists ignore the other tests' rows.
  std::string mine() const {
    std::string out;
    for (const auto& n : {a_out, a_in, b_out, b_in, p_in})
      out += "&uuids=" + n;
    return out;
  }
};

bool permissionExists(const std::string& agent, const std::string& resource) {
  pqxx::connection conn(stack().pg().url());
  pqxx::work tx(conn);
  return !tx.exec_params("SELECT 1 FROM permissions WHERE agent_uuid = $1 AND resource_uuid = $2",
                         agent, resource)
              .empty();
}

int edgeCount(const std::string& output, const std::string& input) {
  pqxx::connection conn(stack().pg().url());
  pqxx::work tx(conn);
  return tx
      .exec_params1(
          "SELECT count(*) FROM units_nodes_edges WHERE node_output_uuid = $1"
          " AND node_input_uuid = $2",
          output, input)[0]
      .as<int>();
}

std::string nodeColumn(const std::string& node, const std::string& column) {
  pqxx::connection conn(stack().pg().url());
  pqxx::work tx(conn);
  const auto value = tx.exec_params1(
      "SELECT " + tx.quote_name(column) + "::text FROM units_nodes WHERE uuid = $1", node)[0];
  return value.is_null() ? "<null>" : value.as<std::string>();
}

/// The uuids of a `{"count", "unit_nodes"}` answer, in order.
std::vector<std::string> listed(const HttpResponse& r) {
  REQUIRE_MESSAGE(r.status == 200, r.body);
  // Named: a range-for over a member of the temporary r.json() would dangle.
  const auto body = r.json();
  std::vector<std::string> out;
  for (const auto& node : body["unit_nodes"])
    out.push_back(node["uuid"]);
  return out;
}

std::set<std::string> asSet(const std::vector<std::string>& v) {
  return {v.begin(), v.end()};
}

const std::string kNoObject = "2: Validation Error: The object does not exist";

HttpResponse createEdge(HttpClient& c, const std::string& output, const std::string& input) {
  return c.post(kApi + "/unit_nodes/create_unit_node_edge",
                json{{"node_output_uuid", output}, {"node_input_uuid", input}});
}

std::string deleteEdgePath(const std::string& input, const std::string& output) {
  return kApi + "/unit_nodes/delete_unit_node_edge?input_uuid=" + input + "&output_uuid=" + output;
}

}  // namespace

TEST_CASE("GET /unit_nodes/{uuid}: UnitNodeRead, exactly as §2.5") {
  World w;
  auto alice = client(w.u.alice.token);
  const auto r = alice.get(kApi + "/unit_nodes/" + w.b_in);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  const auto body = r.json();
  const std::set<std::string> keys = {
      "uuid", "type", "visibility_level", "is_rewritable_input", "topic_name", "create_datetime",
      "state", "last_update_datetime", "unit_uuid", "creator_uuid",
      // issue 5: the node's value history policy (additive)
      "history_policy", "history_deadband", "history_retention_days"};
  std::set<std::string> got;
  for (const auto& [key, value] : body.items())
    got.insert(key);
  CHECK(got == keys);
  CHECK(body["uuid"] == w.b_in);
  CHECK(body["type"] == "Input");
  CHECK(body["visibility_level"] == "Internal");
  CHECK(body["is_rewritable_input"] == false);
  CHECK(body["topic_name"] == "set/pepeunit");
  CHECK(body["state"].is_null());
  CHECK(body["last_update_datetime"] == "2024-01-01T00:00:00");
  CHECK(body["create_datetime"].get<std::string>().size() >= 19);
  CHECK(body["unit_uuid"] == w.unit_b);
  CHECK(body["creator_uuid"] == w.u.bob.uuid);
}

TEST_CASE("GET /unit_nodes/{uuid}: visibility for every kind of caller") {
  World w;
  auto bot = client();
  auto alice = client(w.u.alice.token);
  auto bob = client(w.u.bob.token);
  auto admin = client(w.u.admin.token);
  auto unit_a = client(unitToken(w.unit_a));
  auto unit_p = client(unitToken(w.unit_p));
  const auto status = [&](HttpClient& c, const std::string& node) {
    return c.get(kApi + "/unit_nodes/" + node).status;
  };

  // Public: everyone.
  for (auto* c : {&bot, &alice, &bob, &admin, &unit_a})
    CHECK(status(*c, w.a_out) == 200);
  // Internal: any token.
  const auto internal = bot.get(kApi + "/unit_nodes/" + w.b_in);
  CHECK(internal.status == 403);
  CHECK(detail(internal) == "1: No Access: Internal visibility level is not allowed");
  for (auto* c : {&alice, &bob, &admin, &unit_a})
    CHECK(status(*c, w.b_in) == 200);
  // Private: a grant (the creator and the owning Unit have one), or an Admin.
  const auto priv = bob.get(kApi + "/unit_nodes/" + w.p_in);
  CHECK(priv.status == 403);
  CHECK(detail(priv) == "1: No Access: Private visibility level is not allowed");
  CHECK(status(bot, w.p_in) == 403);
  CHECK(status(unit_a, w.p_in) == 403);
  CHECK(status(alice, w.p_in) == 200);
  CHECK(status(admin, w.p_in) == 200);
  CHECK(status(unit_p, w.p_in) == 200);
  // A grant given through the permission API opens it.
  auto grant = alice.post(kApi + "/permission", json{{"agent_uuid", w.u.bob.uuid},
                                                     {"agent_type", "User"},
                                                     {"resource_uuid", w.p_in},
                                                     {"resource_type", "UnitNode"}});
  REQUIRE_MESSAGE(grant.status == 201, grant.body);
  CHECK(status(bob, w.p_in) == 200);
  grant = alice.post(kApi + "/permission", json{{"agent_uuid", w.unit_a},
                                                {"agent_type", "Unit"},
                                                {"resource_uuid", w.p_in},
                                                {"resource_type", "UnitNode"}});
  REQUIRE_MESSAGE(grant.status == 201, grant.body);
  CHECK(status(unit_a, w.p_in) == 200);

  // Unknown and malformed uuids.
  const auto missing = alice.get(kApi + "/unit_nodes/00000000-0000-4000-8000-000000000000");
  CHECK(missing.status == 422);
  CHECK(detail(missing) == kNoObject);
  CHECK(alice.get(kApi + "/unit_nodes/not-a-uuid").status == 422);
}

TEST_CASE("GET /unit_nodes: visibility scope per caller") {
  World w;
  const auto list = [&](const std::string& token, const std::string& extra = {}) {
    auto c = client(token);
    return asSet(listed(c.get(kApi + "/unit_nodes?" + w.mine().substr(1) + extra)));
  };
  using S = std::set<std::string>;
  CHECK(list("") == S{w.a_out, w.a_in});
  CHECK(list(w.u.eve.token) == S{w.a_out, w.a_in, w.b_out, w.b_in});
  CHECK(list(w.u.bob.token) == S{w.a_out, w.a_in, w.b_out, w.b_in});
  CHECK(list(w.u.alice.token) == S{w.a_out, w.a_in, w.b_out, w.b_in, w.p_in});
  CHECK(list(w.u.admin.token) == S{w.a_out, w.a_in, w.b_out, w.b_in, w.p_in});
  CHECK(list(unitToken(w.unit_p)) == S{w.a_out, w.a_in, w.b_out, w.b_in, w.p_in});
  CHECK(list(unitToken(w.unit_a)) == S{w.a_out, w.a_in, w.b_out, w.b_in});
  // The caller's level filter narrows; asking for Private without a grant gives nothing.
  CHECK(list(w.u.alice.token, "&visibility_level=Private") == S{w.p_in});
  CHECK(list(w.u.eve.token, "&visibility_level=Private").empty());
  // Anonymous callers get Public whatever they ask for (§3.6 replaces their filter).
  CHECK(list("", "&visibility_level=Internal&visibility_level=Private") == S{w.a_out, w.a_in});
  CHECK(list(w.u.bob.token, "&visibility_level=Public&visibility_level=Internal") ==
        S{w.a_out, w.a_in, w.b_out, w.b_in});
  CHECK(list(unitToken(w.unit_p), "&visibility_level=Private") == S{w.p_in});
}

TEST_CASE("GET /unit_nodes: filters, order, paging and the count") {
  World w;
  auto alice = client(w.u.alice.token);
  const std::string base = kApi + "/unit_nodes?" + w.mine().substr(1);

  // Newest first by default (the nodes were created a second apart).
  CHECK(listed(alice.get(base)) == std::vector{w.p_in, w.b_in, w.b_out, w.a_in, w.a_out});
  CHECK(listed(alice.get(base + "&order_by_create_date=asc")) ==
        std::vector{w.a_out, w.a_in, w.b_out, w.b_in, w.p_in});
  // Paging; count is the total before it.
  const auto page = alice.get(base + "&order_by_create_date=asc&offset=1&limit=2");
  CHECK(listed(page) == std::vector{w.a_in, w.b_out});
  CHECK(page.json()["count"] == 5);
  CHECK(alice.get(base + "&limit=" + std::to_string(kMaxPage + 1)).status == 422);

  CHECK(asSet(listed(alice.get(base + "&type=Input"))) ==
        std::set<std::string>{w.a_in, w.b_in, w.p_in});
  CHECK(asSet(listed(alice.get(base + "&type=Output&type=Input"))).size() == 5);
  CHECK(asSet(listed(alice.get(base + "&unit_uuid=" + w.unit_b))) ==
        std::set<std::string>{w.b_out, w.b_in});
  // unit_uuid alone (no uuids filter) finds exactly that unit's nodes.
  CHECK(asSet(listed(alice.get(kApi + "/unit_nodes?unit_uuid=" + w.unit_a))) ==
        std::set<std::string>{w.a_out, w.a_in});
  // search_string: every word, case-insensitive substring of topic_name.
  CHECK(asSet(listed(alice.get(base + "&search_string=PEPEUNIT"))) ==
        std::set<std::string>{w.a_out, w.b_out, w.b_in, w.p_in});
  CHECK(listed(alice.get(base + "&search_string=" + encode("set pepe"))) == std::vector{w.b_in});
  CHECK(listed(alice.get(base + "&search_string=" + encode("set temp"))).empty());

  // output_uuid: the Inputs linked from that Output.
  CHECK(listed(alice.get(base + "&output_uuid=" + w.a_out)).empty());
  REQUIRE(createEdge(alice, w.a_out, w.b_in).status == 201);
  REQUIRE(createEdge(alice, w.a_out, w.a_in).status == 201);
  CHECK(asSet(listed(alice.get(base + "&output_uuid=" + w.a_out))) ==
        std::set<std::string>{w.a_in, w.b_in});
  // ... still within the caller's visibility.
  auto bot = client();
  CHECK(listed(bot.get(base + "&output_uuid=" + w.a_out)) == std::vector{w.a_in});
}

TEST_CASE("GET /unit_nodes: SQL metacharacters in search_string are plain text") {
  World w;
  {
    pqxx::connection conn(stack().pg().url());
    pqxx::work tx(conn);
    tx.exec_params(
        "INSERT INTO units_nodes (type, visibility_level, topic_name, creator_uuid, unit_uuid)"
        " VALUES ('Output', 'Public', $1, $2, $3), ('Output', 'Public', $4, $2, $3)",
        "load_100%_x'q/pepeunit", w.u.alice.uuid, w.unit_a, "load_1000ax/pepeunit");
    tx.commit();
  }
  auto alice = client(w.u.alice.token);
  const auto search = [&](const std::string& text) {
    const auto r =
        alice.get(kApi + "/unit_nodes?unit_uuid=" + w.unit_a + "&search_string=" + encode(text));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    const auto body = r.json();
    std::vector<std::string> topics;
    for (const auto& n : body["unit_nodes"])
      topics.push_back(n["topic_name"]);
    return topics;
  };
  // `%` and `_` match themselves only, not any character.
  CHECK(search("100%_") == std::vector<std::string>{"load_100%_x'q/pepeunit"});
  CHECK(search("0_x").empty());
  CHECK(search("x'q") == std::vector<std::string>{"load_100%_x'q/pepeunit"});
  CHECK(search("'; DROP TABLE units_nodes; --").empty());
  CHECK(search("\\").empty());
  CHECK(search("load").size() == 2);
  // The table is still there.
  CHECK(nodeColumn(w.a_out, "topic_name") == "temp/pepeunit");
}

TEST_CASE("GET /unit_nodes: malformed parameters are 422") {
  World w;
  auto alice = client(w.u.alice.token);
  for (const std::string query :
       {"uuids=zzz", "unit_uuid=123", "output_uuid=not-a-uuid", "type=Sensor",
        "visibility_level=public", "order_by_create_date=up", "offset=-1", "limit=x"}) {
    const auto r = alice.get(kApi + "/unit_nodes?" + query);
    INFO(query);
    CHECK(r.status == 422);
    CHECK(detail(r).rfind("2: Validation Error: ", 0) == 0);
  }
}

TEST_CASE("PATCH /unit_nodes/{uuid}: settings by the creator or an Admin") {
  World w;
  auto alice = client(w.u.alice.token);
  auto r = alice.patch(kApi + "/unit_nodes/" + w.a_in,
                       json{{"is_rewritable_input", true}, {"visibility_level", "Internal"}});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(r.json()["is_rewritable_input"] == true);
  CHECK(r.json()["visibility_level"] == "Internal");
  CHECK(r.json()["topic_name"] == "cmd");
  CHECK(nodeColumn(w.a_in, "is_rewritable_input") == "true");
  CHECK(nodeColumn(w.a_in, "visibility_level") == "Internal");

  auto admin = client(w.u.admin.token);
  r = admin.patch(kApi + "/unit_nodes/" + w.a_in, json{{"visibility_level", "Public"}});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(r.json()["visibility_level"] == "Public");
  CHECK(r.json()["is_rewritable_input"] == true);  // untouched
  // An empty body changes nothing the client can set.
  r = alice.patch(kApi + "/unit_nodes/" + w.a_out, json::object());
  CHECK(r.status == 200);
  CHECK(r.json()["visibility_level"] == "Public");
}

TEST_CASE("PATCH /unit_nodes/{uuid}: refusals") {
  World w;
  auto alice = client(w.u.alice.token);
  auto bob = client(w.u.bob.token);

  auto r = alice.patch(kApi + "/unit_nodes/" + w.a_out, json{{"is_rewritable_input", true}});
  CHECK(r.status == 422);
  CHECK(detail(r) == "8: UnitNode Validation Error: This Node " + w.a_out + " is not Input");
  CHECK(nodeColumn(w.a_out, "is_rewritable_input") == "false");

  r = bob.patch(kApi + "/unit_nodes/" + w.b_in, json{{"visibility_level", "Public"}});
  CHECK(r.status == 422);
  CHECK(detail(r) ==
        "2: Validation Error: The visibility level of the parent object Unit is lower than that "
        "of the child object UnitNode");
  CHECK(nodeColumn(w.b_in, "visibility_level") == "Internal");

  r = bob.patch(kApi + "/unit_nodes/" + w.a_in, json{{"visibility_level", "Private"}});
  CHECK(r.status == 403);
  CHECK(detail(r) == "1: No Access: The current user is not the creator of this UnitNode");
  auto unit = client(unitToken(w.unit_a));
  r = unit.patch(kApi + "/unit_nodes/" + w.a_in, json{{"visibility_level", "Private"}});
  CHECK(r.status == 403);
  auto bot = client();
  CHECK(bot.patch(kApi + "/unit_nodes/" + w.a_in, json{{"visibility_level", "Private"}}).status ==
        403);
  CHECK(nodeColumn(w.a_in, "visibility_level") == "Public");

  CHECK(alice.patch(kApi + "/unit_nodes/" + w.a_in, json{{"visibility_level", "public"}}).status ==
        422);
  CHECK(alice.patch(kApi + "/unit_nodes/" + w.a_in, json{{"is_rewritable_input", "yes"}}).status ==
        422);
  CHECK(alice.patch(kApi + "/unit_nodes/bad-uuid", json{{"visibility_level", "Public"}}).status ==
        422);
}

TEST_CASE("PATCH /unit_nodes/set_state_input/{uuid}: Users, and Units on rewritable Inputs") {
  World w;
  auto alice = client(w.u.alice.token);
  const std::string path = kApi + "/unit_nodes/set_state_input/";

  auto r = alice.patch(path + w.b_in, json{{"state", "21.5"}});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(r.json()["state"] == "21.5");
  const std::string first_update = r.json()["last_update_datetime"];
  CHECK(first_update > "2024-01-01T00:00:00");
  CHECK(nodeColumn(w.b_in, "state") == "21.5");
  CHECK(nodeColumn(w.b_in, "last_update_datetime") != "2024-01-01 00:00:00");

  // The owning Unit itself needs is_rewritable_input.
  auto unit_b = client(unitToken(w.unit_b));
  r = unit_b.patch(path + w.b_in, json{{"state", "7"}});
  CHECK(r.status == 403);
  CHECK(detail(r) ==
        "1: No Access: Only a User can set this Input; set is_rewritable_input=true to let Units "
        "set it");
  CHECK(nodeColumn(w.b_in, "state") == "21.5");
  auto bob = client(w.u.bob.token);
  REQUIRE(bob.patch(kApi + "/unit_nodes/" + w.b_in, json{{"is_rewritable_input", true}}).status ==
          200);
  r = unit_b.patch(path + w.b_in, json{{"state", "7"}});
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(r.json()["state"] == "7");
  CHECK(r.json()["last_update_datetime"].get<std::string>() >= first_update);
  CHECK(nodeColumn(w.b_in, "state") == "7");

  // null clears the value.
  r = alice.patch(path + w.b_in, json{{"state", nullptr}});
  REQUIRE(r.status == 200);
  CHECK(r.json()["state"].is_null());
  CHECK(nodeColumn(w.b_in, "state") == "<null>");
}

TEST_CASE("PATCH /unit_nodes/set_state_input/{uuid}: refusals") {
  World w;
  auto alice = client(w.u.alice.token);
  const std::string path = kApi + "/unit_nodes/set_state_input/";
  auto r = alice.patch(path + w.a_out, json{{"state", "1"}});
  CHECK(r.status == 422);
  CHECK(detail(r) == "8: UnitNode Validation Error: This Node " + w.a_out + " is not Input");
  CHECK(nodeColumn(w.a_out, "state") == "<null>");

  auto bot = client();
  r = bot.patch(path + w.a_in, json{{"state", "1"}});
  CHECK(r.status == 403);
  CHECK(detail(r) == "1: No Access: The current user role is not in the list of available roles");
  auto bob = client(w.u.bob.token);
  CHECK(bob.patch(path + w.p_in, json{{"state", "1"}}).status == 403);
  CHECK(nodeColumn(w.p_in, "state") == "<null>");
  CHECK(alice.patch(path + w.a_in, json{{"state", 5}}).status == 422);
  CHECK(alice.patch(path + "nope", json{{"state", "1"}}).status == 422);
}

TEST_CASE("POST /unit_nodes/create_unit_node_edge: the edge and its permissions") {
  World w;
  auto bob = client(w.u.bob.token);
  CHECK_FALSE(permissionExists(w.unit_a, w.b_in));
  const auto r = createEdge(bob, w.a_out, w.b_in);
  REQUIRE_MESSAGE(r.status == 201, r.body);
  const auto body = r.json();
  CHECK(body.size() == 3);
  CHECK(body["node_output_uuid"] == w.a_out);
  CHECK(body["node_input_uuid"] == w.b_in);
  CHECK(body["uuid"].get<std::string>().size() == 36);
  CHECK(edgeCount(w.a_out, w.b_in) == 1);
  // §1.6: output's Unit → input node; input's Unit → output node; output's Unit → input's Unit.
  CHECK(permissionExists(w.unit_a, w.b_in));
  CHECK(permissionExists(w.unit_b, w.a_out));
  CHECK(permissionExists(w.unit_a, w.unit_b));

  // A duplicate is refused and changes nothing.
  const auto again = createEdge(bob, w.a_out, w.b_in);
  CHECK(again.status == 422);
  CHECK(detail(again) == "8: UnitNode Validation Error: Edge exist");
  CHECK(edgeCount(w.a_out, w.b_in) == 1);

  // A second edge whose grants already exist (output's Unit → input's Unit) still works.
  REQUIRE(createEdge(bob, w.a_out, w.a_in).status == 201);
  CHECK(edgeCount(w.a_out, w.a_in) == 1);
}

TEST_CASE("POST /unit_nodes/create_unit_node_edge: refusals") {
  World w;
  auto bob = client(w.u.bob.token);
  auto r = createEdge(bob, w.b_in, w.a_out);  // reversed
  CHECK(r.status == 422);
  CHECK(detail(r) == "8: UnitNode Validation Error: This Node " + w.b_in + " is not Output");
  r = createEdge(bob, w.a_out, w.b_out);
  CHECK(r.status == 422);
  CHECK(detail(r) == "8: UnitNode Validation Error: This Node " + w.b_out + " is not Input");
  r = createEdge(bob, w.a_out, w.p_in);
  CHECK(r.status == 403);
  CHECK(detail(r) == "1: No Access: Private visibility level is not allowed");
  auto unit = client(unitToken(w.unit_a));
  r = createEdge(unit, w.a_out, w.b_in);
  CHECK(r.status == 403);
  CHECK(detail(r) == "1: No Access: The resource is not available for the current Unit");
  CHECK(createEdge(bob, "00000000-0000-4000-8000-000000000000", w.b_in).status == 422);
  CHECK(createEdge(bob, "nope", w.b_in).status == 422);
  CHECK(bob.post(kApi + "/unit_nodes/create_unit_node_edge", json{{"node_output_uuid", w.a_out}})
            .status == 422);
  CHECK(edgeCount(w.a_out, w.b_in) == 0);
  CHECK(edgeCount(w.a_out, w.p_in) == 0);
  CHECK_FALSE(permissionExists(w.unit_a, w.b_in));
  // An Admin may link nodes it has no grant for.
  auto admin = client(w.u.admin.token);
  CHECK(createEdge(admin, w.a_out, w.p_in).status == 201);
}

TEST_CASE("DELETE /unit_nodes/delete_unit_node_edge: who may, and the revoke") {
  World w;
  auto eve = client(w.u.eve.token);
  auto alice = client(w.u.alice.token);
  auto bob = client(w.u.bob.token);
  REQUIRE(createEdge(eve, w.a_out, w.b_in).status == 201);

  // Neither the edge's creator nor the input node's creator.
  auto r = alice.del(deleteEdgePath(w.b_in, w.a_out));
  CHECK(r.status == 403);
  CHECK(detail(r) ==
        "1: No Access: The current user is not the creator of this edge or of its input UnitNode");
  CHECK(edgeCount(w.a_out, w.b_in) == 1);
  // A pair without an edge (here: reversed) and a random pair.
  r = eve.del(deleteEdgePath(w.a_out, w.b_in));
  CHECK(r.status == 422);
  CHECK(detail(r) == kNoObject);
  r = eve.del(deleteEdgePath("5b0d3c1e-9a51-4f3c-8f4e-1c2d3e4f5a6b",
                             "6c1e4d2f-0b62-4a4d-9a5f-2d3e4f5a6b7c"));
  CHECK(r.status == 422);
  CHECK(detail(r) == kNoObject);
  CHECK(eve.del(deleteEdgePath("bad", w.a_out)).status == 422);
  CHECK(eve.del(kApi + "/unit_nodes/delete_unit_node_edge?input_uuid=" + w.b_in).status == 422);
  CHECK(client().del(deleteEdgePath(w.b_in, w.a_out)).status == 403);

  // The edge's creator.
  r = eve.del(deleteEdgePath(w.b_in, w.a_out));
  CHECK(r.status == 204);
  CHECK(edgeCount(w.a_out, w.b_in) == 0);
  CHECK_FALSE(permissionExists(w.unit_a, w.b_in));  // revoked
  CHECK(permissionExists(w.unit_b, w.a_out));       // only the one revoke, as the original
  CHECK(permissionExists(w.unit_b, w.b_in));        // the Unit's own access stays

  // The input node's creator; then an Admin.
  REQUIRE(createEdge(eve, w.a_out, w.b_in).status == 201);
  CHECK(bob.del(deleteEdgePath(w.b_in, w.a_out)).status == 204);
  REQUIRE(createEdge(eve, w.a_out, w.b_in).status == 201);
  auto admin = client(w.u.admin.token);
  CHECK(admin.del(deleteEdgePath(w.b_in, w.a_out)).status == 204);
  CHECK(edgeCount(w.a_out, w.b_in) == 0);

  // An edge inside one Unit never takes the Unit's own access away.
  REQUIRE(createEdge(alice, w.a_out, w.a_in).status == 201);
  CHECK(alice.del(deleteEdgePath(w.a_in, w.a_out)).status == 204);
  CHECK(permissionExists(w.unit_a, w.a_in));
}

TEST_CASE("GET /unit_nodes/edges/{uuid}: a unit's edges for callers that see the unit") {
  World w;
  auto alice = client(w.u.alice.token);
  auto admin = client(w.u.admin.token);
  REQUIRE(createEdge(alice, w.a_out, w.b_in).status == 201);
  REQUIRE(createEdge(alice, w.b_out, w.a_in).status == 201);
  REQUIRE(createEdge(alice, w.a_out, w.a_in).status == 201);
  REQUIRE(createEdge(admin, w.b_out, w.p_in).status == 201);

  auto bot = client();
  auto r = bot.get(kApi + "/unit_nodes/edges/" + w.unit_a);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(r.json()["count"] == 3);
  const auto edges = r.json()["unit_node_edges"];
  CHECK(edges.size() == 3);
  for (const auto& edge : edges) {
    CHECK(edge.size() == 3);
    CHECK((edge["node_output_uuid"] == w.a_out || edge["node_input_uuid"] == w.a_in));
  }
  auto eve = client(w.u.eve.token);
  r = eve.get(kApi + "/unit_nodes/edges/" + w.unit_b + "?offset=1&limit=1");
  REQUIRE(r.status == 200);
  CHECK(r.json()["count"] == 3);
  CHECK(r.json()["unit_node_edges"].size() == 1);
  CHECK(client(unitToken(w.unit_p)).get(kApi + "/unit_nodes/edges/" + w.unit_p).json()["count"] ==
        1);

  r = bot.get(kApi + "/unit_nodes/edges/" + w.unit_b);
  CHECK(r.status == 403);
  CHECK(detail(r) == "1: No Access: Internal visibility level is not allowed");
  CHECK(eve.get(kApi + "/unit_nodes/edges/" + w.unit_p).status == 403);
  r = eve.get(kApi + "/unit_nodes/edges/00000000-0000-4000-8000-000000000000");
  CHECK(r.status == 422);
  CHECK(detail(r) == kNoObject);
  CHECK(eve.get(kApi + "/unit_nodes/edges/xyz").status == 422);
}
