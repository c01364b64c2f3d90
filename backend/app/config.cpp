// Config loading: every value is validated here so the rest of the code can trust it.
#include "app/config.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <limits>

#include "common/errors.hpp"
#include "crypto/base64.hpp"

extern char** environ;

namespace pepeunit::app {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos)
    return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

class Reader {
 public:
  explicit Reader(const EnvMap& env) : env_(env) {}

  const std::string* find(const std::string& key) const {
    auto it = env_.find(key);
    if (it == env_.end() || it->second.empty())
      return nullptr;
    return &it->second;
  }

  std::string required(const std::string& key) const {
    if (const auto* v = find(key))
      return *v;
    throw ConfigError(key, "is required but not set");
  }

  void str(const std::string& key, std::string& out) const {
    if (const auto* v = find(key))
      out = *v;
  }

  void flag(const std::string& key, bool& out) const {
    const auto* v = find(key);
    if (!v)
      return;
    const std::string s = lower(*v);
    if (s == "true" || s == "1" || s == "yes" || s == "on") {
      out = true;
    } else if (s == "false" || s == "0" || s == "no" || s == "off") {
      out = false;
    } else {
      throw ConfigError(key, "must be true or false, got '" + *v + "'");
    }
  }

  template <typename T>
  void number(const std::string& key, T& out, T min, T max) const {
    const auto* v = find(key);
    if (!v)
      return;
    T value{};
    const auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), value);
    if (ec != std::errc{} || ptr != v->data() + v->size()) {
      throw ConfigError(key, "must be an integer, got '" + *v + "'");
    }
    if (value < min || value > max) {
      throw ConfigError(key, "must be between " + std::to_string(min) + " and " +
                                 std::to_string(max) + ", got " + *v);
    }
    out = value;
  }

 private:
  const EnvMap& env_;
};

void checkPrefix(const std::string& key, const std::string& value) {
  if (value.empty())
    return;
  if (value.front() != '/' || value.back() == '/') {
    throw ConfigError(key, "must start with '/' and not end with '/', got '" + value + "'");
  }
}

}  // namespace

std::string Config::apiBaseLink() const {
  return std::string(secure ? "https" : "http") + "://" + domain + app_prefix + api_v1_prefix;
}

