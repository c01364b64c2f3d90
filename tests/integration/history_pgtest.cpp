// Value history, aggregates, the node history policy PATCH and unit logs (issue 5 items 3 and 5)
// over real HTTP against the running backend with a real PostgreSQL. Users come through REST;
// repo, units, nodes, values, rollups and logs are written straight into Postgres (the ingest
// has its own tests), and Unit tokens are minted with the stack's secret as the backend does.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <pqxx/pqxx>
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

struct User {
  std::string uuid;
  std::string token;
};

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

struct Users {
  User admin = registerUser("hist_admin");
  User alice = registerUser("hist_alice");
  User bob = registerUser("hist_bob");
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

/// alice's Public unit A with Public Output `out`, alice's Private unit P with Private Output
/// `secret`, and the creator grants. `out` has values on 2025-01-10 (and one on the 11th), a
/// rollup for 09:00 that has no raw values and one for 10:00 matching its raw values.
struct World {
  const Users& u = users();
  std::string tag, repo, unit_a, unit_p, out, secret;

  World() {
    static std::atomic<int> counter{0};
    tag = std::to_string(++counter);
    pqxx::connection conn(stack().pg().url());
    pqxx::work tx(conn);
    repo = tx.exec_params1(
                 "INSERT INTO repos (name, repo_url, creator_uuid, visibility_level)"
                 " VALUES ($1, 'https://example.com/r.git', $2, 'Public') RETURNING uuid",
                 "hrepo" + tag, u.alice.uuid)[0]
               .as<std::string>();
    const auto unit = [&](const std::string& name, const char* level) {
      return tx
          .exec_params1(
              "INSERT INTO units (name, creator_uuid, repo_uuid, visibility_level)"
              " VALUES ($1, $2, $3, $4) RETURNING uuid",
              name + tag, u.alice.uuid, repo, level)[0]
          .as<std::string>();
    };
    unit_a = unit("hunitA", "Public");
    unit_p = unit("hunitP", "Private");
    const auto node = [&](const std::string& owner, const char* level) {
      return tx
          .exec_params1(
              "INSERT INTO units_nodes (type, visibility_level, topic_name, creator_uuid,"
              " unit_uuid) VALUES ('Output', $1, 'temp/pepeunit', $2, $3) RETURNING uuid",
              level, u.alice.uuid, owner)[0]
          .as<std::string>();
    };
    out = node(unit_a, "Public");
    secret = node(unit_p, "Private");
    for (const auto& [agent_unit, resource_col, resource, type] :
         {std::tuple{unit_a, "resource_unit_uuid", unit_a, "Unit"},
          std::tuple{unit_p, "resource_unit_uuid", unit_p, "Unit"},
          std::tuple{unit_a, "resource_unit_node_uuid", out, "UnitNode"},
          std::tuple{unit_p, "resource_unit_node_uuid", secret, "UnitNode"}}) {
      tx.exec_params(std::string("INSERT INTO permissions (agent_type, agent_user_uuid,"
                                 " resource_type, ") +
                         resource_col + ") VALUES ('User', $1, $2, $3)",
                     u.alice.uuid, type, resource);
      tx.exec_params(std::string("INSERT INTO permissions (agent_type, agent_unit_uuid,"
                                 " resource_type, ") +
                         resource_col + ") VALUES ('Unit', $1, $2, $3)",
                     agent_unit, type, resource);
    }
    const auto value = [&](const std::string& node_uuid, const std::string& text,
                           const char* numeric, const std::string& at) {
      tx.exec_params(
          "INSERT INTO unit_node_values (unit_node_uuid, value, numeric_value, created_at)"
          " VALUES ($1, $2, $3::double precision, $4::timestamptz)",
          node_uuid, text, numeric, at);
    };
    value(out, "1", "1", "2025-01-10 10:05:00+00");
    value(out, "2", "2", "2025-01-10 10:20:00+00");
    value(out, "3", "3", "2025-01-10 10:40:00+00");
    value(out, "a,b \"q\"", nullptr, "2025-01-10 10:50:00+00");
    value(out, "10", "10", "2025-01-10 11:10:00+00");
    value(out, "20", "20", "2025-01-10 12:30:00+00");
    value(out, "100", "100", "2025-01-11 00:30:00+00");
    value(secret, "7", "7", "2025-01-10 10:05:00+00");
    const auto rollup = [&](const std::string& at, double avg, double min, double max, int n) {
      tx.exec_params(
          "INSERT INTO unit_node_value_rollups (unit_node_uuid, bucket_start, avg_value,"
          " min_value, max_value, value_count) VALUES ($1, $2::timestamptz, $3, $4, $5, $6)",
          out, at, avg, min, max, n);
    };
    rollup("2025-01-10 09:00:00+00", 5, 4, 6, 2);
    rollup("2025-01-10 10:00:00+00", 2, 1, 3, 3);
    const auto log = [&](const char* level, const std::string& text, const std::string& at) {
      tx.exec_params(
          "INSERT INTO unit_logs (unit_uuid, level, text, create_datetime, expires_at)"
          " VALUES ($1, $2, $3, $4::timestamp, TIMESTAMP '2030-01-01 00:00:00')",
          unit_a, level, text, at);
    };
    log("Info", "boot", "2025-01-10 10:00:00");
    log("Error", "sensor lost", "2025-01-10 10:10:00");
    log("Debug", "tick", "2025-01-10 10:20:00");
    tx.commit();
  }

