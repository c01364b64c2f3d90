// env.json rules for both device generations: reserved-key tables, generation detection, the
// generated values (only declared keys, numbers typed as numbers), GET/PATCH/reconcile merges,
// the completeness message and the GET body encodings.
#include "domain/env_file.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/errors.hpp"

namespace pd = pepeunit::domain;
using pd::EnvJson;
using pepeunit::Error;
using pepeunit::ErrorKind;

namespace {

// Byte i of call n is (n * 16 + i) & 0xff: distinct keys on every call, reproducible.
class CountingSource : public pd::RandomSource {
 public:
  void fill(std::span<std::uint8_t> out) override {
    for (auto& b : out) {
      b = static_cast<std::uint8_t>(next_++);
    }
  }

 private:
  unsigned next_ = 0;
};

pd::InstanceFacts facts() {
  pd::InstanceFacts f;
  f.domain = "unit.example.com";
  f.secure = true;
  f.app_prefix = "/pepeunit";
  f.api_prefix = "/api/v1";
  f.mqtt_host = "mqtt.example.com";
  f.mqtt_port = 1884;
  f.ping_interval = 30;
  f.mqtt_keepalive = 60;
  f.state_send_interval = 60;
  return f;
}

// The python-unit (2024) and micropython-unit (2026) style examples.
EnvJson example2024() {
  return EnvJson::parse(R"({
  "PEPEUNIT_URL": "", "HTTP_TYPE": "", "PEPEUNIT_APP_PREFIX": "", "PEPEUNIT_API_ACTUAL_PREFIX": "",
  "MQTT_URL": "", "MQTT_PORT": 0, "PEPEUNIT_TOKEN": "", "SYNC_ENCRYPT_KEY": "", "SECRET_KEY": "",
  "PING_INTERVAL": 0, "STATE_SEND_INTERVAL": 0, "COMMIT_VERSION": "",
  "DELAY_PUB_MSG": 1, "WIFI_SSID": "ssid"
})");
}

EnvJson example2026() {
  return EnvJson::parse(R"({
  "PU_DOMAIN": "", "PU_HTTP_TYPE": "", "PU_APP_PREFIX": "", "PU_API_ACTUAL_PREFIX": "",
  "PU_MQTT_HOST": "", "PU_MQTT_PORT": 0, "PU_MQTT_PING_INTERVAL": 0, "PU_MQTT_KEEPALIVE": 0,
  "PU_AUTH_TOKEN": "", "PU_SECRET_KEY": "", "PU_ENCRYPT_KEY": "", "PU_STATE_SEND_INTERVAL": 0,
  "PU_MIN_LOG_LEVEL": "", "PU_MAX_LOG_LENGTH": 0, "PU_COMMIT_VERSION": "",
  "PUC_WIFI_SSID": "ssid", "PUC_WIFI_PASS": "pass", "DELAY_PUB_MSG": 1
})");
}

std::string errorOf(const auto& call, ErrorKind expected_kind) {
  try {
    call();
  } catch (const Error& e) {
    CHECK(e.kind() == expected_kind);
    return e.what();
  }
  FAIL("expected an Error");
  return {};
}

}  // namespace

