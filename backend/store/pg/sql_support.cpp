// Column decoding shared by the Postgres stores.
#include "store/pg/sql_support.hpp"

#include "common/errors.hpp"

namespace pepeunit::store::pg {

std::string uuidArray(const std::vector<domain::Uuid>& uuids) {
  return arrayLiteral(uuids, [](const domain::Uuid& u) { return u.toString(); });
}

domain::Uuid uuidOf(const pqxx::field& field) {
  const auto uuid = domain::Uuid::parse(field.c_str());
  if (!uuid) {
    throw Error(ErrorKind::kInternal, "Internal server error",
                std::string("column ") + field.name() + ": bad uuid " + field.c_str());
  }
  return *uuid;
}

std::optional<domain::Uuid> optionalUuidOf(const pqxx::field& field) {
  if (field.is_null())
    return std::nullopt;
  return uuidOf(field);
}

std::optional<std::string> optionalTextOf(const pqxx::field& field) {
  if (field.is_null())
    return std::nullopt;
  return std::string(field.c_str());
}

Timestamp timestampOf(const pqxx::field& field) {
  return Timestamp(std::chrono::microseconds(field.as<std::int64_t>()));
}

}  // namespace pepeunit::store::pg
