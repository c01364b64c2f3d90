// The backend's whole configuration as one typed struct, read from the environment and an
// optional .env file under the original Pepeunit variable names (backend spec §10) plus ours.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace pepeunit::app {

using EnvMap = std::map<std::string, std::string>;

struct Config {
  // --- Original names (E3) ---
  std::string domain;                     // BACKEND_DOMAIN (required): topic root, PEPEUNIT_URL
  bool secure = true;                     // BACKEND_SECURE: https links, HTTP_TYPE
  std::string app_prefix = "/pepeunit";   // BACKEND_APP_PREFIX
  std::string api_v1_prefix = "/api/v1";  // BACKEND_API_V1_PREFIX
  std::string secret_key;                 // BACKEND_SECRET_KEY (required): JWT HS256 key
  std::string encrypt_key;                // BACKEND_ENCRYPT_KEY (required): decoded 32 bytes
  std::string static_salt;                // BACKEND_STATIC_SALT (required)
  std::string plugin_token;  // BACKEND_PLUGIN_TOKEN: broker plugin bearer; empty = rules API off
  std::int64_t acl_ttl_s = 300;         // BACKEND_ACL_TTL: how long brokers trust a rule set
  std::int64_t acl_stale_ttl_s = 3600;  // BACKEND_ACL_STALE_TTL: ... and keep it through outages
  std::int64_t acl_cache_ttl_s = 10;    // BACKEND_ACL_CACHE_TTL: rule sets kept in memory; 0 off
  std::int64_t acl_max_visible_nodes = 10000;    // BACKEND_ACL_MAX_VISIBLE_NODES: listed per set
  std::int64_t auth_token_expiration = 2678400;  // BACKEND_AUTH_TOKEN_EXPIRATION, seconds
  std::string save_repo_path = "repo_cache";     // BACKEND_SAVE_REPO_PATH
  int state_send_interval = 60;                  // BACKEND_STATE_SEND_INTERVAL, seconds
  std::int64_t unit_log_expiration_s = 86400;    // BACKEND_UNIT_LOG_EXPIRATION, seconds
  std::int64_t max_external_repo_size_mib = 50;  // BACKEND_MAX_EXTERNAL_REPO_SIZE
  std::size_t max_cipher_length = 50000;         // BACKEND_MAX_CIPHER_LENGTH
  std::string database_url;  // SQLALCHEMY_DATABASE_URL or DATABASE_URL (required)
  std::string redis_url = "redis://127.0.0.1:6379/0";  // REDIS_URL
  std::string mqtt_host = "127.0.0.1";                 // MQTT_HOST
  int mqtt_port = 1883;                                // MQTT_PORT
  bool mqtt_secure = false;  // MQTT_SECURE: TLS to the broker (the original meant EMQX's API)
  int mqtt_keepalive = 60;   // MQTT_KEEPALIVE
  std::size_t mqtt_max_payload_size = 50000;  // MQTT_MAX_PAYLOAD_SIZE

  // --- Ours ---
  std::string http_host = "127.0.0.1";  // BACKEND_HTTP_HOST
  int http_port = 5000;                 // BACKEND_HTTP_PORT
  // httplib serves each keep-alive connection on one worker thread for its whole life, so this
  // bounds concurrent clients, not CPU use.
  int http_threads = 32;                   // BACKEND_HTTP_THREADS
  std::size_t max_request_body = 1 << 20;  // BACKEND_MAX_REQUEST_BODY, bytes
  std::string log_level = "info";          // BACKEND_LOG_LEVEL: trace|debug|info|warn|error
  std::string log_format = "text";         // BACKEND_LOG_FORMAT: text|json
  bool allow_local_repos = false;          // BACKEND_ALLOW_LOCAL_REPOS: file:// and paths
  std::string mqtt_ca_file;                // MQTT_CA_FILE: CA bundle when MQTT_SECURE
  // MQTT_SHARED_SUBSCRIPTIONS / MQTT_SHARE_GROUP: ingest subscribes as `$share/<group>/...` so
  // several backend instances split the stream instead of each storing every message.
  bool mqtt_shared_subscriptions = true;
  std::string mqtt_share_group = "pepeunit-backend";
  std::string migrations_dir;               // BACKEND_MIGRATIONS_DIR (default: built-in path)
  bool auto_migrate = true;                 // BACKEND_AUTO_MIGRATE: apply migrations on serve
  std::int64_t max_pagination_size = 1000;  // BACKEND_MAX_PAGINATION_SIZE: list `limit` cap
  int login_max_failures = 5;               // BACKEND_LOGIN_MAX_FAILURES: per login and per address
  int login_throttle_window_s = 300;  // BACKEND_LOGIN_THROTTLE_WINDOW: lockout window, seconds
  // BACKEND_REPO_SYNC_INTERVAL: seconds between two passes of the repo scheduler (fetch every
  // auto-update repo, then update its auto-update Units); the original ran it hourly.
  std::int64_t repo_sync_interval_s = 3600;

  /// `{http|https}://{domain}{app_prefix}{api_v1_prefix}`, the link handed to devices.
  std::string apiBaseLink() const;
};

/// Validates and converts; throws ConfigError naming the first bad variable.
Config loadConfig(const EnvMap& env);

/// The process environment.
EnvMap processEnvironment();

/// Parses a .env file (KEY=VALUE lines, '#' comments, optional quotes); throws ConfigError if
/// the file cannot be read or a line is malformed.
EnvMap readEnvFile(const std::string& path);

/// `base` overlaid by `top` (keys in `top` win).
EnvMap overlay(EnvMap base, const EnvMap& top);

}  // namespace pepeunit::app