TEST_CASE("domain: reserved key tables of both generations") {
  const std::vector<std::string> names2024 = {
      "PEPEUNIT_URL", "HTTP_TYPE",     "PEPEUNIT_APP_PREFIX", "PEPEUNIT_API_ACTUAL_PREFIX",
      "MQTT_URL",     "MQTT_PORT",     "PEPEUNIT_TOKEN",      "SYNC_ENCRYPT_KEY",
      "SECRET_KEY",   "PING_INTERVAL", "STATE_SEND_INTERVAL", "COMMIT_VERSION"};
  const std::vector<std::string> names2026 = {
      "PU_DOMAIN",        "PU_HTTP_TYPE",      "PU_APP_PREFIX",         "PU_API_ACTUAL_PREFIX",
      "PU_MQTT_HOST",     "PU_MQTT_PORT",      "PU_MQTT_PING_INTERVAL", "PU_MQTT_KEEPALIVE",
      "PU_AUTH_TOKEN",    "PU_SECRET_KEY",     "PU_ENCRYPT_KEY",        "PU_STATE_SEND_INTERVAL",
      "PU_MIN_LOG_LEVEL", "PU_MAX_LOG_LENGTH", "PU_COMMIT_VERSION"};
  std::vector<std::string> got2024;
  for (const auto& key : pd::reservedKeys(pd::EnvGeneration::k2024)) {
    got2024.emplace_back(key.name);
    CHECK(pd::toString(key.generation) == "2024");
  }
  std::vector<std::string> got2026;
  for (const auto& key : pd::reservedKeys(pd::EnvGeneration::k2026)) {
    got2026.emplace_back(key.name);
    CHECK(pd::toString(key.generation) == "2026");
  }
  CHECK(got2024 == names2024);
  CHECK(got2026 == names2026);
  CHECK(pd::isReservedKey("PEPEUNIT_TOKEN"));
  CHECK(pd::isReservedKey("PU_AUTH_TOKEN"));
  CHECK_FALSE(pd::isReservedKey("PUC_WIFI_SSID"));
  CHECK_FALSE(pd::isReservedKey("pepeunit_token"));
  CHECK_FALSE(pd::isReservedKey("MIN_LOG_LEVEL"));
  CHECK(pd::versionKey(pd::EnvGeneration::k2024) == "COMMIT_VERSION");
  CHECK(pd::versionKey(pd::EnvGeneration::k2026) == "PU_COMMIT_VERSION");
}

TEST_CASE("domain: env generation is detected from the declared keys") {
  struct Row {
    const char* json;
    pd::EnvGeneration expected;
  };
  const Row rows[] = {
      {"{}", pd::EnvGeneration::k2024},
      {R"({"WIFI_SSID": ""})", pd::EnvGeneration::k2024},
      {R"({"PEPEUNIT_TOKEN": ""})", pd::EnvGeneration::k2024},
      {R"({"PU_AUTH_TOKEN": ""})", pd::EnvGeneration::k2026},
      {R"({"PUC_WIFI_SSID": "", "PU_NOT_RESERVED": 1})", pd::EnvGeneration::k2024},
      {R"({"PEPEUNIT_TOKEN": "", "PU_DOMAIN": ""})", pd::EnvGeneration::k2026},
      {R"({"PU_COMMIT_VERSION": ""})", pd::EnvGeneration::k2026},
  };
  for (const auto& row : rows) {
    CAPTURE(row.json);
    CHECK(pd::toString(pd::detectEnvGeneration(EnvJson::parse(row.json))) ==
          pd::toString(row.expected));
  }
  CHECK(pd::toString(pd::detectEnvGeneration(example2024())) == "2024");
  CHECK(pd::toString(pd::detectEnvGeneration(example2026())) == "2026");
}

