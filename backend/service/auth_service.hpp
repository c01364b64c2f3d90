// Tokens in and out: turns an `x-auth-token` into the caller (spec §3.1 validation order) and
// issues User and Unit JWTs.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "domain/access.hpp"
#include "store/principal_store.hpp"

namespace pepeunit::service {

class AuthService {
 public:
  using Clock = std::function<std::int64_t()>;  // unix seconds

  AuthService(std::string secret_key, std::int64_t user_token_lifetime_s,
              store::PrincipalStore& principals, Clock clock);

  /// No token → Bot. Otherwise NoAccess with the original's messages: "Token expired",
  /// "Token is invalid", "User not found", "User is Blocked", "Agent not found".
  domain::Principal authenticate(const std::optional<std::string>& token) const;

  /// `{"uuid":…,"type":"User","exp":…}`.
  std::string issueUserToken(const domain::Uuid& user) const;
  /// Exactly `{"uuid":"…","type":"Unit"}`: no exp, deterministic (devices parse it literally).
  std::string issueUnitToken(const domain::Uuid& unit) const;

 private:
  std::string secret_key_;
  std::int64_t user_token_lifetime_s_;
  store::PrincipalStore& principals_;
  Clock clock_;
};

}  // namespace pepeunit::service
