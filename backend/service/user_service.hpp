// Users (pepeunit_backend_spec.md §2.1, §3.2-§3.4; issue 3 items 2-3): registration, login with
// throttling, reading, listing, self-update and Admin block/unblock.
//
// Login throttling (beyond the original). Failures are counted per login and per client address
// in a fixed window (`login_throttle_window_s`, opened by the first failure). Before a password
// is even checked, a login or address with `login_max_failures` failures in its window is
// refused with TooManyAttempts (HTTP 429 + Retry-After). A wrong password or an unknown login
// records a failure for both; a success clears both. Counter keys are SHA-256 hex digests, so
// neither a login nor an address is ever written to the cache.
//
// If the counter store (Redis) is down, throttling FAILS OPEN: logins are checked as if there
// were no failures and a warning is logged. Failing closed would turn a Redis outage into a
// total login outage for every user, while failing open only suspends the brute-force brake
// for the outage; PBKDF2 (100000 iterations per guess) still bounds the guessing rate.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cache/attempt_counter.hpp"
#include "common/errors.hpp"
#include "crypto/password.hpp"
#include "crypto/secret_box.hpp"
#include "domain/access.hpp"
#include "service/auth_service.hpp"
#include "store/user_store.hpp"

namespace pepeunit::service {

/// Login refused by throttling. what(): "Too many failed login attempts, retry in N s".
class TooManyAttempts : public Error {
 public:
  explicit TooManyAttempts(std::int64_t retry_after_s);
  /// Seconds for the `Retry-After` header (at least 1).
  std::int64_t retryAfterSeconds() const noexcept { return retry_after_s_; }

 private:
  std::int64_t retry_after_s_;
};

struct UserServiceOptions {
  /// BACKEND_STATIC_SALT, used as a string (§3.4).
  std::string static_salt;
  /// BACKEND_LOGIN_MAX_FAILURES: per login and per client address.
  int login_max_failures = 5;
  /// BACKEND_LOGIN_THROTTLE_WINDOW, seconds.
  std::int64_t login_throttle_window_s = 300;
  /// PBKDF2 iterations; §3.4 fixes 100000 for compatibility. Only tests lower it.
  int password_iterations = crypto::kPasswordIterations;
};

class UserService {
 public:
  UserService(store::UserStore& users, cache::AttemptCounter& attempts,
              const crypto::SecretBox& box, const AuthService& auth, UserServiceOptions options);

  /// Registration, anonymous callers only. The first user ever becomes Admin, later ones User;
  /// all start Unverified. Errors: 403 (caller has a token), 3 "Login is not correct",
  /// "Password is not correct", "Login is not unique".
  store::User create(const domain::Principal& caller, const std::string& login,
                     const std::string& password);

  /// A User JWT for `credentials` (login or telegram_chat_id) and `password`; anonymous callers
  /// only. Errors: TooManyAttempts; 2 "The object does not exist" (no such user, as the
  /// original); 1 "Password hash mismatched".
  std::string login(const domain::Principal& caller, const std::string& credentials,
                    const std::string& password, const std::string& client_address);

  /// Users and Admins. 2 "The object does not exist" when absent.
  store::User get(const domain::Principal& caller, const domain::Uuid& uuid);

  /// Users and Admins: every user matching `filter`.
  store::UserPage list(const domain::Principal& caller, const store::UserFilter& filter);

  /// Users and Admins update THEMSELVES (the original ignores the path uuid). An absent or empty
  /// field is left unchanged, as in the original.
  store::User update(const domain::Principal& caller, const std::optional<std::string>& login,
                     const std::optional<std::string>& password);

  /// Admins only. Blocked users' tokens are refused everywhere (AuthService).
  void block(const domain::Principal& caller, const domain::Uuid& uuid);
  /// Admins only: Verified if the user has a telegram_chat_id, else Unverified.
  void unblock(const domain::Principal& caller, const domain::Uuid& uuid);

  /// Users and Admins. Telegram verification is not part of this port, so this always throws:
  /// 2 "Telegram verification is not configured on this instance" (see the .cpp for why 422).
  std::string verificationLink(const domain::Principal& caller);

 private:
  struct ThrottleKeys {
    std::string login;
    std::string address;
  };
  static ThrottleKeys throttleKeys(const std::string& credentials,
                                   const std::string& client_address);
  void refuseIfThrottled(const ThrottleKeys& keys);
  void recordFailure(const ThrottleKeys& keys);
  void resetFailures(const ThrottleKeys& keys);

  store::PasswordHash hashNewPassword(const std::string& password) const;
  store::User existing(const domain::Uuid& uuid);

  store::UserStore& users_;
  cache::AttemptCounter& attempts_;
  const crypto::SecretBox& box_;
  const AuthService& auth_;
  UserServiceOptions options_;
};

}  // namespace pepeunit::service
