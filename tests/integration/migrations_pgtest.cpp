// The E3 schema, the migration runner and the connection pool against a real PostgreSQL 15:
// what the migrations create and enforce, forward-only bookkeeping, the advisory lock, and the
// pool's checkout, exhaustion, reconnect and health ping across a server restart.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <latch>
#include <map>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "common/errors.hpp"
#include "integration/harness/postgres_server.hpp"
#include "integration/harness/temp_dir.hpp"
#include "integration/harness/wait.hpp"
#include "store/pg/errors.hpp"
#include "store/pg/migrator.hpp"
#include "store/pg/pool.hpp"

using namespace std::chrono_literals;
using pepeunit::ErrorKind;
using pepeunit::Unavailable;
using pepeunit::store::pg::MigrationError;
using pepeunit::store::pg::Migrator;
using pepeunit::store::pg::Pool;

namespace {

std::filesystem::path migrationsDir() {
  return PEPEUNIT_SOURCE_DIR "/schemas/sql";
}

// One server for the whole binary; every test case works in a database of its own.
struct Env {
  pepeunit::testing::TempDir dir;
  pepeunit::testing::PostgresServer pg{dir.path() / "pg"};
  Env() { pg.start(); }
};

Env& env() {
  static Env instance;
  return instance;
}

// doctest re-runs a test case once per SUBCASE, so every call gets a new database.
std::string freshDatabase(const std::string& name) {
  static int counter = 0;
  const std::string unique = name + "_" + std::to_string(++counter);
  env().pg.createDatabase(unique);
  return env().pg.url(unique);
}

/// Every migration version the project ships, in order.
std::vector<int> allVersions() {
  std::vector<int> versions;
  for (const auto& m : Migrator(migrationsDir()).load())
    versions.push_back(m.version);
  return versions;
}

/// A database holding exactly the E3 data model (migration 0001): what the shape, constraint
/// and cascade tests below describe. Later migrations have their own tests.
std::string migratedDatabase(const std::string& name) {
  std::string url = freshDatabase(name);
  pqxx::connection conn(url);
  static pepeunit::testing::TempDir e3_only;
  static const auto e3_dir = [] {
    std::filesystem::create_directories(e3_only.path() / "sql");
    std::filesystem::copy_file(migrationsDir() / "0001_e3_data_model.sql",
                               e3_only.path() / "sql" / "0001_e3_data_model.sql");
    return e3_only.path() / "sql";
  }();
  REQUIRE(Migrator(e3_dir).run(conn) == std::vector<int>{1});
  return url;
}

/// A database with every migration the project ships.
std::string fullyMigratedDatabase(const std::string& name) {
  std::string url = freshDatabase(name);
  pqxx::connection conn(url);
  REQUIRE(Migrator(migrationsDir()).run(conn) == allVersions());
  return url;
}

template <class... Args>
long long count(pqxx::connection& conn, const std::string& sql, Args&&... args) {
  pqxx::nontransaction txn(conn);
  const pqxx::row row = txn.exec_params1(sql, std::forward<Args>(args)...);
  return row[0].as<long long>();
}

template <class... Args>
void exec(pqxx::connection& conn, const std::string& sql, Args&&... args) {
  pqxx::work txn(conn);
  txn.exec_params(sql, std::forward<Args>(args)...);
  txn.commit();
}

void writeFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

std::string readText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A copy of schemas/sql the test may change.
/// A directory holding only the first migration: the forward-only tests add their own numbered
/// files next to it, which must not collide with the project's later migrations.
std::filesystem::path copyOfMigrations(const std::filesystem::path& where) {
  std::filesystem::create_directories(where);
  std::filesystem::copy_file(migrationsDir() / "0001_e3_data_model.sql",
                             where / "0001_e3_data_model.sql");
  return where;
}

constexpr const char* kAlice = "00000000-0000-4000-8000-00000000000a";
constexpr const char* kBob = "00000000-0000-4000-8000-00000000000b";
constexpr const char* kCarol = "00000000-0000-4000-8000-00000000000c";
constexpr const char* kRepo = "00000000-0000-4000-8000-0000000000a1";
constexpr const char* kUnit = "00000000-0000-4000-8000-0000000000b1";
constexpr const char* kOtherUnit = "00000000-0000-4000-8000-0000000000b2";
constexpr const char* kOut = "00000000-0000-4000-8000-0000000000c1";
constexpr const char* kIn = "00000000-0000-4000-8000-0000000000c2";

void insertUser(pqxx::connection& conn, const char* uuid, const char* login,
                const char* role = "User") {
  exec(conn,
       "INSERT INTO users (uuid, role, status, login, hashed_password, cipher_dynamic_salt) "
       "VALUES ($1, $2, 'Unverified', $3, 'h', 's')",
       uuid, role, login);
}

// A permissions row with these types and typed foreign keys (nullptr = NULL).
void insertPermission(pqxx::connection& conn, const char* agent_type, const char* agent_user,
                      const char* agent_unit, const char* resource_type, const char* repo,
                      const char* unit, const char* node) {
  pqxx::work txn(conn);
  txn.exec_params(
      "INSERT INTO permissions (agent_type, agent_user_uuid, agent_unit_uuid, resource_type, "
      "resource_repo_uuid, resource_unit_uuid, resource_unit_node_uuid) "
      "VALUES ($1, $2::uuid, $3::uuid, $4, $5::uuid, $6::uuid, $7::uuid)",
      agent_type, agent_user, agent_unit, resource_type, repo, unit, node);
  txn.commit();
}

// Alice owns a repo, two units, an Output node on one and an Input node on the other, an edge
// between them and the grants E3 creates for all that; Bob holds a grant on Alice's unit.
void seedAliceWorld(pqxx::connection& conn) {
  insertUser(conn, kAlice, "alice");
  insertUser(conn, kBob, "bob");
  exec(conn,
       "INSERT INTO repos (uuid, name, repo_url, creator_uuid) "
       "VALUES ($1, 'repo1', 'https://git.example/r.git', $2)",
       kRepo, kAlice);
  for (const auto& [uuid, name] : {std::pair{kUnit, "unit1"}, std::pair{kOtherUnit, "unit2"}}) {
    exec(conn, "INSERT INTO units (uuid, name, creator_uuid, repo_uuid) VALUES ($1, $2, $3, $4)",
         uuid, name, kAlice, kRepo);
  }
  const std::string node =
      "INSERT INTO units_nodes (uuid, type, visibility_level, topic_name, creator_uuid, unit_uuid) "
      "VALUES ($1, $2, 'Public', $3, $4, $5)";
  exec(conn, node, kOut, "Output", "temp/pepeunit", kAlice, kUnit);
  exec(conn, node, kIn, "Input", "set/pepeunit", kAlice, kOtherUnit);
  exec(conn,
       "INSERT INTO units_nodes_edges (node_output_uuid, node_input_uuid, creator_uuid) "
       "VALUES ($1, $2, $3)",
       kOut, kIn, kAlice);
  insertPermission(conn, "User", kAlice, nullptr, "Repo", kRepo, nullptr, nullptr);
  insertPermission(conn, "User", kAlice, nullptr, "Unit", nullptr, kUnit, nullptr);
  insertPermission(conn, "Unit", nullptr, kUnit, "Unit", nullptr, kUnit, nullptr);
  insertPermission(conn, "Unit", nullptr, kUnit, "UnitNode", nullptr, nullptr, kIn);
  insertPermission(conn, "User", kBob, nullptr, "Unit", nullptr, kUnit, nullptr);
}

}  // namespace

