// The repo contract file `env_example.json` and the Unit's env.json (pepeunit_backend_spec.md
// §2.4, §6.2, §7.6 step 4, §7.7; pepeunit_unit_protocol.md §1.2; DESIGN §3).
//
// Both device generations work at once, with no instance-wide switch: a repo's env_example.json
// declares the reserved keys its firmware reads (`PEPEUNIT_TOKEN`, ... for 2024-generation
// firmware, `PU_AUTH_TOKEN`, ... for 2026-generation firmware) and the backend fills exactly the
// declared ones. The generation (detected from the declared keys) only picks the name of the
// version key and how REST GET bodies are encoded.
//
// Pure: the caller supplies the facts (config values, the Unit's token, randomness).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "domain/uuid.hpp"

namespace pepeunit::domain {

/// An env document: a flat JSON object, key order kept as the developer wrote it.
using EnvJson = nlohmann::ordered_json;

enum class EnvGeneration {
  k2024,  // PEPEUNIT_URL, PEPEUNIT_TOKEN, ..., COMMIT_VERSION; GET bodies double-encoded
  k2026,  // PU_DOMAIN, PU_AUTH_TOKEN, ..., PU_COMMIT_VERSION; GET bodies plain objects
};

std::string_view toString(EnvGeneration generation);

/// What a reserved key's value is.
enum class ReservedValue {
  kDomain,             // BACKEND_DOMAIN (string)
  kHttpType,           // "https" if BACKEND_SECURE else "http"
  kAppPrefix,          // BACKEND_APP_PREFIX, e.g. "/pepeunit"
  kApiPrefix,          // BACKEND_API_V1_PREFIX, e.g. "/api/v1"
  kMqttHost,           // MQTT host (string)
  kMqttPort,           // MQTT port (number)
  kPingInterval,       // seconds (number)
  kMqttKeepalive,      // seconds (number)
  kAuthToken,          // the Unit's JWT
  kEncryptKey,         // base64 of random bytes (16 for 2024 keys, 32 for 2026 keys)
  kSecretKey,          // base64 of random bytes (16 for 2024 keys, 32 for 2026 keys)
  kStateSendInterval,  // seconds (number)
  kMinLogLevel,        // e.g. "Debug"
  kMaxLogLength,       // number
  kCommitVersion,      // target commit: injected on GET and into archives, never stored
};

struct ReservedKey {
  std::string_view name;
  EnvGeneration generation;
  ReservedValue value;
};

/// The reserved keys of one generation, in the protocol's table order.
std::span<const ReservedKey> reservedKeys(EnvGeneration generation);

/// The reserved key of either generation named `name`, if any.
std::optional<ReservedKey> findReservedKey(std::string_view name);
bool isReservedKey(std::string_view name);

/// COMMIT_VERSION or PU_COMMIT_VERSION.
std::string_view versionKey(EnvGeneration generation);

/// k2026 if any key is a 2026 (`PU_*`) reserved key, else k2024 (also for a repo that declares
/// no reserved key at all, which is what 2024-era firmware without a backend connection does).
EnvGeneration detectEnvGenerationFromKeys(std::span<const std::string> env_example_keys);
EnvGeneration detectEnvGeneration(const EnvJson& env_example);

/// The keys of a JSON object, in order.
std::vector<std::string> envKeys(const EnvJson& env);

/// env_example.json text → object. Throws Error(kGitRepoValidation) if it is not a JSON object.
EnvJson parseEnvExample(std::string_view text);

/// The `env_json_string` of PATCH /units/env → object. Throws Error(kJsonDecode,
/// "Data env_json_string is invalid") if it is not a JSON object (§2.4: error 9).
EnvJson parseEnvJsonString(std::string_view text);

/// The instance facts the reserved values come from (backend spec §10, protocol §1.2).
struct InstanceFacts {
  std::string domain;   // BACKEND_DOMAIN
  bool secure = false;  // BACKEND_SECURE
  std::string app_prefix = "/pepeunit";
  std::string api_prefix = "/api/v1";
  std::string mqtt_host;
  std::int64_t mqtt_port = 1883;
  std::int64_t ping_interval = 30;
  std::int64_t mqtt_keepalive = 60;
  std::int64_t state_send_interval = 60;
  std::string min_log_level = "Debug";
  std::int64_t max_log_length = 64;
};

/// Fresh values for exactly the reserved keys (of either generation) among
/// `env_example_keys`, in that order; the version key is never generated (it is injected by
/// envForGet). Numbers are JSON numbers (ports, intervals, lengths); keys are new random bytes
/// on every call; `unit_token` is the Unit's JWT.
EnvJson generateReservedValues(std::span<const std::string> env_example_keys,
                               const InstanceFacts& facts, std::string_view unit_token,
                               RandomSource& random);

/// GET /units/env (§2.4): `example` without any reserved key, overlaid by `stored` (stored values
/// win; stored keys missing from the example are kept), then the version key of the example's
/// generation set to `target_commit`. Also the env.json of a firmware archive (§7.7).
EnvJson envForGet(const EnvJson& example, const std::optional<EnvJson>& stored,
                  std::string_view target_commit);

/// PATCH /units/env (§2.4): `generated` overlaid by `user` (a reserved key the user supplied is
/// kept as given), version keys dropped, then the completeness check against `example`.
/// Returns the env to encrypt and store. Throws Error(kGitRepoValidation) listing the missing
/// keys. The version keys are exempt from completeness: they are never stored.
EnvJson envForPatch(const EnvJson& user, const EnvJson& example, const EnvJson& generated);

/// Reconcile (§7.6 step 4): `example` overlaid by `generated` overlaid by `current` (current
/// values win), version keys dropped. New developer variables get their example defaults;
/// existing values, tokens and keys are kept.
EnvJson envMerge(const EnvJson& example, const EnvJson& generated, const EnvJson& current);

/// The keys of `example` missing from `env` (version keys exempt), sorted.
std::vector<std::string> unresolvedEnvKeys(const EnvJson& env, const EnvJson& example);

/// Throws Error(kGitRepoValidation, "This env file has {'A', 'B'} unresolved variable") when
/// unresolvedEnvKeys() is not empty (the original's message, with the set sorted).
void requireCompleteEnv(const EnvJson& env, const EnvJson& example);

/// The HTTP body of GET env / GET current schema (DESIGN §3): 2024 generation: a JSON string
/// holding the compact JSON text (double-encoded, as 2024 firmware json-decodes twice);
/// 2026 generation: the object itself.
EnvJson encodeEnvBody(EnvGeneration generation, const EnvJson& document);

/// Standard base64 with padding (Python's base64.b64encode), as the reserved keys use.
std::string base64Encode(std::span<const std::uint8_t> bytes);

}  // namespace pepeunit::domain
