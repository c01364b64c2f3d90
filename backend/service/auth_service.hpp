// Tokens in and out: turns an `x-auth-token` into the caller (spec §3.1 validation order) and
// issues User and Unit JWTs.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

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

  /// Drops what this process remembers about a subject; called when its status changes
  /// (block, unblock) or it is deleted, so the change applies here at once.
  void forget(const domain::Uuid& subject) const;

 private:
  // The signature and expiry of a token are checked on every request; only the subject's
  // facts (role, status, existence) are remembered, for at most kFactsTtlS seconds (+ the
  // clock's 1 s granularity), to spare the database one lookup per request. Other backend
  // instances see a block or delete within that time.
  static constexpr std::int64_t kFactsTtlS = 1;
  static constexpr std::size_t kMaxRemembered = 10000;
  struct Remembered {
    domain::Principal principal;
    std::int64_t until = 0;
  };
  std::optional<domain::Principal> remembered(const domain::Uuid& subject) const;
  void remember(const domain::Uuid& subject, const domain::Principal& principal) const;

  mutable std::mutex mutex_;
  mutable std::unordered_map<domain::Uuid, Remembered> remembered_;
  std::string secret_key_;
  std::int64_t user_token_lifetime_s_;
  store::PrincipalStore& principals_;
  Clock clock_;
};

}  // namespace pepeunit::service
