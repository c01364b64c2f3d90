// What authentication needs to know about a token's subject, without the rest of the entity.
#pragma once

#include <optional>

#include "domain/enums.hpp"
#include "domain/uuid.hpp"

namespace pepeunit::store {

struct UserAuthFacts {
  domain::Role role = domain::Role::kUser;
  domain::UserStatus status = domain::UserStatus::kUnverified;
};

class PrincipalStore {
 public:
  virtual ~PrincipalStore() = default;
  virtual std::optional<UserAuthFacts> userFacts(const domain::Uuid& user) = 0;
  virtual bool unitExists(const domain::Uuid& unit) = 0;
};

}  // namespace pepeunit::store
