// Reserved env keys of both device generations and the env merge rules.
#include "domain/env_file.hpp"

#include <algorithm>
#include <array>

#include "common/errors.hpp"

namespace pepeunit::domain {
namespace {

using G = EnvGeneration;
using V = ReservedValue;

// pepeunit_unit_protocol.md §1.2 / pepeunit_backend_spec.md §6.2.
constexpr std::array<ReservedKey, 12> k2024Keys{{
    {"PEPEUNIT_URL", G::k2024, V::kDomain},
    {"HTTP_TYPE", G::k2024, V::kHttpType},
    {"PEPEUNIT_APP_PREFIX", G::k2024, V::kAppPrefix},
    {"PEPEUNIT_API_ACTUAL_PREFIX", G::k2024, V::kApiPrefix},
    {"MQTT_URL", G::k2024, V::kMqttHost},
    {"MQTT_PORT", G::k2024, V::kMqttPort},
    {"PEPEUNIT_TOKEN", G::k2024, V::kAuthToken},
    {"SYNC_ENCRYPT_KEY", G::k2024, V::kEncryptKey},
    {"SECRET_KEY", G::k2024, V::kSecretKey},
    {"PING_INTERVAL", G::k2024, V::kPingInterval},
    {"STATE_SEND_INTERVAL", G::k2024, V::kStateSendInterval},
    {"COMMIT_VERSION", G::k2024, V::kCommitVersion},
}};

constexpr std::array<ReservedKey, 15> k2026Keys{{
    {"PU_DOMAIN", G::k2026, V::kDomain},
    {"PU_HTTP_TYPE", G::k2026, V::kHttpType},
    {"PU_APP_PREFIX", G::k2026, V::kAppPrefix},
    {"PU_API_ACTUAL_PREFIX", G::k2026, V::kApiPrefix},
    {"PU_MQTT_HOST", G::k2026, V::kMqttHost},
    {"PU_MQTT_PORT", G::k2026, V::kMqttPort},
    {"PU_MQTT_PING_INTERVAL", G::k2026, V::kPingInterval},
    {"PU_MQTT_KEEPALIVE", G::k2026, V::kMqttKeepalive},
    {"PU_AUTH_TOKEN", G::k2026, V::kAuthToken},
    {"PU_SECRET_KEY", G::k2026, V::kSecretKey},
    {"PU_ENCRYPT_KEY", G::k2026, V::kEncryptKey},
    {"PU_STATE_SEND_INTERVAL", G::k2026, V::kStateSendInterval},
    {"PU_MIN_LOG_LEVEL", G::k2026, V::kMinLogLevel},
    {"PU_MAX_LOG_LENGTH", G::k2026, V::kMaxLogLength},
    {"PU_COMMIT_VERSION", G::k2026, V::kCommitVersion},
}};

// 2024 firmware was written for 16-byte keys; 2026 firmware expects 32 (protocol §1.2).
std::size_t randomKeyBytes(EnvGeneration generation) {
  return generation == G::k2024 ? 16 : 32;
}

bool isVersionKey(std::string_view key) {
  return key == versionKey(G::k2024) || key == versionKey(G::k2026);
}

// `base` with every key of `top` set over it: existing keys keep their place, new ones follow
// in `top`'s order.
EnvJson overlay(EnvJson base, const EnvJson& top) {
  for (auto it = top.begin(); it != top.end(); ++it) {
    base[it.key()] = it.value();
  }
  return base;
}

// The example's keys first, in the example's order, then the remaining keys as they are.
EnvJson orderedLike(const EnvJson& example, const EnvJson& env) {
  EnvJson out = EnvJson::object();
  for (auto it = example.begin(); it != example.end(); ++it) {
    if (auto found = env.find(it.key()); found != env.end()) {
      out[it.key()] = *found;
    }
  }
  for (auto it = env.begin(); it != env.end(); ++it) {
    if (!out.contains(it.key())) {
      out[it.key()] = it.value();
    }
  }
  return out;
}

EnvJson withoutVersionKeys(EnvJson env) {
  env.erase(std::string(versionKey(G::k2024)));
  env.erase(std::string(versionKey(G::k2026)));
  return env;
}

}  // namespace

std::string_view toString(EnvGeneration generation) {
  return generation == G::k2024 ? "2024" : "2026";
}

std::span<const ReservedKey> reservedKeys(EnvGeneration generation) {
  if (generation == G::k2024) {
    return k2024Keys;
  }
  return k2026Keys;
}

std::optional<ReservedKey> findReservedKey(std::string_view name) {
  for (auto generation : {G::k2024, G::k2026}) {
    for (const auto& key : reservedKeys(generation)) {
      if (key.name == name) {
        return key;
      }
    }
  }
  return std::nullopt;
}

bool isReservedKey(std::string_view name) {
  return findReservedKey(name).has_value();
}

std::string_view versionKey(EnvGeneration generation) {
  return generation == G::k2024 ? "COMMIT_VERSION" : "PU_COMMIT_VERSION";
}

EnvGeneration detectEnvGenerationFromKeys(std::span<const std::string> env_example_keys) {
  for (const auto& name : env_example_keys) {
    if (auto key = findReservedKey(name); key && key->generation == G::k2026) {
      return G::k2026;
    }
  }
  return G::k2024;
}

EnvGeneration detectEnvGeneration(const EnvJson& env_example) {
  const auto keys = envKeys(env_example);
  return detectEnvGenerationFromKeys(keys);
}

std::vector<std::string> envKeys(const EnvJson& env) {
  std::vector<std::string> keys;
  if (env.is_object()) {
    keys.reserve(env.size());
    for (auto it = env.begin(); it != env.end(); ++it) {
      keys.push_back(it.key());
    }
  }
  return keys;
}

EnvJson parseEnvExample(std::string_view text) {
  auto env = EnvJson::parse(text, nullptr, /*allow_exceptions=*/false);
  if (env.is_discarded()) {
    throw Error(ErrorKind::kGitRepoValidation, "env_example.json is not valid JSON");
  }
  if (!env.is_object()) {
    throw Error(ErrorKind::kGitRepoValidation, "env_example.json must be a JSON object");
  }
  return env;
}

EnvJson parseEnvJsonString(std::string_view text) {
  auto env = EnvJson::parse(text, nullptr, /*allow_exceptions=*/false);
  if (env.is_discarded() || !env.is_object()) {
    throw Error(ErrorKind::kJsonDecode, "Data env_json_string is invalid");
  }
  return env;
}

EnvJson generateReservedValues(std::span<const std::string> env_example_keys,
                               const InstanceFacts& facts, std::string_view unit_token,
                               RandomSource& random) {
  auto random_key = [&random](std::size_t n) {
    std::vector<std::uint8_t> bytes(n);
    random.fill(bytes);
    return base64Encode(bytes);
  };

  EnvJson out = EnvJson::object();
  for (const auto& name : env_example_keys) {
    const auto key = findReservedKey(name);
    if (!key) {
      continue;
    }
    switch (key->value) {
      case V::kDomain:
        out[name] = facts.domain;
        break;
      case V::kHttpType:
        out[name] = facts.secure ? "https" : "http";
        break;
      case V::kAppPrefix:
        out[name] = facts.app_prefix;
        break;
      case V::kApiPrefix:
        out[name] = facts.api_prefix;
        break;
      case V::kMqttHost:
        out[name] = facts.mqtt_host;
        break;
      case V::kMqttPort:
        out[name] = facts.mqtt_port;
        break;
      case V::kPingInterval:
        out[name] = facts.ping_interval;
        break;
      case V::kMqttKeepalive:
        out[name] = facts.mqtt_keepalive;
        break;
      case V::kAuthToken:
        out[name] = std::string(unit_token);
        break;
      case V::kEncryptKey:
      case V::kSecretKey:
        out[name] = random_key(randomKeyBytes(key->generation));
        break;
      case V::kStateSendInterval:
        out[name] = facts.state_send_interval;
        break;
      case V::kMinLogLevel:
        out[name] = facts.min_log_level;
        break;
      case V::kMaxLogLength:
        out[name] = facts.max_log_length;
        break;
      case V::kCommitVersion:
        break;  // injected by envForGet, never stored
    }
  }
  return out;
}

EnvJson envForGet(const EnvJson& example, const std::optional<EnvJson>& stored,
                  std::string_view target_commit) {
  EnvJson env = EnvJson::object();
  for (auto it = example.begin(); it != example.end(); ++it) {
    if (!isReservedKey(it.key())) {
      env[it.key()] = it.value();
    }
  }
  if (stored && stored->is_object()) {
    env = overlay(std::move(env), *stored);
  }
  env = orderedLike(example, env);
  env[std::string(versionKey(detectEnvGeneration(example)))] = std::string(target_commit);
  return env;
}

EnvJson envForPatch(const EnvJson& user, const EnvJson& example, const EnvJson& generated) {
  EnvJson env = withoutVersionKeys(overlay(generated, user));
  requireCompleteEnv(env, example);
  return orderedLike(example, env);
}

EnvJson envMerge(const EnvJson& example, const EnvJson& generated, const EnvJson& current) {
  EnvJson env = overlay(overlay(example, generated), current);
  return orderedLike(example, withoutVersionKeys(std::move(env)));
}

std::vector<std::string> unresolvedEnvKeys(const EnvJson& env, const EnvJson& example) {
  std::vector<std::string> missing;
  for (auto it = example.begin(); it != example.end(); ++it) {
    if (!isVersionKey(it.key()) && !(env.is_object() && env.contains(it.key()))) {
      missing.push_back(it.key());
    }
  }
  std::sort(missing.begin(), missing.end());
  return missing;
}

void requireCompleteEnv(const EnvJson& env, const EnvJson& example) {
  const auto missing = unresolvedEnvKeys(env, example);
  if (missing.empty()) {
    return;
  }
  std::string set = "{";
  for (std::size_t i = 0; i < missing.size(); ++i) {
    set += (i == 0 ? "'" : ", '") + missing[i] + "'";
  }
  set += "}";
  throw Error(ErrorKind::kGitRepoValidation, "This env file has " + set + " unresolved variable");
}

EnvJson encodeEnvBody(EnvGeneration generation, const EnvJson& document) {
  if (generation == G::k2024) {
    return EnvJson(document.dump());
  }
  return document;
}

std::string base64Encode(std::span<const std::uint8_t> bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) |
                            std::uint32_t{bytes[i + 2]};
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (const std::size_t rest = bytes.size() - i; rest > 0) {
    std::uint32_t n = std::uint32_t{bytes[i]} << 16;
    if (rest == 2) {
      n |= std::uint32_t{bytes[i + 1]} << 8;
    }
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace pepeunit::domain
