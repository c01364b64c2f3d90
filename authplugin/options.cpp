// plugin_opt_* parsing: a table of option names to typed setters, with ranges.
#include "authplugin/options.hpp"

#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "common/errors.hpp"

namespace pepeunit::authplugin {
namespace {

std::int64_t parseInt(const std::string& key, const std::string& value, std::int64_t min,
                      std::int64_t max) {
  std::int64_t out = 0;
  const auto* end = value.data() + value.size();
  const auto [ptr, ec] = std::from_chars(value.data(), end, out);
  if (ec != std::errc() || ptr != end || value.empty()) {
    throw ConfigError(key, "must be an integer, got '" + value + "'");
  }
  if (out < min || out > max) {
    throw ConfigError(key, "must be between " + std::to_string(min) + " and " +
                               std::to_string(max) + ", got " + value);
  }
  return out;
}

std::string nonEmpty(const std::string& key, const std::string& value) {
  if (value.empty()) {
    throw ConfigError(key, "must not be empty");
  }
  return value;
}

using Setter = std::function<void(PluginOptions&, const std::string& key, const std::string&)>;

Setter millis(std::chrono::milliseconds PluginOptions::*field, std::int64_t min, std::int64_t max) {
  return [field, min, max](PluginOptions& o, const std::string& key, const std::string& value) {
    o.*field = std::chrono::milliseconds(parseInt(key, value, min, max));
  };
}

template <typename T>
Setter integer(T PluginOptions::*field, std::int64_t min, std::int64_t max) {
  return [field, min, max](PluginOptions& o, const std::string& key, const std::string& value) {
    o.*field = static_cast<T>(parseInt(key, value, min, max));
  };
}

Setter text(std::string PluginOptions::*field) {
  return [field](PluginOptions& o, const std::string& key, const std::string& value) {
    o.*field = nonEmpty(key, value);
  };
}

Setter path(std::filesystem::path PluginOptions::*field) {
  return [field](PluginOptions& o, const std::string& key, const std::string& value) {
    o.*field = nonEmpty(key, value);
  };
}

const std::map<std::string, Setter, std::less<>>& setters() {
  constexpr std::int64_t kDay = 86400;
  static const std::map<std::string, Setter, std::less<>> table = {
      {"jwt_key_file", path(&PluginOptions::jwt_key_file)},
      {"domain", text(&PluginOptions::domain)},
      {"backend_url", text(&PluginOptions::backend_url)},
      {"backend_token_file", path(&PluginOptions::backend_token_file)},
      {"redis_url", text(&PluginOptions::redis_url)},
      {"backend_ca_file", path(&PluginOptions::backend_ca_file)},
      {"redis_prefix", text(&PluginOptions::redis_prefix)},
      {"events_channel", text(&PluginOptions::events_channel)},
      {"fetch_timeout_ms", millis(&PluginOptions::fetch_timeout, 0, 5000)},
      {"stall_budget_ms_per_s", millis(&PluginOptions::stall_budget_per_s, 0, 1000)},
      {"backend_timeout_ms", millis(&PluginOptions::backend_timeout, 1, 60000)},
      {"backend_connect_timeout_ms", millis(&PluginOptions::backend_connect_timeout, 1, 60000)},
      {"redis_timeout_ms", millis(&PluginOptions::redis_timeout, 1, 60000)},
      {"ttl_s", integer(&PluginOptions::ttl_s, 1, 30 * kDay)},
      {"stale_ttl_s", integer(&PluginOptions::stale_ttl_s, 1, 365 * kDay)},
      {"negative_ttl_s", integer(&PluginOptions::negative_ttl_s, 0, kDay)},
      {"max_principals", integer(&PluginOptions::max_principals, 1, 100'000'000)},
      {"decision_cache_size", integer(&PluginOptions::decision_cache_size, 0, 1'000'000)},
      {"session_grace_s", integer(&PluginOptions::session_grace_s, 0, 7 * kDay)},
      {"fetch_workers", integer(&PluginOptions::fetch_workers, 1, 16)},
      {"max_queued_fetches", integer(&PluginOptions::max_queued_fetches, 1, 10'000'000)},
      {"metrics_interval_s", integer(&PluginOptions::metrics_interval_s, 0, kDay)},
  };
  return table;
}

bool hasHttpScheme(std::string_view url) {
  return url.starts_with("http://") || url.starts_with("https://");
}

}  // namespace

PluginOptions parseOptions(const std::vector<std::pair<std::string, std::string>>& pairs) {
  PluginOptions options;
  std::set<std::string> seen;
  for (const auto& [key, value] : pairs) {
    const auto setter = setters().find(key);
    if (setter == setters().end()) {
      throw ConfigError("plugin_opt_" + key, "unknown option");
    }
    if (!seen.insert(key).second) {
      throw ConfigError("plugin_opt_" + key, "given twice");
    }
    setter->second(options, "plugin_opt_" + key, value);
  }
  for (const char* required : {"jwt_key_file", "domain", "backend_url", "backend_token_file"}) {
    if (!seen.contains(required)) {
      throw ConfigError(std::string("plugin_opt_") + required, "is required");
    }
  }
  if (options.domain.find_first_of("/+#") != std::string::npos) {
    throw ConfigError("plugin_opt_domain", "must be a single topic level (no '/', '+', '#')");
  }
  if (!hasHttpScheme(options.backend_url)) {
    throw ConfigError("plugin_opt_backend_url", "must start with http:// or https://");
  }
  while (options.backend_url.ends_with('/')) {
    options.backend_url.pop_back();
  }
  if (options.stale_ttl_s < options.ttl_s) {
    throw ConfigError("plugin_opt_stale_ttl_s", "must not be shorter than plugin_opt_ttl_s");
  }
  return options;
}

std::string readSecretFile(const std::filesystem::path& path, std::string_view option) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(std::string(option), "cannot read " + path.string());
  }
  std::ostringstream content;
  content << in.rdbuf();
  std::string secret = content.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) {
    secret.pop_back();
  }
  if (secret.empty()) {
    throw ConfigError(std::string(option), path.string() + " is empty");
  }
  return secret;
}

}  // namespace pepeunit::authplugin