TEST_CASE("migrations: a fresh database gets the six E3 tables with their exact columns") {
  const std::string url = migratedDatabase("fresh_columns");
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);

  std::set<std::string> tables;
  for (const auto& row : txn.exec("SELECT table_name FROM information_schema.tables "
                                  "WHERE table_schema = 'public'")) {
    tables.insert(row[0].as<std::string>());
  }
  CHECK(tables == std::set<std::string>{"users", "repos", "units", "units_nodes",
                                        "units_nodes_edges", "permissions", "schema_migrations"});

  // (table, column) -> (type, nullable): spec §1.1-1.6 plus permissions.valid_until and the
  // generated agent_uuid/resource_uuid.
  using Column = std::tuple<std::string, std::string>;
  std::map<Column, std::tuple<std::string, bool>> expected;
  const auto add = [&](const std::string& table, const std::string& column, const std::string& type,
                       bool nullable) {
    expected[{table, column}] = {type, nullable};
  };
  const std::string ts = "timestamp without time zone";
  add("users", "uuid", "uuid", false);
  add("users", "role", "text", false);
  add("users", "status", "text", false);
  add("users", "login", "text", false);
  add("users", "telegram_chat_id", "text", true);
  add("users", "hashed_password", "text", false);
  add("users", "cipher_dynamic_salt", "text", false);
  add("users", "create_datetime", ts, false);
  add("repos", "uuid", "uuid", false);
  add("repos", "visibility_level", "text", false);
  add("repos", "name", "text", false);
  add("repos", "create_datetime", ts, false);
  add("repos", "last_update_datetime", ts, false);
  add("repos", "repo_url", "text", false);
  add("repos", "platform", "text", false);
  add("repos", "is_public_repository", "boolean", false);
  add("repos", "cipher_credentials_private_repository", "text", true);
  add("repos", "default_branch", "text", true);
  add("repos", "is_compilable_repo", "boolean", false);
  add("repos", "releases_data", "text", true);
  add("repos", "is_auto_update_repo", "boolean", false);
  add("repos", "default_commit", "text", true);
  add("repos", "is_only_tag_update", "boolean", false);
  add("repos", "creator_uuid", "uuid", true);
  add("units", "uuid", "uuid", false);
  add("units", "visibility_level", "text", false);
  add("units", "name", "text", false);
  add("units", "create_datetime", ts, false);
  add("units", "last_update_datetime", ts, false);
  add("units", "is_auto_update_from_repo_unit", "boolean", false);
  add("units", "target_firmware_platform", "text", true);
  add("units", "repo_branch", "text", true);
  add("units", "repo_commit", "text", true);
  add("units", "unit_state_dict", "text", true);
  add("units", "current_commit_version", "text", true);
  add("units", "cipher_env_dict", "text", true);
  add("units", "cipher_state_storage", "text", true);
  add("units", "firmware_update_status", "text", true);
  add("units", "firmware_update_error", "text", true);
  add("units", "last_firmware_update_datetime", ts, true);
  add("units", "creator_uuid", "uuid", true);
  add("units", "repo_uuid", "uuid", true);
  add("units_nodes", "uuid", "uuid", false);
  add("units_nodes", "type", "text", false);
  add("units_nodes", "visibility_level", "text", false);
  add("units_nodes", "is_rewritable_input", "boolean", false);
  add("units_nodes", "topic_name", "text", false);
  add("units_nodes", "create_datetime", ts, false);
  add("units_nodes", "state", "text", true);
  add("units_nodes", "last_update_datetime", ts, false);
  add("units_nodes", "creator_uuid", "uuid", true);
  add("units_nodes", "unit_uuid", "uuid", true);
  add("units_nodes_edges", "uuid", "uuid", false);
  add("units_nodes_edges", "node_output_uuid", "uuid", false);
  add("units_nodes_edges", "node_input_uuid", "uuid", false);
  add("units_nodes_edges", "creator_uuid", "uuid", true);
  add("permissions", "uuid", "uuid", false);
  add("permissions", "agent_type", "text", false);
  add("permissions", "agent_user_uuid", "uuid", true);
  add("permissions", "agent_unit_uuid", "uuid", true);
  add("permissions", "resource_type", "text", false);
  add("permissions", "resource_repo_uuid", "uuid", true);
  add("permissions", "resource_unit_uuid", "uuid", true);
  add("permissions", "resource_unit_node_uuid", "uuid", true);
  add("permissions", "valid_until", ts, true);
  add("permissions", "agent_uuid", "uuid", true);
  add("permissions", "resource_uuid", "uuid", true);

  std::map<Column, std::tuple<std::string, bool>> actual;
  for (const auto& row : txn.exec("SELECT table_name, column_name, data_type, is_nullable "
                                  "FROM information_schema.columns WHERE table_schema = 'public' "
                                  "AND table_name <> 'schema_migrations'")) {
    actual[{row[0].as<std::string>(), row[1].as<std::string>()}] = {
        row[2].as<std::string>(), row[3].as<std::string>() == "YES"};
  }
  for (const auto& entry : expected) {
    const Column& column = entry.first;
    INFO(std::get<0>(column) << "." << std::get<1>(column));
    REQUIRE(actual.count(column) == 1);
    CHECK(actual[column] == entry.second);
  }
  CHECK(actual.size() == expected.size());

  // Spec defaults.
  const auto column_default = [&](const std::string& table, const std::string& column) {
    return txn
        .exec1(
            "SELECT coalesce(column_default, '') FROM information_schema.columns "
            "WHERE table_name = " +
            txn.quote(table) + " AND column_name = " + txn.quote(column))[0]
        .as<std::string>();
  };
  CHECK(column_default("repos", "visibility_level") == "'Public'::text");
  CHECK(column_default("repos", "platform") == "'Gitlab'::text");
  CHECK(column_default("repos", "is_public_repository") == "true");
  CHECK(column_default("repos", "is_compilable_repo") == "false");
  CHECK(column_default("repos", "is_auto_update_repo") == "true");
  CHECK(column_default("repos", "is_only_tag_update") == "false");
  CHECK(column_default("units", "visibility_level") == "'Public'::text");
  CHECK(column_default("units", "is_auto_update_from_repo_unit") == "true");
  CHECK(column_default("units_nodes", "is_rewritable_input") == "false");
}

