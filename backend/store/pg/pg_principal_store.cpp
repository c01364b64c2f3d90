// Two indexed point lookups per authenticated request.
#include "store/pg/pg_principal_store.hpp"

namespace pepeunit::store::pg {
namespace {

constexpr const char* kUserFacts = "SELECT role, status FROM users WHERE uuid = $1";
constexpr const char* kUnitExists = "SELECT 1 FROM units WHERE uuid = $1";

}  // namespace

std::optional<UserAuthFacts> PgPrincipalStore::userFacts(const domain::Uuid& user) {
  return pool_.withRead([&](pqxx::nontransaction& tx) -> std::optional<UserAuthFacts> {
    const auto rows = tx.exec_params(kUserFacts, user.toString());
    if (rows.empty())
      return std::nullopt;
    const auto role = domain::parseRole(rows[0][0].c_str());
    const auto status = domain::parseUserStatus(rows[0][1].c_str());
    if (!role || !status)
      return std::nullopt;
    return UserAuthFacts{*role, *status};
  });
}

bool PgPrincipalStore::unitExists(const domain::Uuid& unit) {
  return pool_.withRead([&](pqxx::nontransaction& tx) {
    return !tx.exec_params(kUnitExists, unit.toString()).empty();
  });
}

}  // namespace pepeunit::store::pg