Config loadConfig(const EnvMap& env) {
  const Reader r(env);
  Config c;
  c.domain = r.required("BACKEND_DOMAIN");
  if (c.domain.find_first_of("/+# ") != std::string::npos) {
    throw ConfigError("BACKEND_DOMAIN", "must be a host or host:port without '/', '+', '#'");
  }
  r.flag("BACKEND_SECURE", c.secure);
  r.str("BACKEND_APP_PREFIX", c.app_prefix);
  checkPrefix("BACKEND_APP_PREFIX", c.app_prefix);
  r.str("BACKEND_API_V1_PREFIX", c.api_v1_prefix);
  checkPrefix("BACKEND_API_V1_PREFIX", c.api_v1_prefix);

  c.secret_key = r.required("BACKEND_SECRET_KEY");
  if (c.secret_key.size() < 16) {
    throw ConfigError("BACKEND_SECRET_KEY", "must be at least 16 characters");
  }
  const auto key = crypto::base64Decode(r.required("BACKEND_ENCRYPT_KEY"));
  if (!key || key->size() != 32) {
    throw ConfigError("BACKEND_ENCRYPT_KEY", "must be base64 of exactly 32 bytes");
  }
  c.encrypt_key = *key;
  c.static_salt = r.required("BACKEND_STATIC_SALT");
  r.str("BACKEND_PLUGIN_TOKEN", c.plugin_token);
  r.number<std::int64_t>("BACKEND_ACL_TTL", c.acl_ttl_s, 1, 86400);
  r.number<std::int64_t>("BACKEND_ACL_STALE_TTL", c.acl_stale_ttl_s, 1, 30 * 86400);
  r.number<std::int64_t>("BACKEND_ACL_CACHE_TTL", c.acl_cache_ttl_s, 0, 86400);
  r.number<std::int64_t>("BACKEND_ACL_MAX_VISIBLE_NODES", c.acl_max_visible_nodes, 0, 1000000);
  if (c.acl_stale_ttl_s < c.acl_ttl_s) {
    throw ConfigError("BACKEND_ACL_STALE_TTL", "must not be shorter than BACKEND_ACL_TTL");
  }

  r.number<std::int64_t>("BACKEND_AUTH_TOKEN_EXPIRATION", c.auth_token_expiration, 60,
                         std::int64_t{10} * 365 * 24 * 3600);
  r.str("BACKEND_SAVE_REPO_PATH", c.save_repo_path);
  r.number("BACKEND_STATE_SEND_INTERVAL", c.state_send_interval, 1, 86400);
  r.number<std::int64_t>("BACKEND_UNIT_LOG_EXPIRATION", c.unit_log_expiration_s, 60,
                         std::int64_t{365} * 86400);
  r.number<std::int64_t>("BACKEND_MAX_EXTERNAL_REPO_SIZE", c.max_external_repo_size_mib, 1,
                         1 << 20);
  r.number<std::size_t>("BACKEND_MAX_CIPHER_LENGTH", c.max_cipher_length, 1, 100'000'000);

  const std::string dsn_key =
      r.find("SQLALCHEMY_DATABASE_URL") ? "SQLALCHEMY_DATABASE_URL" : "DATABASE_URL";
  c.database_url = r.required(dsn_key);
  // SQLAlchemy DSNs name the driver ("postgresql+psycopg2://"); libpq wants the plain scheme.
  const auto scheme_end = c.database_url.find("://");
  if (const auto plus = c.database_url.find('+'); plus < scheme_end) {
    c.database_url.erase(plus, scheme_end - plus);
  }
  if (c.database_url.rfind("postgresql://", 0) != 0 &&
      c.database_url.rfind("postgres://", 0) != 0) {
    throw ConfigError(dsn_key, "must be a postgresql:// URL");
  }
  r.str("REDIS_URL", c.redis_url);
  if (c.redis_url.rfind("redis://", 0) != 0) {
    throw ConfigError("REDIS_URL", "must be a redis:// URL");
  }
  r.str("MQTT_HOST", c.mqtt_host);
  r.number("MQTT_PORT", c.mqtt_port, 1, 65535);
  r.flag("MQTT_SECURE", c.mqtt_secure);
  r.number("MQTT_KEEPALIVE", c.mqtt_keepalive, 5, 65535);
  r.number<std::size_t>("MQTT_MAX_PAYLOAD_SIZE", c.mqtt_max_payload_size, 1, 256 * 1024 * 1024);
  r.str("MQTT_SHARE_GROUP", c.mqtt_share_group);
  if (c.mqtt_share_group.empty() || c.mqtt_share_group.find_first_of("/+#") != std::string::npos) {
    throw ConfigError("MQTT_SHARE_GROUP", "must be non-empty without '/', '+' or '#'");
  }
  r.flag("MQTT_SHARED_SUBSCRIPTIONS", c.mqtt_shared_subscriptions);

  r.str("BACKEND_HTTP_HOST", c.http_host);
  r.number("BACKEND_HTTP_PORT", c.http_port, 0, 65535);
  r.number("BACKEND_HTTP_THREADS", c.http_threads, 1, 1024);
  r.number<std::size_t>("BACKEND_MAX_REQUEST_BODY", c.max_request_body, 1024, std::size_t{1} << 30);
  r.str("BACKEND_LOG_LEVEL", c.log_level);
  c.log_level = lower(c.log_level);
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (std::none_of(std::begin(kLevels), std::end(kLevels),
                   [&](const char* l) { return c.log_level == l; })) {
    throw ConfigError("BACKEND_LOG_LEVEL", "must be one of trace, debug, info, warn, error");
  }
  r.str("BACKEND_LOG_FORMAT", c.log_format);
  c.log_format = lower(c.log_format);
  if (c.log_format != "text" && c.log_format != "json") {
    throw ConfigError("BACKEND_LOG_FORMAT", "must be text or json");
  }
  r.flag("BACKEND_ALLOW_LOCAL_REPOS", c.allow_local_repos);
  r.str("MQTT_CA_FILE", c.mqtt_ca_file);
  r.str("BACKEND_MIGRATIONS_DIR", c.migrations_dir);
  r.flag("BACKEND_AUTO_MIGRATE", c.auto_migrate);
  r.number<std::int64_t>("BACKEND_MAX_PAGINATION_SIZE", c.max_pagination_size, 1, 1'000'000);
  r.number("BACKEND_LOGIN_MAX_FAILURES", c.login_max_failures, 1, 1000);
  r.number("BACKEND_LOGIN_THROTTLE_WINDOW", c.login_throttle_window_s, 1, 86400);
  r.number<std::int64_t>("BACKEND_REPO_SYNC_INTERVAL", c.repo_sync_interval_s, 1,
                         std::int64_t{30} * 24 * 3600);
  return c;
}

EnvMap processEnvironment() {
  EnvMap env;
  for (char** e = environ; e && *e; ++e) {
    const std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string::npos)
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

EnvMap readEnvFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw ConfigError("--env-file", "cannot read '" + path + "'");
  }
  EnvMap env;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    line = trim(line);
    if (line.empty() || line.front() == '#')
      continue;
    if (line.rfind("export ", 0) == 0)
      line = trim(line.substr(7));
    const auto eq = line.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw ConfigError(path + ":" + std::to_string(n), "expected KEY=VALUE");
    }
    std::string value = trim(line.substr(eq + 1));
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    env[trim(line.substr(0, eq))] = value;
  }
  return env;
}

EnvMap overlay(EnvMap base, const EnvMap& top) {
  for (const auto& [k, v] : top)
    base[k] = v;
  return base;
}

}  // namespace pepeunit::app