TEST_CASE("migrations: unique keys and cascading foreign keys are declared") {
  const std::string url = migratedDatabase("fresh_constraints");
  pqxx::connection conn(url);
  pqxx::nontransaction txn(conn);

  std::map<std::string, std::string> unique_keys;
  for (const auto& row :
       txn.exec("SELECT c.conname, string_agg(a.attname, ',' ORDER BY k.n) FROM pg_constraint c "
                "CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, n) "
                "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
                "WHERE c.contype = 'u' AND c.connamespace = 'public'::regnamespace GROUP BY "
                "c.conname")) {
    unique_keys[row[0].as<std::string>()] = row[1].as<std::string>();
  }
  CHECK(unique_keys == std::map<std::string, std::string>{
                           {"users_login_key", "login"},
                           {"users_telegram_chat_id_key", "telegram_chat_id"},
                           {"repos_name_key", "name"},
                           {"units_name_key", "name"},
                           {"units_nodes_edges_pair_key", "node_output_uuid,node_input_uuid"},
                           {"permissions_agent_resource_key", "agent_uuid,resource_uuid"}});

  // Every foreign key cascades on delete: 2 in units, 1 in repos, 2 in units_nodes, 3 in edges,
  // 5 in permissions.
  CHECK(txn.exec1("SELECT count(*) FROM pg_constraint WHERE connamespace = 'public'::regnamespace "
                  "AND contype = 'f'")[0]
            .as<int>() == 13);
  CHECK(txn.exec1("SELECT count(*) FROM pg_constraint WHERE connamespace = 'public'::regnamespace "
                  "AND contype = 'f' AND confdeltype <> 'c'")[0]
            .as<int>() == 0);

  // The list filters of spec §2 have indexes.
  std::set<std::string> indexes;
  for (const auto& row : txn.exec("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")) {
    indexes.insert(row[0].as<std::string>());
  }
  for (const char* name :
       {"repos_creator_uuid_idx", "repos_visibility_level_idx", "repos_create_datetime_idx",
        "repos_last_update_datetime_idx", "units_creator_uuid_idx", "units_repo_uuid_idx",
        "units_visibility_level_idx", "units_create_datetime_idx", "units_last_update_datetime_idx",
        "units_nodes_unit_type_topic_idx", "units_nodes_edges_node_input_uuid_idx",
        "permissions_resource_agent_type_idx", "permissions_agent_user_uuid_idx"}) {
    CHECK_MESSAGE(indexes.count(name) == 1, name);
  }
}

