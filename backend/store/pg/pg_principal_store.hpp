// PrincipalStore over PostgreSQL.
#pragma once

#include "store/pg/pool.hpp"
#include "store/principal_store.hpp"

namespace pepeunit::store::pg {

class PgPrincipalStore : public PrincipalStore {
 public:
  explicit PgPrincipalStore(Pool& pool) : pool_(pool) {}
  std::optional<UserAuthFacts> userFacts(const domain::Uuid& user) override;
  bool unitExists(const domain::Uuid& unit) override;

 private:
  Pool& pool_;
};

}  // namespace pepeunit::store::pg
