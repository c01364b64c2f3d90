// The backend refuses to start on bad configuration with one line naming the variable, and its
// `migrate` and `gen-secrets` subcommands work against a real database.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include "crypto/base64.hpp"
#include "integration/harness/backend_process.hpp"
#include "integration/harness/postgres_server.hpp"
#include "integration/harness/temp_dir.hpp"

using namespace std::chrono_literals;
using pepeunit::testing::BackendProcess;

namespace {

std::map<std::string, std::string> goodEnv(const std::string& db_url) {
  return {
      {"BACKEND_DOMAIN", "127.0.0.1"},
      {"BACKEND_SECURE", "false"},
      {"BACKEND_SECRET_KEY", "test-secret-key-0123456789abcdef"},
      {"BACKEND_ENCRYPT_KEY", pepeunit::crypto::base64Encode(std::string(32, 'k'))},
      {"BACKEND_STATIC_SALT", "salt"},
      {"DATABASE_URL", db_url},
      {"BACKEND_MIGRATIONS_DIR", PEPEUNIT_SOURCE_DIR "/schemas/sql"},
  };
}

int countLines(const std::string& s) {
  int n = 0;
  for (char c : s)
    n += c == '\n';
  return n + (!s.empty() && s.back() != '\n');
}

}  // namespace

TEST_CASE("backend: refuses to start on bad configuration, naming the variable") {
  const std::string bin = PEPEUNIT_BACKEND_BIN;
  struct Case {
    std::string key;
    std::string value;  // empty = unset
  };
  const std::vector<Case> cases = {
      {"BACKEND_ENCRYPT_KEY", "c2hvcnQ="},  // base64 of 5 bytes
      {"BACKEND_ENCRYPT_KEY", ""},
      {"BACKEND_SECRET_KEY", ""},
      {"BACKEND_DOMAIN", ""},
      {"DATABASE_URL", ""},
      {"MQTT_PORT", "not-a-port"},
      {"BACKEND_HTTP_PORT", "99999"},
      {"REDIS_URL", "memcached://x"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.key);
    CAPTURE(c.value);
    auto env = goodEnv("postgresql://postgres@127.0.0.1:1/none");
    // An empty value in the child env is treated as unset by the loader.
    env[c.key] = c.value;
    const auto result = BackendProcess::runOnce({bin, "serve"}, env, 20s);
    CHECK(result.exit_code != 0);
    CHECK(result.output.find(c.key) != std::string::npos);
    CHECK(countLines(result.output) == 1);
    // Secrets never appear in the error line.
    CHECK(result.output.find("test-secret-key") == std::string::npos);
  }
}

TEST_CASE("backend: migrate applies migrations once; gen-secrets prints valid secrets") {
  pepeunit::testing::TempDir dir;
  pepeunit::testing::PostgresServer pg(dir.path() / "pg");
  pg.start();
  const std::string bin = PEPEUNIT_BACKEND_BIN;

  const auto first = BackendProcess::runOnce({bin, "migrate"}, goodEnv(pg.url()), 60s);
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  const auto second = BackendProcess::runOnce({bin, "migrate"}, goodEnv(pg.url()), 60s);
  INFO(second.output);
  REQUIRE(second.exit_code == 0);
  CHECK(second.output.find("up to date") != std::string::npos);
  pqxx::connection db(pg.url());
  pqxx::work tx(db);
  CHECK(tx.exec1("SELECT count(*) FROM schema_migrations")[0].as<int>() >= 1);

  const auto secrets = BackendProcess::runOnce({bin, "gen-secrets"}, {}, 20s);
  REQUIRE(secrets.exit_code == 0);
  std::map<std::string, std::string> kv;
  std::istringstream lines(secrets.output);
  for (std::string line; std::getline(lines, line);) {
    const auto eq = line.find('=');
    if (eq != std::string::npos)
      kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  REQUIRE(kv.count("BACKEND_ENCRYPT_KEY"));
  const auto key = pepeunit::crypto::base64Decode(kv["BACKEND_ENCRYPT_KEY"]);
  REQUIRE(key);
  CHECK(key->size() == 32);
  CHECK(kv["BACKEND_SECRET_KEY"].size() >= 32);
  CHECK(kv["BACKEND_STATIC_SALT"].size() >= 16);
  CHECK(kv["BACKEND_PLUGIN_TOKEN"].size() >= 32);
  CHECK(kv["BACKEND_PLUGIN_TOKEN"] != kv["BACKEND_SECRET_KEY"]);
}
