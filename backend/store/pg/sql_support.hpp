// What every Postgres store needs besides its SQL: positional parameters for statements built
// from optional filters, array literals for `= ANY($n)`, and decoding of uuid, text and
// timestamp columns (timestamps are selected as microseconds since the epoch).
#pragma once

#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "domain/access.hpp"
#include "domain/uuid.hpp"
#include "store/user_store.hpp"

namespace pepeunit::store::pg {

/// Positional parameters collected while a statement is assembled.
class Params {
 public:
  /// Adds a value and returns its placeholder ("$3").
  std::string add(std::string value) {
    values_.push_back(std::move(value));
    return "$" + std::to_string(values_.size());
  }
  const std::vector<std::string>& values() const { return values_; }

 private:
  std::vector<std::string> values_;
};

/// A PostgreSQL array literal of values that need no quoting (uuids, enum words).
template <class T, class F>
std::string arrayLiteral(const std::vector<T>& items, F text) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += text(items[i]);
  }
  return out + "}";
}

std::string uuidArray(const std::vector<domain::Uuid>& uuids);

/// The caller's list visibility (domain::listScope) as one SQL condition on
/// `<prefix>visibility_level` and `<prefix>uuid`: the allowed levels, and Private rows only where
/// granted unless the scope is unrestricted. "FALSE" when the scope admits nothing. `P` is any
/// parameter collector with `std::string add(std::string)`.
template <class P>
std::string scopeCondition(const domain::ListScope& scope, P& params,
                           const std::string& prefix = "") {
  if (scope.matchesNothing()) {
    return "FALSE";
  }
  const auto levels = arrayLiteral(
      scope.levels, [](domain::Visibility v) { return std::string(domain::toString(v)); });
  std::string out = "(" + prefix + "visibility_level = ANY(" + params.add(levels) + "::text[])";
  if (!scope.unrestricted) {
    out += " AND (" + prefix + "visibility_level <> 'Private' OR " + prefix + "uuid = ANY(" +
           params.add(uuidArray(scope.private_allowed)) + "::uuid[]))";
  }
  return out + ")";
}

/// A uuid column; a value that is not a uuid breaks the schema's invariants (500, not 4xx).
domain::Uuid uuidOf(const pqxx::field& field);
std::optional<domain::Uuid> optionalUuidOf(const pqxx::field& field);
std::optional<std::string> optionalTextOf(const pqxx::field& field);
/// A column selected as `(extract(epoch FROM col) * 1000000)::bigint`.
Timestamp timestampOf(const pqxx::field& field);

}  // namespace pepeunit::store::pg
