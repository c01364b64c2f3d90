// UserStore over PostgreSQL: parameterized SQL only, unique-key violations mapped to the E3
// user errors at this edge.
#pragma once

#include "store/pg/pool.hpp"
#include "store/user_store.hpp"

namespace pepeunit::store::pg {

class PgUserStore : public UserStore {
 public:
  explicit PgUserStore(Pool& pool) : pool_(pool) {}

  User insertDecidingRole(const NewUser& user) override;
  std::optional<User> findByUuid(const domain::Uuid& uuid) override;
  std::optional<User> findByCredentials(std::string_view credentials) override;
  UserPage list(const UserFilter& filter) override;
  std::optional<User> updateLoginAndPassword(const domain::Uuid& uuid,
                                             const std::optional<std::string>& login,
                                             const std::optional<PasswordHash>& password) override;
  bool setStatus(const domain::Uuid& uuid, domain::UserStatus status) override;

 private:
  Pool& pool_;
};

}  // namespace pepeunit::store::pg
