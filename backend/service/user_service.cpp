// User rules. Messages follow the original E3 code so existing clients see the same `detail`.
#include "service/user_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <initializer_list>

#include "crypto/digest.hpp"
#include "domain/names.hpp"

namespace pepeunit::service {
namespace {

using domain::Principal;
using domain::Role;
using domain::UserStatus;
using domain::Uuid;

constexpr const char* kObjectDoesNotExist = "The object does not exist";
constexpr const char* kLoginNotCorrect = "Login is not correct";
constexpr const char* kPasswordNotCorrect = "Password is not correct";
constexpr const char* kPasswordMismatch = "Password hash mismatched";
// Telegram verification (§3.3) needs a bot this port does not run. The answer is a 422 code-2
// validation error rather than a 503: it is a permanent property of the instance, not an outage
// worth retrying (proxies and clients treat 503 as transient), and clients of the original
// already render any `{"detail": "<code>: ..."}` 422 from this route.
constexpr const char* kTelegramNotConfigured =
    "Telegram verification is not configured on this instance";
// Address keys live beside login keys under the counter's prefix; the digest is hex, so it never
// contains ':' and cannot collide with this marker.
constexpr const char* kAddressKeyMarker = "addr:";

/// The access_check of the original (§3.2) with its E3 messages. Units never pass here.
void requireRole(const Principal& caller, std::initializer_list<Role> roles) {
  if (domain::roleAllowed(caller, roles, /*unit_allowed=*/false)) {
    return;
  }
  if (caller.isBlocked()) {
    throw NoAccess("User is Blocked");
  }
  if (caller.isUnit()) {
    throw NoAccess("The resource is not available for the current Unit");
  }
  throw NoAccess("The current user role is not in the list of available roles");
}

void requireUserOrAdmin(const Principal& caller) {
  requireRole(caller, {Role::kUser, Role::kAdmin});
}

std::string sha256Hex(const std::string& text) {
  return crypto::toHex(crypto::sha256(text));
}

}  // namespace

TooManyAttempts::TooManyAttempts(std::int64_t retry_after_s)
    : Error(ErrorKind::kTooManyRequests,
            "Too many failed login attempts, retry in " +
                std::to_string(std::max<std::int64_t>(retry_after_s, 1)) + " s"),
      retry_after_s_(std::max<std::int64_t>(retry_after_s, 1)) {}

UserService::UserService(store::UserStore& users, cache::AttemptCounter& attempts,
                         const crypto::SecretBox& box, const AuthService& auth,
                         UserServiceOptions options)
    : users_(users), attempts_(attempts), box_(box), auth_(auth), options_(std::move(options)) {}

store::User UserService::create(const Principal& caller, const std::string& login,
                                const std::string& password) {
  requireRole(caller, {Role::kBot});
  if (!domain::isValidName(login)) {
    throw Error(ErrorKind::kUserValidation, kLoginNotCorrect);
  }
  if (!domain::isValidPassword(password)) {
    throw Error(ErrorKind::kUserValidation, kPasswordNotCorrect);
  }
  return users_.insertDecidingRole(
      {.login = login, .password = hashNewPassword(password), .status = UserStatus::kUnverified});
}

std::string UserService::login(const Principal& caller, const std::string& credentials,
                               const std::string& password, const std::string& client_address) {
  requireRole(caller, {Role::kBot});
  const auto keys = throttleKeys(credentials, client_address);
  refuseIfThrottled(keys);

  const auto user = users_.findByCredentials(credentials);
  if (!user) {
    recordFailure(keys);
    throw ValidationError(kObjectDoesNotExist);
  }
  const auto dynamic_salt = box_.decrypt(user->cipher_dynamic_salt);
  if (!crypto::verifyPassword(password, dynamic_salt, options_.static_salt, user->hashed_password,
                              options_.password_iterations)) {
    recordFailure(keys);
    throw NoAccess(kPasswordMismatch);
  }
  resetFailures(keys);
  return auth_.issueUserToken(user->uuid);
}

store::User UserService::get(const Principal& caller, const Uuid& uuid) {
  requireUserOrAdmin(caller);
  return existing(uuid);
}

store::UserPage UserService::list(const Principal& caller, const store::UserFilter& filter) {
  requireUserOrAdmin(caller);
  return users_.list(filter);
}

store::User UserService::update(const Principal& caller, const std::optional<std::string>& login,
                                const std::optional<std::string>& password) {
  requireUserOrAdmin(caller);
  // Like the original, an empty string means "leave unchanged".
  std::optional<std::string> new_login;
  if (login && !login->empty()) {
    if (!domain::isValidName(*login)) {
      throw Error(ErrorKind::kUserValidation, kLoginNotCorrect);
    }
    new_login = *login;
  }
  std::optional<store::PasswordHash> new_password;
  if (password && !password->empty()) {
    if (!domain::isValidPassword(*password)) {
      throw Error(ErrorKind::kUserValidation, kPasswordNotCorrect);
    }
    new_password = hashNewPassword(*password);
  }
  const auto updated = users_.updateLoginAndPassword(*caller.uuid, new_login, new_password);
  if (!updated) {
    throw ValidationError(kObjectDoesNotExist);
  }
  return *updated;
}

void UserService::block(const Principal& caller, const Uuid& uuid) {
  requireRole(caller, {Role::kAdmin});
  existing(uuid);
  if (!users_.setStatus(uuid, UserStatus::kBlocked)) {
    throw ValidationError(kObjectDoesNotExist);
  }
  auth_.forget(uuid);
}

void UserService::unblock(const Principal& caller, const Uuid& uuid) {
  requireRole(caller, {Role::kAdmin});
  const auto user = existing(uuid);
  const auto status = user.telegram_chat_id ? UserStatus::kVerified : UserStatus::kUnverified;
  if (!users_.setStatus(uuid, status)) {
    throw ValidationError(kObjectDoesNotExist);
  }
  auth_.forget(uuid);
}

std::string UserService::verificationLink(const Principal& caller) {
  requireUserOrAdmin(caller);
  throw ValidationError(kTelegramNotConfigured);
}

UserService::ThrottleKeys UserService::throttleKeys(const std::string& credentials,
                                                    const std::string& client_address) {
  return {sha256Hex(credentials), kAddressKeyMarker + sha256Hex(client_address)};
}

void UserService::refuseIfThrottled(const ThrottleKeys& keys) {
  std::int64_t retry_after = 0;
  bool locked = false;
  try {
    for (const auto* key : {&keys.login, &keys.address}) {
      if (attempts_.failures(*key) >= options_.login_max_failures) {
        locked = true;
        retry_after = std::max(retry_after, attempts_.retryAfter(*key));
      }
    }
  } catch (const Error& e) {
    spdlog::warn("login throttling skipped, failure counters unavailable: {} ({})", e.what(),
                 e.internal());
    return;  // fail open, see the header
  }
  if (locked) {
    throw TooManyAttempts(retry_after);
  }
}

void UserService::recordFailure(const ThrottleKeys& keys) {
  try {
    attempts_.recordFailure(keys.login, options_.login_throttle_window_s);
    attempts_.recordFailure(keys.address, options_.login_throttle_window_s);
  } catch (const Error& e) {
    spdlog::warn("login failure not counted, failure counters unavailable: {} ({})", e.what(),
                 e.internal());
  }
}

void UserService::resetFailures(const ThrottleKeys& keys) {
  try {
    attempts_.reset(keys.login);
    attempts_.reset(keys.address);
  } catch (const Error& e) {
    spdlog::warn("login failure counters not reset, unavailable: {} ({})", e.what(), e.internal());
  }
}

store::PasswordHash UserService::hashNewPassword(const std::string& password) const {
  const auto dynamic_salt = crypto::newDynamicSalt();
  return {crypto::hashPassword(password, dynamic_salt, options_.static_salt,
                               options_.password_iterations),
          box_.encrypt(dynamic_salt)};
}

store::User UserService::existing(const Uuid& uuid) {
  auto user = users_.findByUuid(uuid);
  if (!user) {
    throw ValidationError(kObjectDoesNotExist);
  }
  return std::move(*user);
}

}  // namespace pepeunit::service