TEST_CASE("domain: generateReservedValues for a 2024 repo") {
  CountingSource random;
  const auto keys = pd::envKeys(example2024());
  const auto env = pd::generateReservedValues(keys, facts(), "tok.en.jwt", random);
  const auto expected_keys = std::vector<std::string>{
      "PEPEUNIT_URL", "HTTP_TYPE",     "PEPEUNIT_APP_PREFIX", "PEPEUNIT_API_ACTUAL_PREFIX",
      "MQTT_URL",     "MQTT_PORT",     "PEPEUNIT_TOKEN",      "SYNC_ENCRYPT_KEY",
      "SECRET_KEY",   "PING_INTERVAL", "STATE_SEND_INTERVAL"};
  CHECK(pd::envKeys(env) == expected_keys);  // no COMMIT_VERSION, no developer variables
  CHECK(env["PEPEUNIT_URL"] == "unit.example.com");
  CHECK(env["HTTP_TYPE"] == "https");
  CHECK(env["PEPEUNIT_APP_PREFIX"] == "/pepeunit");
  CHECK(env["PEPEUNIT_API_ACTUAL_PREFIX"] == "/api/v1");
  CHECK(env["MQTT_URL"] == "mqtt.example.com");
  CHECK(env["MQTT_PORT"].is_number_integer());
  CHECK(env["MQTT_PORT"] == 1884);
  CHECK(env["PEPEUNIT_TOKEN"] == "tok.en.jwt");
  CHECK(env["PING_INTERVAL"].is_number_integer());
  CHECK(env["PING_INTERVAL"] == 30);
  CHECK(env["STATE_SEND_INTERVAL"] == 60);
  // 16 random bytes each, standard base64: bytes 0..15 then 16..31.
  CHECK(env["SYNC_ENCRYPT_KEY"] == "AAECAwQFBgcICQoLDA0ODw==");
  CHECK(env["SECRET_KEY"] == "EBESExQVFhcYGRobHB0eHw==");
}

TEST_CASE("domain: generateReservedValues for a 2026 repo") {
  CountingSource random;
  auto f = facts();
  f.secure = false;
  const auto keys = pd::envKeys(example2026());
  const auto env = pd::generateReservedValues(keys, f, "jwt", random);
  CHECK(env.size() == 14);  // 15 reserved minus the version key
  CHECK_FALSE(env.contains("PU_COMMIT_VERSION"));
  CHECK_FALSE(env.contains("PUC_WIFI_SSID"));
  CHECK(env["PU_DOMAIN"] == "unit.example.com");
  CHECK(env["PU_HTTP_TYPE"] == "http");
  CHECK(env["PU_MQTT_HOST"] == "mqtt.example.com");
  CHECK(env["PU_MQTT_PORT"] == 1884);
  CHECK(env["PU_MQTT_PING_INTERVAL"] == 30);
  CHECK(env["PU_MQTT_KEEPALIVE"] == 60);
  CHECK(env["PU_AUTH_TOKEN"] == "jwt");
  CHECK(env["PU_STATE_SEND_INTERVAL"] == 60);
  CHECK(env["PU_MIN_LOG_LEVEL"] == "Debug");
  CHECK(env["PU_MAX_LOG_LENGTH"].is_number_integer());
  CHECK(env["PU_MAX_LOG_LENGTH"] == 64);
  // 32 random bytes → 44 base64 characters.
  CHECK(env["PU_SECRET_KEY"].get<std::string>().size() == 44);
  CHECK(env["PU_ENCRYPT_KEY"].get<std::string>().size() == 44);
  CHECK(env["PU_SECRET_KEY"] != env["PU_ENCRYPT_KEY"]);
}

TEST_CASE("domain: generateReservedValues fills only what the example declares, of either table") {
  CountingSource random;
  const std::vector<std::string> keys = {"WIFI_SSID", "PEPEUNIT_TOKEN", "PU_MQTT_PORT"};
  const auto env = pd::generateReservedValues(keys, facts(), "t", random);
  CHECK(pd::envKeys(env) == std::vector<std::string>{"PEPEUNIT_TOKEN", "PU_MQTT_PORT"});
  CHECK(pd::generateReservedValues(std::vector<std::string>{}, facts(), "t", random).empty());
}