TEST_CASE("migrations: the schema enforces uniqueness, enum values and permission shape") {
  const std::string url = migratedDatabase("rules");
  pqxx::connection conn(url);
  seedAliceWorld(conn);

  SUBCASE("a duplicate login is rejected and translates to the caller's conflict error") {
    CHECK_THROWS_AS(insertUser(conn, kCarol, "alice"), pqxx::unique_violation);
    try {
      pepeunit::store::pg::translateErrors([&] { insertUser(conn, kCarol, "alice"); },
                                           {ErrorKind::kUserValidation, "Login is busy"});
      FAIL("expected a conflict");
    } catch (const pepeunit::Error& e) {
      CHECK(e.kind() == ErrorKind::kUserValidation);
      CHECK(std::string(e.what()) == "Login is busy");
      CHECK(e.internal() == "unique violation: users_login_key");
    }
  }
  SUBCASE("a duplicate telegram_chat_id is rejected") {
    exec(conn, "UPDATE users SET telegram_chat_id = '42' WHERE uuid = $1", kAlice);
    CHECK_THROWS_AS(exec(conn, "UPDATE users SET telegram_chat_id = '42' WHERE uuid = $1", kBob),
                    pqxx::unique_violation);
  }
  SUBCASE("values outside the §1.8 enums are rejected") {
    CHECK_THROWS_AS(insertUser(conn, kCarol, "botty", "Bot"), pqxx::check_violation);
    CHECK_THROWS_AS(exec(conn, "UPDATE users SET status = 'Banned' WHERE uuid = $1", kAlice),
                    pqxx::check_violation);
    CHECK_THROWS_AS(exec(conn, "UPDATE repos SET visibility_level = 'Secret'"),
                    pqxx::check_violation);
    CHECK_THROWS_AS(exec(conn, "UPDATE repos SET platform = 'Bitbucket'"), pqxx::check_violation);
    CHECK_THROWS_AS(exec(conn, "UPDATE units SET firmware_update_status = 'Done'"),
                    pqxx::check_violation);
    CHECK_THROWS_AS(exec(conn, "UPDATE units_nodes SET type = 'Both' WHERE uuid = $1", kIn),
                    pqxx::check_violation);
    CHECK_THROWS_AS(
        exec(conn, "UPDATE units_nodes SET is_rewritable_input = true WHERE uuid = $1", kOut),
        pqxx::check_violation);
    // The legal values pass.
    exec(conn, "UPDATE units SET firmware_update_status = 'RequestSent'");
    exec(conn, "UPDATE units_nodes SET is_rewritable_input = true WHERE uuid = $1", kIn);
    exec(conn, "UPDATE repos SET platform = 'Github', visibility_level = 'Private'");
  }
  SUBCASE("a permission names exactly one agent and one resource of its declared types") {
    // Agent FK does not match agent_type; two agents.
    CHECK_THROWS_AS(insertPermission(conn, "Unit", kBob, nullptr, "Repo", kRepo, nullptr, nullptr),
                    pqxx::check_violation);
    CHECK_THROWS_AS(insertPermission(conn, "User", kBob, kUnit, "Repo", kRepo, nullptr, nullptr),
                    pqxx::check_violation);
    // No resource; two resources.
    CHECK_THROWS_AS(
        insertPermission(conn, "User", kBob, nullptr, "Repo", nullptr, nullptr, nullptr),
        pqxx::check_violation);
    CHECK_THROWS_AS(insertPermission(conn, "User", kBob, nullptr, "Repo", kRepo, kUnit, nullptr),
                    pqxx::check_violation);
    // Resource FK does not match resource_type; a type that is no resource.
    CHECK_THROWS_AS(insertPermission(conn, "User", kBob, nullptr, "Unit", kRepo, nullptr, nullptr),
                    pqxx::check_violation);
    CHECK_THROWS_AS(insertPermission(conn, "User", kBob, nullptr, "User", kRepo, nullptr, nullptr),
                    pqxx::check_violation);
    // The same (agent, resource) twice.
    CHECK_THROWS_AS(insertPermission(conn, "User", kBob, nullptr, "Unit", nullptr, kUnit, nullptr),
                    pqxx::unique_violation);
    // A well-formed, time-limited grant; the generated columns give the API's view of it.
    exec(
        conn,
        "INSERT INTO permissions (agent_type, agent_user_uuid, resource_type, resource_repo_uuid, "
        "valid_until) VALUES ('User', $1, 'Repo', $2, now() AT TIME ZONE 'UTC' + interval '1 day')",
        kBob, kRepo);
    CHECK(count(conn,
                "SELECT count(*) FROM permissions WHERE agent_uuid = $1 AND resource_uuid = $2 "
                "AND valid_until IS NOT NULL",
                kBob, kRepo) == 1);
  }
  SUBCASE("an edge links one output to one input once") {
    CHECK_THROWS_AS(exec(conn,
                         "INSERT INTO units_nodes_edges (node_output_uuid, node_input_uuid) "
                         "VALUES ($1, $2)",
                         kOut, kIn),
                    pqxx::unique_violation);
  }
  SUBCASE("deleting a unit cascades to its nodes, their edges and every grant naming them") {
    exec(conn, "DELETE FROM units WHERE uuid = $1", kUnit);
    CHECK(count(conn, "SELECT count(*) FROM units_nodes WHERE uuid = $1", kOut) == 0);
    CHECK(count(conn, "SELECT count(*) FROM units_nodes_edges") == 0);
    // Left: Alice -> repo. Gone: Alice -> unit, unit -> itself, unit -> input, Bob -> unit.
    CHECK(count(conn, "SELECT count(*) FROM permissions") == 1);
  }
  SUBCASE("deleting a user cascades to everything they created and every grant they hold") {
    exec(conn, "DELETE FROM users WHERE uuid = $1", kAlice);
    for (const char* table :
         {"repos", "units", "units_nodes", "units_nodes_edges", "permissions"}) {
      INFO(table);
      CHECK(count(conn, std::string("SELECT count(*) FROM ") + table) == 0);
    }
    CHECK(count(conn, "SELECT count(*) FROM users") == 1);  // Bob
  }
}

