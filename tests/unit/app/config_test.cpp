// Config validation: every bad value names its variable.
#include "app/config.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "common/errors.hpp"

using pepeunit::ConfigError;
using pepeunit::app::EnvMap;
using pepeunit::app::loadConfig;

namespace {

EnvMap validEnv() {
  return {
      {"BACKEND_DOMAIN", "unit.example.com"},
      {"BACKEND_SECRET_KEY", "0123456789abcdef0123456789abcdef"},
      // base64 of 32 bytes 0x00..0x1f
      {"BACKEND_ENCRYPT_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="},
      {"BACKEND_STATIC_SALT", "static-salt"},
      {"DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/pepeunit"},
  };
}

std::string failingVariable(const EnvMap& env) {
  try {
    loadConfig(env);
  } catch (const ConfigError& e) {
    return e.variable();
  }
  return "";
}

}  // namespace

TEST_CASE("config: defaults follow the original backend") {
  const auto c = loadConfig(validEnv());
  CHECK(c.app_prefix == "/pepeunit");
  CHECK(c.api_v1_prefix == "/api/v1");
  CHECK(c.secure);
  CHECK(c.auth_token_expiration == 2678400);
  CHECK(c.state_send_interval == 60);
  CHECK(c.max_cipher_length == 50000);
  CHECK(c.mqtt_port == 1883);
  CHECK(c.mqtt_max_payload_size == 50000);
  CHECK(c.encrypt_key.size() == 32);
  CHECK(c.encrypt_key[31] == '\x1f');
  CHECK(c.apiBaseLink() == "https://unit.example.com/pepeunit/api/v1");
}

TEST_CASE("config: values are parsed and SQLAlchemy DSNs are accepted") {
  auto env = validEnv();
  env.erase("DATABASE_URL");
  env["SQLALCHEMY_DATABASE_URL"] = "postgresql+psycopg2://u:p@db:5432/x";
  env["BACKEND_SECURE"] = "False";
  env["MQTT_PORT"] = "8883";
  env["BACKEND_STATE_SEND_INTERVAL"] = "300";
  env["BACKEND_ACL_TTL"] = "1";
  env["BACKEND_UNIT_LOG_EXPIRATION"] = "3600";
  const auto c = loadConfig(env);
  CHECK(c.acl_ttl_s == 1);
  CHECK(c.acl_stale_ttl_s == 3600);
  CHECK(c.unit_log_expiration_s == 3600);
  CHECK(c.database_url == "postgresql://u:p@db:5432/x");
  CHECK_FALSE(c.secure);
  CHECK(c.mqtt_port == 8883);
  CHECK(c.state_send_interval == 300);
  CHECK(c.apiBaseLink() == "http://unit.example.com/pepeunit/api/v1");
}

TEST_CASE("config: each invalid value names its variable") {
  struct Case {
    const char* key;
    const char* value;  // nullptr = remove
  };
  const Case cases[] = {
      {"BACKEND_DOMAIN", nullptr},
      {"BACKEND_DOMAIN", "a/b"},
      {"BACKEND_SECRET_KEY", nullptr},
      {"BACKEND_SECRET_KEY", "short"},
      {"BACKEND_ENCRYPT_KEY", nullptr},
      {"BACKEND_ENCRYPT_KEY", "not base64!"},
      {"BACKEND_ENCRYPT_KEY", "AAECAwQFBgcICQoLDA0ODw=="},  // 16 bytes, not 32
      {"BACKEND_STATIC_SALT", nullptr},
      {"DATABASE_URL", nullptr},
      {"DATABASE_URL", "mysql://x"},
      {"REDIS_URL", "http://x"},
      {"BACKEND_SECURE", "maybe"},
      {"MQTT_PORT", "70000"},
      {"MQTT_PORT", "12ab"},
      {"BACKEND_HTTP_PORT", "-1"},
      {"BACKEND_APP_PREFIX", "pepeunit"},
      {"BACKEND_LOG_FORMAT", "xml"},
      {"BACKEND_LOG_LEVEL", "loud"},
      {"BACKEND_ACL_TTL", "0"},
      {"BACKEND_ACL_CACHE_TTL", "-1"},
      {"BACKEND_UNIT_LOG_EXPIRATION", "10"},
      {"BACKEND_ACL_STALE_TTL", "10"},  // shorter than the default 300 s ttl
  };
  for (const auto& c : cases) {
    auto env = validEnv();
    if (c.value) {
      env[c.key] = c.value;
    } else {
      env.erase(c.key);
    }
    CAPTURE(c.key);
    CHECK(failingVariable(env) == c.key);
  }
}

TEST_CASE("config: .env files are read and the environment wins") {
  char path[] = "/tmp/pepeunit-envXXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  {
    std::ofstream out(path);
    out << "# comment\nexport BACKEND_DOMAIN=from-file\nMQTT_PORT = "
           "\"1884\"\n\nREDIS_URL='redis://h:1/2'\n";
  }
  const auto file = pepeunit::app::readEnvFile(path);
  std::remove(path);
  CHECK(file.at("BACKEND_DOMAIN") == "from-file");
  CHECK(file.at("MQTT_PORT") == "1884");
  CHECK(file.at("REDIS_URL") == "redis://h:1/2");
  const auto merged = pepeunit::app::overlay(file, {{"BACKEND_DOMAIN", "from-env"}});
  CHECK(merged.at("BACKEND_DOMAIN") == "from-env");
  CHECK(merged.at("MQTT_PORT") == "1884");
  CHECK_THROWS_AS(pepeunit::app::readEnvFile("/nonexistent/.env"), ConfigError);
}
