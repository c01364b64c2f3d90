// Persistence of users (pepeunit_backend_spec.md §1.1) as the user service sees it. The service
// depends on this interface only; store/pg/pg_user_store.hpp implements it over PostgreSQL and
// tests/fakes/fake_user_store.hpp in memory.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/enums.hpp"
#include "domain/uuid.hpp"

namespace pepeunit::store {

/// Microseconds since the Unix epoch of a naive-UTC `timestamp` column.
using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;

/// One `users` row.
struct User {
  domain::Uuid uuid;
  domain::Role role = domain::Role::kUser;
  domain::UserStatus status = domain::UserStatus::kUnverified;
  std::string login;
  std::optional<std::string> telegram_chat_id;
  std::string hashed_password;
  std::string cipher_dynamic_salt;
  Timestamp create_datetime{};
};

/// The two columns a password change writes together.
struct PasswordHash {
  std::string hashed_password;
  std::string cipher_dynamic_salt;
};

/// What registration stores; uuid, role and create_datetime are decided by the store.
struct NewUser {
  std::string login;
  PasswordHash password;
  domain::UserStatus status = domain::UserStatus::kUnverified;
};

/// `GET /users` filters (§2.1 UserFilter). Empty vectors mean "no filter on that column".
struct UserFilter {
  std::vector<domain::Uuid> uuids;
  /// Every word must be a case-insensitive substring of the login, taken literally (no LIKE
  /// wildcards).
  std::vector<std::string> search_words;
  std::vector<domain::Role> roles;
  std::vector<domain::UserStatus> statuses;
  bool newest_first = true;
  std::int64_t offset = 0;
  /// nullopt = no limit.
  std::optional<std::int64_t> limit;
};

struct UserPage {
  /// Matching rows before offset/limit.
  std::int64_t count = 0;
  std::vector<User> rows;
};

class UserStore {
 public:
  virtual ~UserStore() = default;

  /// Inserts a user whose role is decided atomically with the insert: Admin when the table is
  /// empty, User otherwise, so two concurrent first registrations cannot both become Admin.
  /// A taken login throws Error(kUserValidation, "Login is not unique").
  virtual User insertDecidingRole(const NewUser& user) = 0;

  virtual std::optional<User> findByUuid(const domain::Uuid& uuid) = 0;

  /// The user whose login, or else whose telegram_chat_id, equals `credentials` exactly.
  virtual std::optional<User> findByCredentials(std::string_view credentials) = 0;

  virtual UserPage list(const UserFilter& filter) = 0;

  /// Writes only the given columns; nullopt when no such user exists. A taken login throws
  /// Error(kUserValidation, "Login is not unique").
  virtual std::optional<User> updateLoginAndPassword(
      const domain::Uuid& uuid, const std::optional<std::string>& login,
      const std::optional<PasswordHash>& password) = 0;

  /// False when no such user exists.
  virtual bool setStatus(const domain::Uuid& uuid, domain::UserStatus status) = 0;
};

}  // namespace pepeunit::store