  std::string history(const std::string& node, const std::string& query = "") const {
    return kApi + "/unit_nodes/" + node + "/history?" + query;
  }
  std::string aggregates(const std::string& node, const std::string& query = "") const {
    return kApi + "/unit_nodes/" + node + "/aggregates?" + query;
  }
  std::string logs(const std::string& query = "") const {
    return kApi + "/units/log_list/?uuid=" + unit_a + query;
  }
};

const std::string kHour10 = "from=2025-01-10T10:00:00Z&to=2025-01-10T11:00:00Z";

std::vector<std::string> valuesOf(const HttpResponse& r) {
  REQUIRE_MESSAGE(r.status == 200, r.body);
  const auto body = r.json();
  std::vector<std::string> out;
  for (const auto& v : body["values"])
    out.push_back(v["value"]);
  return out;
}

}  // namespace

TEST_CASE("history: JSON in a time range, oldest first, with count and numeric") {
  World w;
  auto c = client(w.u.alice.token);
  const auto r = c.get(w.history(w.out, kHour10));
  CHECK(valuesOf(r) == std::vector<std::string>{"1", "2", "3", "a,b \"q\""});
  const auto body = r.json();
  CHECK(body["count"] == 4);
  CHECK(body["values"][0]["created_at"] == "2025-01-10T10:05:00");
  CHECK(body["values"][0]["numeric"] == 1.0);
  CHECK(body["values"][3]["numeric"].is_null());
  // `to` is exclusive, `from` inclusive.
  CHECK(valuesOf(c.get(w.history(w.out, "from=2025-01-10T10:20:00Z&to=2025-01-10T10:40:00Z"))) ==
        std::vector<std::string>{"2"});
  // An offset in the parameter is honoured: 12:20+02:00 = 10:20Z.
  CHECK(valuesOf(c.get(
            w.history(w.out, "from=2025-01-10T12:20:00%2B02:00&to=2025-01-10T12:40:00%2B02:00"))) ==
        std::vector<std::string>{"2"});
}

TEST_CASE("history: limit keeps the newest values and count stays the range's total") {
  World w;
  auto c = client(w.u.alice.token);
  const auto r = c.get(w.history(w.out, kHour10 + "&limit=2"));
  CHECK(valuesOf(r) == std::vector<std::string>{"3", "a,b \"q\""});
  CHECK(r.json()["count"] == 4);
  CHECK(c.get(w.history(w.out, "limit=" + std::to_string(kMaxPage + 1))).status == 422);
  CHECK(c.get(w.history(w.out, "limit=-1")).status == 422);
}