TEST_CASE("migrations: running again is a no-op") {
  const std::string url = fullyMigratedDatabase("rerun");
  pqxx::connection conn(url);
  const auto before = count(conn, "SELECT count(*) FROM schema_migrations");
  CHECK(before == static_cast<long long>(allVersions().size()));
  CHECK(Migrator(migrationsDir()).run(conn).empty());
  CHECK(Migrator(migrationsDir()).run(conn).empty());
  CHECK(count(conn, "SELECT count(*) FROM schema_migrations") == before);
  pqxx::nontransaction txn(conn);
  const auto row =
      txn.exec1("SELECT version, name, checksum FROM schema_migrations WHERE version = 1");
  CHECK(row[0].as<int>() == 1);
  CHECK(row[1].as<std::string>() == "0001_e3_data_model.sql");
  CHECK(row[2].as<std::string>() ==
        pepeunit::store::pg::sha256Hex(readText(migrationsDir() / "0001_e3_data_model.sql")));
}

TEST_CASE("migrations: forward-only history is enforced") {
  pepeunit::testing::TempDir tmp;
  const auto dir = copyOfMigrations(tmp.path() / "sql");
  pqxx::connection conn(freshDatabase("forward_only"));
  REQUIRE(Migrator(dir).run(conn) == std::vector<int>{1});

  SUBCASE("a new file is applied after the old ones, in its own transaction") {
    writeFile(dir / "0002_add_note.sql", "ALTER TABLE units ADD COLUMN note text;");
    writeFile(dir / "0003_add_flag.sql", "ALTER TABLE repos ADD COLUMN flag boolean;");
    CHECK(Migrator(dir).run(conn) == std::vector<int>{2, 3});
    CHECK(count(conn,
                "SELECT count(*) FROM information_schema.columns WHERE "
                "(table_name, column_name) IN (('units', 'note'), ('repos', 'flag'))") == 2);

    // A failing file leaves nothing behind, neither its DDL nor its bookkeeping row.
    writeFile(dir / "0004_broken.sql",
              "ALTER TABLE units ADD COLUMN half text; SELECT * FROM no_such_table;");
    CHECK_THROWS_WITH_AS(Migrator(dir).run(conn),
                         doctest::Contains("migration 0004_broken.sql failed"), MigrationError);
    CHECK(count(conn,
                "SELECT count(*) FROM information_schema.columns WHERE column_name = "
                "'half'") == 0);
    CHECK(count(conn, "SELECT max(version) FROM schema_migrations") == 3);
  }
  SUBCASE("an applied file whose content changed is refused") {
    writeFile(dir / "0001_e3_data_model.sql",
              readText(dir / "0001_e3_data_model.sql") + "\n-- edited\n");
    CHECK_THROWS_WITH_AS(
        Migrator(dir).run(conn),
        doctest::Contains("migration 0001_e3_data_model.sql was edited after it was applied"),
        MigrationError);
  }
  SUBCASE("an applied file that was renamed is refused") {
    std::filesystem::rename(dir / "0001_e3_data_model.sql", dir / "0001_renamed.sql");
    CHECK_THROWS_WITH_AS(Migrator(dir).run(conn),
                         doctest::Contains("was applied as 0001_e3_data_model.sql"),
                         MigrationError);
  }
  SUBCASE("a file numbered below the newest applied one is refused") {
    writeFile(dir / "0005_late.sql", "SELECT 1;");
    CHECK(Migrator(dir).run(conn) == std::vector<int>{5});
    writeFile(dir / "0004_forgotten.sql", "SELECT 1;");
    CHECK_THROWS_WITH_AS(Migrator(dir).run(conn),
                         doctest::Contains("0004_forgotten.sql is older than the newest applied"),
                         MigrationError);
  }
  SUBCASE("badly named and duplicate files are rejected before touching the database") {
    for (const char* bad : {"2_short.sql", "0002-dash.sql", "0002_Upper.sql", "0002_x.SQL",
                            "00002_five.sql", "0002_.sql"}) {
      INFO(bad);
      writeFile(dir / bad, "SELECT 1;");
      CHECK_THROWS_WITH_AS(Migrator(dir).load(), doctest::Contains("bad migration file name"),
                           MigrationError);
      std::filesystem::remove(dir / bad);
    }
    writeFile(dir / "README.md", "not a migration");  // other files are ignored
    writeFile(dir / "0002_a.sql", "SELECT 1;");
    writeFile(dir / "0002_b.sql", "SELECT 1;");
    CHECK_THROWS_WITH_AS(Migrator(dir).run(conn), doctest::Contains("share version 0002"),
                         MigrationError);
    CHECK(count(conn, "SELECT count(*) FROM schema_migrations") == 1);
  }
}

