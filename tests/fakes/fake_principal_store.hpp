// In-memory PrincipalStore for service tests.
#pragma once

#include <map>
#include <set>

#include "store/principal_store.hpp"

namespace pepeunit::fakes {

class FakePrincipalStore : public store::PrincipalStore {
 public:
  std::map<domain::Uuid, store::UserAuthFacts> users;
  std::set<domain::Uuid> units;

  std::optional<store::UserAuthFacts> userFacts(const domain::Uuid& user) override {
    const auto it = users.find(user);
    if (it == users.end())
      return std::nullopt;
    return it->second;
  }
  bool unitExists(const domain::Uuid& unit) override { return units.count(unit) > 0; }
};

}  // namespace pepeunit::fakes
