// HS256 JWT signing and verification (see the header for the exact rules).
#include "crypto/jwt.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>

#include "common/errors.hpp"
#include "crypto/base64.hpp"
#include "crypto/digest.hpp"

namespace pepeunit::crypto {
namespace {

// PyJWT sorts header keys and dumps compactly, so this is its exact HS256 header.
constexpr std::string_view kHeaderJson = R"({"alg":"HS256","typ":"JWT"})";

// Parses a base64url segment holding a JSON object; nullopt on anything else.
std::optional<nlohmann::json> decodeObject(std::string_view segment) {
  const std::optional<std::string> text = base64UrlDecode(segment);
  if (!text) {
    return std::nullopt;
  }
  nlohmann::json value = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!value.is_object()) {  // a parse failure is `discarded`, which is not an object either
    return std::nullopt;
  }
  return value;
}

// A NumericDate claim as PyJWT reads it (int(value)); nullopt if it is not a finite number.
std::optional<std::int64_t> numericDate(const nlohmann::json& claim) {
  if (claim.is_number_unsigned()) {  // may exceed int64: clamp, it is "far future" either way
    const auto v = claim.get<std::uint64_t>();
    return v > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(v);
  }
  if (claim.is_number_integer()) {
    return claim.get<std::int64_t>();
  }
  if (claim.is_number_float()) {
    const double v = claim.get<double>();
    // Bounds keep the cast defined; a date this far out is nonsense anyway.
    if (std::isfinite(v) && std::fabs(v) < 9.0e18) {
      return static_cast<std::int64_t>(v);
    }
  }
  return std::nullopt;
}

}  // namespace

std::string signJwt(const nlohmann::ordered_json& payload, std::string_view key) {
  if (!payload.is_object()) {
    throw Error(ErrorKind::kInternal, "Cannot sign token", "JWT payload must be a JSON object");
  }
  // indent -1: compact (no spaces); ensure_ascii: \uXXXX like Python's json.dumps.
  std::string signing_input = base64UrlEncode(kHeaderJson);
  signing_input += '.';
  signing_input += base64UrlEncode(payload.dump(-1, ' ', /*ensure_ascii=*/true));
  const std::string signature = hmacSha256(key, signing_input);
  signing_input += '.';
  signing_input += base64UrlEncode(signature);
  return signing_input;
}

JwtResult verifyJwt(std::string_view token, std::string_view key, std::int64_t now_unix) {
  const size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) {
    return {};
  }
  const size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return {};
  }

  // The algorithm is pinned: "none", HS384/512, RS256 (key confusion) etc. are all rejected.
  const std::optional<nlohmann::json> header = decodeObject(token.substr(0, dot1));
  if (!header) {
    return {};
  }
  const auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string() || alg->get_ref<const std::string&>() != "HS256" ||
      header->contains("crit")) {
    return {};
  }

  const std::optional<std::string> signature = base64UrlDecode(token.substr(dot2 + 1));
  if (!signature || !constantTimeEquals(hmacSha256(key, token.substr(0, dot2)), *signature)) {
    return {};
  }

  std::optional<nlohmann::json> payload = decodeObject(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!payload) {
    return {};
  }
  if (const auto exp = payload->find("exp"); exp != payload->end()) {
    const std::optional<std::int64_t> when = numericDate(*exp);
    if (!when) {
      return {};
    }
    if (*when <= now_unix) {
      return JwtResult{JwtStatus::kExpired, nullptr};
    }
  }
  if (const auto nbf = payload->find("nbf"); nbf != payload->end()) {
    const std::optional<std::int64_t> when = numericDate(*nbf);
    if (!when || *when > now_unix) {
      return {};
    }
  }
  return JwtResult{JwtStatus::kOk, std::move(*payload)};
}

JwtResult verifyJwt(std::string_view token, std::string_view key) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return verifyJwt(token, key, std::chrono::duration_cast<std::chrono::seconds>(now).count());
}

}  // namespace pepeunit::crypto