TEST_CASE("history: the default range is the last 24 hours") {
  World w;
  {
    pqxx::connection conn(stack().pg().url());
    pqxx::work tx(conn);
    tx.exec_params(
        "INSERT INTO unit_node_values (unit_node_uuid, value, numeric_value, created_at)"
        " VALUES ($1, 'recent', NULL, now() - interval '1 hour'),"
        "        ($1, 'old', NULL, now() - interval '25 hours')",
        w.out);
    tx.commit();
  }
  const auto r = client(w.u.alice.token).get(w.history(w.out));
  CHECK(valuesOf(r) == std::vector<std::string>{"recent"});
  CHECK(r.json()["count"] == 1);
}

TEST_CASE("history: CSV with RFC 4180 quoting") {
  World w;
  const auto r = client(w.u.alice.token).get(w.history(w.out, kHour10 + "&format=csv"));
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(r.header("content-type").rfind("text/csv", 0) == 0);
  CHECK(r.body ==
        "created_at,value\r\n"
        "2025-01-10T10:05:00,1\r\n"
        "2025-01-10T10:20:00,2\r\n"
        "2025-01-10T10:40:00,3\r\n"
        "2025-01-10T10:50:00,\"a,b \"\"q\"\"\"\r\n");
}

TEST_CASE("history: bad parameters are 422 naming the parameter") {
  World w;
  auto c = client(w.u.alice.token);
  const auto bad_format = c.get(w.history(w.out, "format=xml"));
  CHECK(bad_format.status == 422);
  CHECK(detail(bad_format).find("format") != std::string::npos);
  const auto bad_from = c.get(w.history(w.out, "from=yesterday"));
  CHECK(bad_from.status == 422);
  CHECK(detail(bad_from).find("from") != std::string::npos);
  CHECK(c.get(w.history(w.out, "from=2025-01-11T00:00:00Z&to=2025-01-10T00:00:00Z")).status == 422);
  CHECK(c.get(kApi + "/unit_nodes/not-a-uuid/history").status == 422);
  const auto bad_bucket = c.get(w.aggregates(w.out, "bucket=week"));
  CHECK(bad_bucket.status == 422);
  CHECK(detail(bad_bucket).find("bucket") != std::string::npos);
}

TEST_CASE("aggregates: hours from rollups, raw values where no rollup, days combine hours") {
  World w;
  auto c = client(w.u.alice.token);
  const auto hours =
      c.get(w.aggregates(w.out, "bucket=hour&from=2025-01-10T00:00:00Z&to=2025-01-11T00:00:00Z"));
  REQUIRE_MESSAGE(hours.status == 200, hours.body);
  const auto h = hours.json();
  REQUIRE(h.size() == 4);
  CHECK(h[0] == json{{"bucket_start", "2025-01-10T09:00:00"},
                     {"avg", 5.0},
                     {"min", 4.0},
                     {"max", 6.0},
                     {"count", 2}});
  CHECK(h[1] == json{{"bucket_start", "2025-01-10T10:00:00"},
                     {"avg", 2.0},
                     {"min", 1.0},
                     {"max", 3.0},
                     {"count", 3}});
  CHECK(h[2] == json{{"bucket_start", "2025-01-10T11:00:00"},
                     {"avg", 10.0},
                     {"min", 10.0},
                     {"max", 10.0},
                     {"count", 1}});
  CHECK(h[3]["bucket_start"] == "2025-01-10T12:00:00");
  CHECK(h[3]["avg"] == 20.0);

  const auto days =
      c.get(w.aggregates(w.out, "bucket=day&from=2025-01-10T00:00:00Z&to=2025-01-12T00:00:00Z"));
  REQUIRE_MESSAGE(days.status == 200, days.body);
  const auto d = days.json();
  REQUIRE(d.size() == 2);
  CHECK(d[0]["bucket_start"] == "2025-01-10T00:00:00");
  CHECK(d[0]["count"] == 7);
  CHECK(d[0]["min"] == 1.0);
  CHECK(d[0]["max"] == 20.0);
  CHECK(d[0]["avg"].get<double>() == doctest::Approx(46.0 / 7.0));
  CHECK(d[1] == json{{"bucket_start", "2025-01-11T00:00:00"},
                     {"avg", 100.0},
                     {"min", 100.0},
                     {"max", 100.0},
                     {"count", 1}});
  // Default hour buckets, range outside the data: empty.
  const auto none = c.get(w.aggregates(w.out, "from=2024-01-01T00:00:00Z&to=2024-01-02T00:00:00Z"));
  REQUIRE(none.status == 200);
  CHECK(none.json() == json::array());
}

