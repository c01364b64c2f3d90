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
  if (!token)
    return Principal::bot();
  const auto result = crypto::verifyJwt(*token, secret_key_, clock_());
  if (result.status == crypto::JwtStatus::kExpired)
    throw NoAccess("Token expired");
  if (!result.ok())
    throw NoAccess("Token is invalid");

  const auto& claims = result.payload;
  if (!claims.is_object() || !claims.contains("uuid") || !claims["uuid"].is_string() ||
      !claims.contains("type") || !claims["type"].is_string()) {
    throw NoAccess("Token is invalid");
  }
  const auto uuid = Uuid::parse(claims["uuid"].get<std::string>());
  if (!uuid)
    throw NoAccess("Token is invalid");
  const auto type = claims["type"].get<std::string>();

  if (type != "User" && type != "Unit")
    throw NoAccess("Token is invalid");
  if (auto known = remembered(*uuid); known && known->isUnit() == (type == "Unit")) {
    return *known;
  }
  Principal principal = Principal::bot();
  if (type == "User") {
    const auto facts = principals_.userFacts(*uuid);
    if (!facts)
      throw NoAccess("User not found");
    if (facts->status == domain::UserStatus::kBlocked)
      throw NoAccess("User is Blocked");
    principal = Principal::user(*uuid, facts->role, facts->status);
  } else {
    if (!principals_.unitExists(*uuid))
      throw NoAccess("Agent not found");
    principal = Principal::unit(*uuid);
  }
  remember(*uuid, principal);
  return principal;
}

std::optional<Principal> AuthService::remembered(const Uuid& subject) const {
  std::lock_guard lock(mutex_);
  const auto it = remembered_.find(subject);
  if (it == remembered_.end() || it->second.until < clock_())
    return std::nullopt;
  return it->second.principal;
}

void AuthService::remember(const Uuid& subject, const Principal& principal) const {
  std::lock_guard lock(mutex_);
  if (remembered_.size() >= kMaxRemembered)
    remembered_.clear();  // bounded, cheap to refill
  remembered_[subject] = {principal, clock_() + kFactsTtlS};
}

void AuthService::forget(const Uuid& subject) const {
  std::lock_guard lock(mutex_);
  remembered_.erase(subject);
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
