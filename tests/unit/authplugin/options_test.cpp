// plugin_opt_* parsing: required options, defaults, ranges, unknown keys, secret files.
#include "authplugin/options.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "common/errors.hpp"

namespace ap = pepeunit::authplugin;
using Pairs = std::vector<std::pair<std::string, std::string>>;

namespace {

Pairs required() {
  return {{"jwt_key_file", "/etc/pepeunit/jwt.key"},
          {"domain", "unit.example.com"},
          {"backend_url", "http://127.0.0.1:8555/"},
          {"backend_token_file", "/etc/pepeunit/broker.token"}};
}

Pairs with(Pairs pairs, std::string key, std::string value) {
  pairs.emplace_back(std::move(key), std::move(value));
  return pairs;
}

std::string errorOf(const Pairs& pairs) {
  try {
    ap::parseOptions(pairs);
  } catch (const pepeunit::ConfigError& error) {
    return error.what();
  }
  return "";
}

/// A file in the test's own temporary directory, removed afterwards.
struct TempFile {
  std::filesystem::path path = std::filesystem::temp_directory_path() /
                               ("pepeunit-options-test-" + std::to_string(::getpid()));
  explicit TempFile(const std::string& content) { std::ofstream(path) << content; }
  ~TempFile() { std::filesystem::remove(path); }
};

}  // namespace

TEST_CASE("authplugin/options: the required four and fail-closed defaults") {
  const auto options = ap::parseOptions(required());
  CHECK(options.jwt_key_file == "/etc/pepeunit/jwt.key");
  CHECK(options.domain == "unit.example.com");
  CHECK(options.backend_url == "http://127.0.0.1:8555");  // trailing slash dropped
  CHECK(options.backend_token_file == "/etc/pepeunit/broker.token");
  CHECK(options.redis_url.empty());
  CHECK(options.fetch_timeout.count() == 20);
  CHECK(options.ttl_s == 300);
  CHECK(options.stale_ttl_s == 3600);
  CHECK(options.negative_ttl_s == 10);
  CHECK(options.events_channel == "pepeunit:acl:v1:events");
  CHECK(options.redis_prefix == "pepeunit:acl:v1");
  CHECK(options.metrics_interval_s == 10);
}

TEST_CASE("authplugin/options: every optional key is typed") {
  Pairs pairs = required();
  pairs.insert(pairs.end(), {{"redis_url", "redis://127.0.0.1:6390/0"},
                             {"fetch_timeout_ms", "35"},
                             {"ttl_s", "60"},
                             {"stale_ttl_s", "120"},
                             {"negative_ttl_s", "0"},
                             {"max_principals", "500"},
                             {"decision_cache_size", "64"},
                             {"fetch_workers", "3"},
                             {"metrics_interval_s", "0"},
                             {"events_channel", "chan"},
                             {"redis_prefix", "pfx"},
                             {"backend_ca_file", "/ca.pem"},
                             {"backend_timeout_ms", "900"}});
  const auto options = ap::parseOptions(pairs);
  CHECK(options.redis_url == "redis://127.0.0.1:6390/0");
  CHECK(options.fetch_timeout.count() == 35);
  CHECK(options.ttl_s == 60);
  CHECK(options.stale_ttl_s == 120);
  CHECK(options.negative_ttl_s == 0);
  CHECK(options.max_principals == 500);
  CHECK(options.decision_cache_size == 64);
  CHECK(options.fetch_workers == 3);
  CHECK(options.metrics_interval_s == 0);
  CHECK(options.events_channel == "chan");
  CHECK(options.redis_prefix == "pfx");
  CHECK(options.backend_ca_file == "/ca.pem");
  CHECK(options.backend_timeout.count() == 900);
}

TEST_CASE("authplugin/options: bad configurations name the option") {
  for (const char* key : {"jwt_key_file", "domain", "backend_url", "backend_token_file"}) {
    Pairs pairs;
    for (const auto& pair : required()) {
      if (pair.first != key) {
        pairs.push_back(pair);
      }
    }
    CHECK(errorOf(pairs).find(std::string("plugin_opt_") + key) != std::string::npos);
  }
  CHECK(errorOf(with(required(), "ttl", "5")).find("unknown option") != std::string::npos);
  CHECK(errorOf(with(required(), "domain", "again")).find("given twice") != std::string::npos);
  CHECK(errorOf(with(required(), "ttl_s", "abc")).find("plugin_opt_ttl_s") != std::string::npos);
  CHECK(errorOf(with(required(), "ttl_s", "12s")).find("integer") != std::string::npos);
  CHECK(errorOf(with(required(), "ttl_s", "0")).find("between") != std::string::npos);
  CHECK(errorOf(with(required(), "fetch_timeout_ms", "60000")).find("between") !=
        std::string::npos);
  CHECK(errorOf(with(required(), "redis_url", "")).find("empty") != std::string::npos);
  CHECK(errorOf(with(with(required(), "ttl_s", "100"), "stale_ttl_s", "50"))
            .find("plugin_opt_stale_ttl_s") != std::string::npos);

  Pairs bad_domain = required();
  bad_domain[1].second = "a/b";
  CHECK(errorOf(bad_domain).find("plugin_opt_domain") != std::string::npos);
  Pairs bad_url = required();
  bad_url[2].second = "127.0.0.1:8555";
  CHECK(errorOf(bad_url).find("plugin_opt_backend_url") != std::string::npos);
}

TEST_CASE("authplugin/options: secret files lose trailing newlines and must not be empty") {
  {
    TempFile file("s3cret-key\r\n\n");
    CHECK(ap::readSecretFile(file.path, "plugin_opt_jwt_key_file") == "s3cret-key");
  }
  {
    TempFile file("\n");
    try {
      ap::readSecretFile(file.path, "plugin_opt_jwt_key_file");
      FAIL("empty secret accepted");
    } catch (const pepeunit::ConfigError& error) {
      CHECK(std::string(error.what()).find("empty") != std::string::npos);
    }
  }
  CHECK_THROWS_AS(ap::readSecretFile("/nonexistent/pepeunit/key", "plugin_opt_jwt_key_file"),
                  pepeunit::ConfigError);
}
