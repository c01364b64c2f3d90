// Token validation order follows the original so clients see the same messages.
#include "service/auth_service.hpp"

#include "common/errors.hpp"
#include "crypto/jwt.hpp"

namespace pepeunit::service {

using domain::Principal;
using domain::Uuid;

AuthService::AuthService(std::string secret_key, std::int64_t user_token_lifetime_s,
                         store::PrincipalStore& principals, Clock clock)
    : secret_key_(std::move(secret_key)),
      user_token_lifetime_s_(user_token_lifetime_s),
      principals_(principals),
      clock_(std::move(clock)) {}

Principal AuthService::authenticate(const std::optional<std::string>& token) const {
  if (!token) return Principal::bot();
  const auto result = crypto::verifyJwt(*token, secret_key_, clock_());
  if (result.status == crypto::JwtStatus::kExpired) throw NoAccess("Token expired");
  if (!result.ok()) throw NoAccess("Token is invalid");

  const auto& claims = result.payload;
  if (!claims.is_object() || !claims.contains("uuid") || !claims["uuid"].is_string() ||
      !claims.contains("type") || !claims["type"].is_string()) {
    throw NoAccess("Token is invalid");
  }
  const auto uuid = Uuid::parse(claims["uuid"].get<std::string>());
  if (!uuid) throw NoAccess("Token is invalid");
  const auto type = claims["type"].get<std::string>();

  if (type == "User") {
    const auto facts = principals_.userFacts(*uuid);
    if (!facts) throw NoAccess("User not found");
    if (facts->status == domain::UserStatus::kBlocked) throw NoAccess("User is Blocked");
    return Principal::user(*uuid, facts->role, facts->status);
  }
  if (type == "Unit") {
    if (!principals_.unitExists(*uuid)) throw NoAccess("Agent not found");
    return Principal::unit(*uuid);
  }
  throw NoAccess("Token is invalid");
}

std::string AuthService::issueUserToken(const Uuid& user) const {
  nlohmann::ordered_json claims;
  claims["uuid"] = user.toString();
  claims["type"] = "User";
  claims["exp"] = clock_() + user_token_lifetime_s_;
  return crypto::signJwt(claims, secret_key_);
}

std::string AuthService::issueUnitToken(const Uuid& unit) const {
  nlohmann::ordered_json claims;
  claims["uuid"] = unit.toString();
  claims["type"] = "Unit";
  return crypto::signJwt(claims, secret_key_);
}

}  // namespace pepeunit::service
