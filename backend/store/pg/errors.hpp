// Translation of libpqxx failures into pepeunit errors at the store edge, so services and the
// HTTP error table never see a pqxx type (aesthetics_anchors.md §3 item 6).
#pragma once

#include <optional>
#include <pqxx/except>
#include <string>
#include <utility>

#include "common/errors.hpp"

namespace pepeunit::store::pg {

/// Public message of every "database is down" error.
inline constexpr const char* kUnavailableMessage = "Database is unavailable";

/// What a unique-key violation means to the caller, e.g. {kUserValidation, "Login is busy"}.
struct OnConflict {
  ErrorKind kind = ErrorKind::kValidation;
  std::string message = "Already exists";
};

/// The constraint a PostgreSQL error names (`... constraint "users_login_key"`), if any; lets a
/// caller with several unique keys pick the right message.
std::optional<std::string> violatedConstraint(const pqxx::sql_error& error);

/// Rethrows the exception in flight, translated: unique_violation -> Error(on_conflict) with the
/// constraint in the internal message; broken_connection (and too_many_connections) or
/// in_doubt_error -> Unavailable. Anything else, pepeunit errors included, goes on unchanged.
/// Call only from inside a catch block.
[[noreturn]] void rethrowTranslated(const OnConflict& on_conflict = {});

/// Runs `f` with its pqxx failures translated as rethrowTranslated does.
template <class F>
decltype(auto) translateErrors(F&& f, const OnConflict& on_conflict = {}) {
  try {
    return std::forward<F>(f)();
  } catch (...) {
    rethrowTranslated(on_conflict);
  }
}

}  // namespace pepeunit::store::pg
