// The plugin's configuration: every `plugin_opt_<key> <value>` line of mosquitto.conf, parsed and
// validated once at start-up (Mosquitto never reloads plugin options, auth_plugin_anchors.md
// §1.1). Anything missing, unknown or out of range stops the broker instead of running with a
// guess: the defaults that remain are the fail-closed ones of §6.11.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pepeunit::authplugin {

struct PluginOptions {
  // ---- required ----
  /// File holding BACKEND_SECRET_KEY (unit and backend JWTs are HS256 under it).
  std::filesystem::path jwt_key_file;
  /// BACKEND_DOMAIN: the first level of every Pepeunit topic.
  std::string domain;
  /// Base URL of the backend, e.g. `http://127.0.0.1:8555` (the API prefix is appended).
  std::string backend_url;
  /// File holding the bearer token the backend expects from brokers.
  std::filesystem::path backend_token_file;

  // ---- optional ----
  /// Empty: no L2 and no invalidation events (rules come from the backend only).
  std::string redis_url;
  /// CA bundle for an https backend_url (default: the system store).
  std::filesystem::path backend_ca_file;
  std::string redis_prefix = "pepeunit:acl:v1";
  std::string events_channel = "pepeunit:acl:v1:events";

  /// The only wait on the broker thread: CONNECT of a principal not in memory.
  std::chrono::milliseconds fetch_timeout{20};
  /// Total such waiting allowed per second; beyond it an unseen principal is refused at once
  /// (and its rules still load in the background for the client's retry).
  std::chrono::milliseconds stall_budget_per_s{200};
  std::chrono::milliseconds backend_timeout{1000};
  std::chrono::milliseconds backend_connect_timeout{200};
  std::chrono::milliseconds redis_timeout{250};

  std::int64_t ttl_s = 300;
  std::int64_t stale_ttl_s = 3600;
  std::int64_t negative_ttl_s = 10;
  std::size_t max_principals = 100000;
  /// Decisions remembered per principal (topic → allow/deny per action).
  std::size_t decision_cache_size = 256;
  /// How long a username's mapping outlives its last connection (wills, queued messages).
  std::int64_t session_grace_s = 300;
  int fetch_workers = 2;
  std::size_t max_queued_fetches = 10000;
  /// 0 disables the `$SYS/pepeunit/auth/...` counters.
  std::int64_t metrics_interval_s = 10;
};

/// Parses the `plugin_opt_*` pairs (key without the prefix, value verbatim). Throws
/// pepeunit::ConfigError naming the option on an unknown key, a duplicate, a bad number, a
/// missing required option or an inconsistent combination.
PluginOptions parseOptions(const std::vector<std::pair<std::string, std::string>>& pairs);

/// The whole file without trailing CR/LF (secrets are usually written with `echo`). Throws
/// pepeunit::ConfigError(`option`) when it cannot be read or is empty. Never includes the
/// content in an error message.
std::string readSecretFile(const std::filesystem::path& path, std::string_view option);

}  // namespace pepeunit::authplugin