TEST_CASE("history and aggregates follow the node's visibility") {
  World w;
  const std::string range = "from=2025-01-10T00:00:00Z&to=2025-01-11T00:00:00Z";
  for (const auto& path : {w.history(w.secret, range), w.aggregates(w.secret, range)}) {
    CAPTURE(path);
    CHECK(client(w.u.bob.token).get(path).status == 403);
    CHECK(client().get(path).status == 403);
    CHECK(client(w.u.admin.token).get(path).status == 200);
    CHECK(client(w.u.alice.token).get(path).status == 200);
    CHECK(client(unitToken(w.unit_p)).get(path).status == 200);
  }
  CHECK(valuesOf(client(w.u.admin.token).get(w.history(w.secret, range))) ==
        std::vector<std::string>{"7"});
  // A Public node is readable by anyone, even without a token.
  CHECK(client().get(w.history(w.out, kHour10)).status == 200);
  CHECK(client(w.u.bob.token).get(w.aggregates(w.out, range)).status == 200);
  // An unknown node: the node route's own answer.
  const auto missing =
      client(w.u.admin.token).get(w.history("00000000-0000-4000-8000-000000000000", range));
  CHECK(missing.status == 422);
  CHECK(detail(missing).find("does not exist") != std::string::npos);
}

TEST_CASE("PATCH /unit_nodes/{uuid}: history policy fields") {
  World w;
  auto alice = client(w.u.alice.token);
  const auto path = kApi + "/unit_nodes/" + w.out;

  const auto initial = alice.get(path);
  REQUIRE(initial.status == 200);
  CHECK(initial.json()["history_policy"] == "changes");
  CHECK(initial.json()["history_deadband"].is_null());
  CHECK(initial.json()["history_retention_days"] == 30);

  const auto bad_policy = alice.patch(path, json{{"history_policy", "sometimes"}});
  CHECK(bad_policy.status == 422);
  CHECK(detail(bad_policy).find("history_policy") != std::string::npos);
  const auto bad_days = alice.patch(path, json{{"history_retention_days", 0}});
  CHECK(bad_days.status == 422);
  CHECK(detail(bad_days).find("history_retention_days") != std::string::npos);
  CHECK(alice.patch(path, json{{"history_retention_days", 3651}}).status == 422);
  const auto bad_deadband = alice.patch(path, json{{"history_deadband", -0.5}});
  CHECK(bad_deadband.status == 422);
  CHECK(detail(bad_deadband).find("history_deadband") != std::string::npos);
  CHECK(alice.patch(path, json{{"history_deadband", "big"}}).status == 422);

  const auto updated = alice.patch(
      path,
      json{{"history_policy", "all"}, {"history_deadband", 0.25}, {"history_retention_days", 7}});
  REQUIRE_MESSAGE(updated.status == 200, updated.body);
  CHECK(updated.json()["history_policy"] == "all");
  CHECK(updated.json()["history_deadband"] == 0.25);
  CHECK(updated.json()["history_retention_days"] == 7);

  // Absent fields stay; null clears the deadband.
  const auto cleared = alice.patch(path, json{{"history_deadband", nullptr}});
  REQUIRE_MESSAGE(cleared.status == 200, cleared.body);
  CHECK(cleared.json()["history_policy"] == "all");
  CHECK(cleared.json()["history_deadband"].is_null());
  CHECK(cleared.json()["history_retention_days"] == 7);
  const auto off = alice.patch(path, json{{"history_policy", "off"}});
  REQUIRE(off.status == 200);
  CHECK(off.json()["history_retention_days"] == 7);
  {
    pqxx::connection conn(stack().pg().url());
    pqxx::work tx(conn);
    const auto row = tx.exec_params1(
        "SELECT history_policy, history_deadband IS NULL, history_retention_days"
        " FROM units_nodes WHERE uuid = $1",
        w.out);
    CHECK(row[0].as<std::string>() == "off");
    CHECK(row[1].as<bool>());
    CHECK(row[2].as<int>() == 7);
  }

  // Same rule as the other fields: creator or Admin.
  CHECK(client(w.u.bob.token).patch(path, json{{"history_policy", "all"}}).status == 403);
  CHECK(client(w.u.admin.token).patch(path, json{{"history_policy", "changes"}}).status == 200);
}