TEST_CASE("domain: envForGet, fresh Unit and saved Unit, both generations") {
  // Fresh 2024 Unit: only the developer's variables with their defaults, plus COMMIT_VERSION.
  auto env = pd::envForGet(example2024(), std::nullopt, "abc123");
  CHECK(env == EnvJson::parse(R"({"DELAY_PUB_MSG": 1, "WIFI_SSID": "ssid",
                                  "COMMIT_VERSION": "abc123"})"));
  CHECK(pd::envKeys(env) ==
        std::vector<std::string>{"DELAY_PUB_MSG", "WIFI_SSID", "COMMIT_VERSION"});

  // Saved 2024 Unit: stored values win, stored reserved keys come back, extra stored keys kept.
  const auto stored = EnvJson::parse(R"({"PEPEUNIT_TOKEN": "tok", "WIFI_SSID": "home",
                                         "DELAY_PUB_MSG": 5, "OLD_VAR": true})");
  env = pd::envForGet(example2024(), stored, "def456");
  CHECK(env["PEPEUNIT_TOKEN"] == "tok");
  CHECK(env["WIFI_SSID"] == "home");
  CHECK(env["DELAY_PUB_MSG"] == 5);
  CHECK(env["OLD_VAR"] == true);
  CHECK(env["COMMIT_VERSION"] == "def456");
  CHECK_FALSE(env.contains("PU_COMMIT_VERSION"));
  // Example order first (PEPEUNIT_TOKEN precedes DELAY_PUB_MSG in the example).
  CHECK(pd::envKeys(env).front() == "PEPEUNIT_TOKEN");

  // 2026: the version key is PU_COMMIT_VERSION.
  env = pd::envForGet(example2026(), std::nullopt, "sha");
  CHECK(env == EnvJson::parse(R"({"PUC_WIFI_SSID": "ssid", "PUC_WIFI_PASS": "pass",
                                  "DELAY_PUB_MSG": 1, "PU_COMMIT_VERSION": "sha"})"));
}

TEST_CASE("domain: envForPatch, user values win, version dropped, completeness enforced") {
  CountingSource random;
  const auto generated =
      pd::generateReservedValues(pd::envKeys(example2024()), facts(), "jwt", random);

  // What the UI sends back after a GET: developer variables (+ COMMIT_VERSION).
  const auto user = EnvJson::parse(R"({"DELAY_PUB_MSG": 2, "WIFI_SSID": "x",
                                       "COMMIT_VERSION": "abc", "HTTP_TYPE": "http"})");
  const auto env = pd::envForPatch(user, example2024(), generated);
  CHECK_FALSE(env.contains("COMMIT_VERSION"));
  CHECK(env["HTTP_TYPE"] == "http");  // the user's reserved value is kept as given
  CHECK(env["PEPEUNIT_TOKEN"] == "jwt");
  CHECK(env["DELAY_PUB_MSG"] == 2);
  CHECK(pd::unresolvedEnvKeys(env, example2024()).empty());
  CHECK(pd::envKeys(env).front() == "PEPEUNIT_URL");  // example order

  // Missing developer variables: error 5 listing them, sorted, in the original's words.
  const auto message =
      errorOf([&] { pd::envForPatch(EnvJson::parse(R"({"X": 1})"), example2024(), generated); },
              ErrorKind::kGitRepoValidation);
  CHECK(message == "This env file has {'DELAY_PUB_MSG', 'WIFI_SSID'} unresolved variable");

  // A 2026 env: PU_COMMIT_VERSION never stored, never required.
  const auto generated26 =
      pd::generateReservedValues(pd::envKeys(example2026()), facts(), "jwt", random);
  const auto env26 = pd::envForPatch(
      EnvJson::parse(R"({"PUC_WIFI_SSID": "a", "PUC_WIFI_PASS": "b", "DELAY_PUB_MSG": 3,
                         "PU_COMMIT_VERSION": "x"})"),
      example2026(), generated26);
  CHECK_FALSE(env26.contains("PU_COMMIT_VERSION"));
  CHECK(env26["PU_AUTH_TOKEN"] == "jwt");
  CHECK(env26.size() == 17);
}