TEST_CASE("migrations: two instances migrating at once apply each file once") {
  const std::string url = freshDatabase("concurrent");
  std::vector<int> results[2];
  std::string errors[2];
  std::latch start(2);
  std::vector<std::thread> threads;
  threads.reserve(2);
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      try {
        pqxx::connection conn(url);
        start.arrive_and_wait();
        results[i] = Migrator(migrationsDir()).run(conn);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  CHECK(errors[0] == "");
  CHECK(errors[1] == "");
  std::vector<std::vector<int>> got{results[0], results[1]};
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::vector<int>>{{}, allVersions()});
  pqxx::connection conn(url);
  CHECK(count(conn, "SELECT count(*) FROM schema_migrations") ==
        static_cast<long long>(allVersions().size()));
}

TEST_CASE("pool: leases are exclusive, returned on scope exit, and time out as Unavailable") {
  Pool pool(migratedDatabase("pool_basic"), 2);
  CHECK(pool.capacity() == 2);
  CHECK(pool.idleCount() == 0);  // lazy
  {
    Pool::Lease a = pool.acquire(1s);
    Pool::Lease b = pool.acquire(1s);
    pqxx::nontransaction ta(*a);
    pqxx::nontransaction tb(*b);
    CHECK(ta.exec1("SELECT pg_backend_pid()")[0].as<int>() !=
          tb.exec1("SELECT pg_backend_pid()")[0].as<int>());
    const auto started = std::chrono::steady_clock::now();
    try {
      pool.acquire(150ms);
      FAIL("expected Unavailable");
    } catch (const Unavailable& e) {
      CHECK(std::string(e.what()) == "Database is unavailable");
      CHECK(e.internal().find("stayed busy for 150 ms") != std::string::npos);
    }
    CHECK(std::chrono::steady_clock::now() - started >= 150ms);
  }
  CHECK(pool.idleCount() == 2);

  // A waiter gets the connection as soon as its holder lets go.
  {
    Pool::Lease a = pool.acquire(1s);
    Pool::Lease b = pool.acquire(1s);
    std::thread releaser([lease = std::move(a)]() mutable {
      std::this_thread::sleep_for(50ms);  // hold it briefly, the waiter must block meanwhile
      Pool::Lease done = std::move(lease);
    });
    Pool::Lease c = pool.acquire(5s);
    releaser.join();
    CHECK(c->is_open());
  }

  // withTransaction commits on return, rolls back on throw, and returns the connection.
  CHECK(pool.withTransaction([](pqxx::work& txn) {
    txn.exec(
        "INSERT INTO users (role, status, login, hashed_password, cipher_dynamic_salt) "
        "VALUES ('Admin', 'Verified', 'admin', 'h', 's')");
    return 42;
  }) == 42);
  CHECK_THROWS_AS(pool.withTransaction([](pqxx::work& txn) {
    txn.exec(
        "INSERT INTO users (role, status, login, hashed_password, cipher_dynamic_salt) "
        "VALUES ('User', 'Verified', 'ghost', 'h', 's')");
    throw std::runtime_error("changed my mind");
  }),
                  std::runtime_error);
  CHECK(pool.withTransaction([](pqxx::work& txn) {
    return txn.exec1("SELECT string_agg(login, ',') FROM users")[0].as<std::string>();
  }) == "admin");
  CHECK_THROWS_AS(pool.withTransaction([](pqxx::work& txn) {
    txn.exec(
        "INSERT INTO users (role, status, login, hashed_password, cipher_dynamic_salt) "
        "VALUES ('User', 'Verified', 'admin', 'h', 's')");
  }),
                  pqxx::unique_violation);
  CHECK(pool.idleCount() == 2);
}