TEST_CASE("log_list: filters, paging and order") {
  World w;
  auto alice = client(w.u.alice.token);
  const auto all = alice.get(w.logs());
  REQUIRE_MESSAGE(all.status == 200, all.body);
  const auto body = all.json();
  CHECK(body["count"] == 3);
  REQUIRE(body["unit_logs"].size() == 3);
  const auto& first = body["unit_logs"][0];
  CHECK(first["level"] == "Info");
  CHECK(first["text"] == "boot");
  CHECK(first["create_datetime"] == "2025-01-10T10:00:00");
  CHECK(first["expiration_datetime"] == "2030-01-01T00:00:00");
  CHECK(first["unit_uuid"] == w.unit_a);
  CHECK(first["uuid"].get<std::string>().size() == 36);

  const auto levels = alice.get(w.logs("&level=Error&level=Debug"));
  REQUIRE(levels.status == 200);
  CHECK(levels.json()["count"] == 2);
  CHECK(levels.json()["unit_logs"][0]["text"] == "sensor lost");
  CHECK(levels.json()["unit_logs"][1]["text"] == "tick");

  const auto ranged = alice.get(w.logs("&from=2025-01-10T10:05:00Z&to=2025-01-10T10:20:00Z"));
  REQUIRE(ranged.status == 200);
  CHECK(ranged.json()["count"] == 1);
  CHECK(ranged.json()["unit_logs"][0]["level"] == "Error");

  const auto paged = alice.get(w.logs("&offset=1&limit=1"));
  REQUIRE(paged.status == 200);
  CHECK(paged.json()["count"] == 3);
  REQUIRE(paged.json()["unit_logs"].size() == 1);
  CHECK(paged.json()["unit_logs"][0]["text"] == "sensor lost");

  CHECK(alice.get(w.logs("&level=Verbose")).status == 422);
  CHECK(alice.get(kApi + "/units/log_list/").status == 422);
  CHECK(alice.get(kApi + "/units/log_list/?uuid=00000000-0000-4000-8000-000000000000").status ==
        422);
}

TEST_CASE("log_list: only the creator, an Admin or the Unit itself") {
  World w;
  CHECK(client(w.u.admin.token).get(w.logs()).status == 200);
  const auto self = client(unitToken(w.unit_a)).get(w.logs());
  REQUIRE(self.status == 200);
  CHECK(self.json()["count"] == 3);
  // Unit A is Public, yet neither another user, another Unit nor anonymous reads its logs.
  CHECK(client(w.u.bob.token).get(w.logs()).status == 403);
  CHECK(client(unitToken(w.unit_p)).get(w.logs()).status == 403);
  CHECK(client().get(w.logs()).status == 403);
}