TEST_CASE("domain: envMerge for reconcile keeps current values and adds new defaults") {
  CountingSource random;
  const auto current = EnvJson::parse(R"({"PEPEUNIT_TOKEN": "old-token", "SECRET_KEY": "old",
                                          "WIFI_SSID": "home", "GONE_VAR": 1})");
  const auto generated =
      pd::generateReservedValues(pd::envKeys(example2024()), facts(), "new-token", random);
  const auto env = pd::envMerge(example2024(), generated, current);
  CHECK(env["PEPEUNIT_TOKEN"] == "old-token");
  CHECK(env["SECRET_KEY"] == "old");
  CHECK(env["WIFI_SSID"] == "home");
  CHECK(env["DELAY_PUB_MSG"] == 1);                                 // new variable gets its default
  CHECK(env["SYNC_ENCRYPT_KEY"] == generated["SYNC_ENCRYPT_KEY"]);  // missing key generated
  CHECK(env["MQTT_PORT"] == 1884);  // generated beats the example default
  CHECK(env["GONE_VAR"] == 1);
  CHECK_FALSE(env.contains("COMMIT_VERSION"));
  CHECK(pd::unresolvedEnvKeys(env, example2024()).empty());
  CHECK_NOTHROW(pd::requireCompleteEnv(env, example2024()));
}

TEST_CASE("domain: requireCompleteEnv on the firmware env") {
  // A never-saved Unit of a repo with reserved keys cannot get firmware.
  const auto get_env = pd::envForGet(example2024(), std::nullopt, "sha");
  const auto message = errorOf([&] { pd::requireCompleteEnv(get_env, example2024()); },
                               ErrorKind::kGitRepoValidation);
  CHECK(message.find("'PEPEUNIT_TOKEN'") != std::string::npos);
  CHECK(message.find("COMMIT_VERSION'") == std::string::npos);
  // A repo without reserved keys needs no save.
  const auto plain = EnvJson::parse(R"({"A": 1})");
  CHECK_NOTHROW(pd::requireCompleteEnv(pd::envForGet(plain, std::nullopt, "sha"), plain));
}

TEST_CASE("domain: env parsing errors") {
  CHECK(errorOf([] { pd::parseEnvJsonString("{"); }, ErrorKind::kJsonDecode) ==
        "Data env_json_string is invalid");
  CHECK(errorOf([] { pd::parseEnvJsonString("[1]"); }, ErrorKind::kJsonDecode) ==
        "Data env_json_string is invalid");
  CHECK(pd::parseEnvJsonString(R"({"a":1})")["a"] == 1);
  CHECK(errorOf([] { pd::parseEnvExample("nope"); }, ErrorKind::kGitRepoValidation)
            .find("not valid JSON") != std::string::npos);
  CHECK(errorOf([] { pd::parseEnvExample("[]"); }, ErrorKind::kGitRepoValidation)
            .find("JSON object") != std::string::npos);
}

TEST_CASE("domain: encodeEnvBody double-encodes for 2024, plain for 2026") {
  const auto env = EnvJson::parse(R"({"B": 1, "A": "x"})");
  const auto body2024 = pd::encodeEnvBody(pd::EnvGeneration::k2024, env);
  REQUIRE(body2024.is_string());
  CHECK(body2024.dump() == R"("{\"B\":1,\"A\":\"x\"}")");
  CHECK(EnvJson::parse(body2024.get<std::string>()) == env);
  const auto body2026 = pd::encodeEnvBody(pd::EnvGeneration::k2026, env);
  CHECK(body2026.is_object());
  CHECK(body2026.dump() == R"({"B":1,"A":"x"})");
}

TEST_CASE("domain: base64Encode matches RFC 4648 test vectors") {
  auto enc = [](std::string_view s) {
    return pd::base64Encode(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
  };
  CHECK(enc("") == "");
  CHECK(enc("f") == "Zg==");
  CHECK(enc("fo") == "Zm8=");
  CHECK(enc("foo") == "Zm9v");
  CHECK(enc("foob") == "Zm9vYg==");
  CHECK(enc("fooba") == "Zm9vYmE=");
  CHECK(enc("foobar") == "Zm9vYmFy");
  const std::uint8_t high[] = {0xfb, 0xff, 0xbf};
  CHECK(pd::base64Encode(high) == "+/+/");
}
