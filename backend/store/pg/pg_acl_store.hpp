// Postgres implementation of AclStore: the facts of a unit's broker rule set in one snapshot.
#pragma once

#include "store/acl_store.hpp"
#include "store/pg/pool.hpp"

namespace pepeunit::store::pg {

class PgAclStore : public AclStore {
 public:
  explicit PgAclStore(Pool& pool) : pool_(pool) {}

  std::optional<AclFacts> factsFor(const domain::Uuid& unit, std::int64_t now_unix,
                                   std::size_t max_visible) override;
  std::optional<AclNode> visibleForeignNode(const domain::Uuid& unit, const domain::Uuid& node,
                                            std::int64_t now_unix) override;
  std::vector<domain::Uuid> unitsWithGrantsLapsed(std::int64_t after_unix,
                                                  std::int64_t until_unix) override;

 private:
  Pool& pool_;
};

}  // namespace pepeunit::store::pg
