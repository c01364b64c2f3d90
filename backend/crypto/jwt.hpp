// HS256 JSON Web Tokens, byte-compatible with what the original produced via PyJWT (spec §3.1):
// header exactly {"alg":"HS256","typ":"JWT"}, payload compact JSON in insertion order with
// non-ASCII escaped as \uXXXX (json.dumps defaults), segments base64url without padding.
// Devices read their uuid by searching the payload for the literal `"uuid":"`, so a unit token
// payload must be exactly {"uuid":"…","type":"Unit"}: build it as an ordered_json.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace pepeunit::crypto {

enum class JwtStatus {
  kOk,       // signature valid, claims acceptable
  kExpired,  // signature valid but `exp` <= now        -> "Token expired"
  kInvalid,  // anything else (format, alg, signature)  -> "Token is invalid"
};

struct JwtResult {
  JwtStatus status = JwtStatus::kInvalid;
  nlohmann::json payload;  // the claims when status == kOk, null otherwise

  bool ok() const noexcept { return status == JwtStatus::kOk; }
};

/// Signs `payload` (must be a JSON object, else throws pepeunit::Error(kInternal)) with
/// HMAC-SHA256 under `key` (the raw UTF-8 bytes of BACKEND_SECRET_KEY).
std::string signJwt(const nlohmann::ordered_json& payload, std::string_view key);

/// Verifies a compact HS256 JWT. Order: 3 segments -> header is a JSON object with
/// alg == "HS256" and no `crit` -> signature (constant time) -> payload is a JSON object ->
/// `exp` (if present it must be a number; exp <= now is kExpired, as PyJWT) -> `nbf` (if present,
/// nbf > now is kInvalid). Never throws on malformed input.
JwtResult verifyJwt(std::string_view token, std::string_view key, std::int64_t now_unix);

/// Same, with now = the system clock.
JwtResult verifyJwt(std::string_view token, std::string_view key);

}  // namespace pepeunit::crypto