TEST_CASE("pool: many threads share a small pool safely") {
  const std::string url = migratedDatabase("pool_threads");
  Pool pool(url, 3);
  constexpr int kThreads = 8;
  constexpr int kEach = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        try {
          pool.withTransaction(
              [&](pqxx::work& txn) {
                txn.exec_params(
                    "INSERT INTO users (role, status, login, hashed_password, "
                    "cipher_dynamic_salt) VALUES ('User', 'Unverified', $1, 'h', 's')",
                    "u" + std::to_string(t) + "_" + std::to_string(i));
              },
              10s);
        } catch (const std::exception&) {
          ++failures;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  CHECK(failures == 0);
  pqxx::connection conn(url);
  CHECK(count(conn, "SELECT count(*) FROM users") == kThreads * kEach);
  CHECK(pool.idleCount() <= 3);
}

TEST_CASE("pool: connect failures are Unavailable and never show the password") {
  const int closed_port = pepeunit::testing::freePort();
  for (const std::string& dsn :
       {"postgresql://postgres:s3cretpw@127.0.0.1:" + std::to_string(closed_port) + "/x",
        "host=127.0.0.1 port=" + std::to_string(closed_port) + " user=postgres password=s3cretpw",
        // libpq quotes the bad token of a malformed URL in its error.
        std::string("postgresql://postgres:s3cretpw%zz@127.0.0.1:1/x")}) {
    Pool pool(dsn, 1);
    INFO(pool.redactedDsn());
    CHECK(pool.redactedDsn().find("s3cretpw") == std::string::npos);
    try {
      pool.acquire(1s);
      FAIL("expected Unavailable");
    } catch (const Unavailable& e) {
      INFO(e.internal());
      CHECK(std::string(e.what()) == "Database is unavailable");
      CHECK(e.internal().find("s3cretpw") == std::string::npos);
      CHECK(e.internal().find("cannot connect to") != std::string::npos);
    }
    CHECK_FALSE(pool.ping(1s));
    // The failed connect gave its slot back: the next attempt connects again, it does not wait.
    try {
      pool.acquire(1s);
      FAIL("expected Unavailable");
    } catch (const Unavailable& e) {
      CHECK(e.internal().find("cannot connect to") != std::string::npos);
    }
  }
}

// These restart the shared server, so they come last.
TEST_CASE("pool: connections broken by a server restart are replaced") {
  Pool pool(migratedDatabase("pool_restart"), 1);
  int first_pid = 0;
  {
    Pool::Lease lease = pool.acquire(1s);
    pqxx::nontransaction txn(*lease);
    first_pid = txn.exec1("SELECT pg_backend_pid()")[0].as<int>();
  }
  REQUIRE(pool.idleCount() == 1);

  SUBCASE("an idle connection killed by the restart is noticed at checkout") {
    env().pg.restart();
    Pool::Lease lease = pool.acquire(1s);
    pqxx::nontransaction txn(*lease);
    CHECK(txn.exec1("SELECT pg_backend_pid()")[0].as<int>() != first_pid);
  }
  SUBCASE("a leased connection that breaks is dropped and the next acquire reconnects") {
    {
      Pool::Lease lease = pool.acquire(1s);
      env().pg.restart();
      try {
        pqxx::nontransaction txn(*lease);
        txn.exec("SELECT 1");
        FAIL("expected the old session to be gone");
      } catch (const pqxx::broken_connection&) {
        lease.markBroken();
      }
    }
    CHECK(pool.idleCount() == 0);
    CHECK(pool.withTransaction([](pqxx::work& txn) {
      return txn.exec1("SELECT pg_backend_pid()")[0].as<int>();
    }) != first_pid);
    CHECK(pool.idleCount() == 1);
  }
  SUBCASE("withTransaction turns a connection lost mid-transaction into Unavailable") {
    try {
      pool.withTransaction([&](pqxx::work& txn) {
        txn.exec("SELECT 1");
        txn.exec("SELECT pg_terminate_backend(pg_backend_pid())");
      });
      FAIL("expected Unavailable");
    } catch (const Unavailable& e) {
      CHECK(std::string(e.what()) == "Database is unavailable");
    }
    CHECK(pool.idleCount() == 0);
    CHECK(pool.withTransaction(
              [](pqxx::work& txn) { return txn.exec1("SELECT 1")[0].as<int>(); }) == 1);
  }
}

TEST_CASE("pool: ping follows the server down and back up, quickly") {
  Pool pool(env().pg.url(), 2);
  CHECK(pool.ping(1s));
  env().pg.stop();
  const auto started = std::chrono::steady_clock::now();
  CHECK_FALSE(pool.ping(1s));
  CHECK(std::chrono::steady_clock::now() - started < 3s);
  env().pg.start();
  CHECK(pool.ping(1s));
}
