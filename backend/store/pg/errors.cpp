// pqxx exception -> pepeunit error mapping.
#include "store/pg/errors.hpp"

#include <exception>

namespace pepeunit::store::pg {

std::optional<std::string> violatedConstraint(const pqxx::sql_error& error) {
  static constexpr std::string_view kMarker = "constraint \"";
  const std::string_view text = error.what();
  const std::size_t begin = text.find(kMarker);
  if (begin == std::string_view::npos) {
    return std::nullopt;
  }
  const std::size_t name = begin + kMarker.size();
  const std::size_t end = text.find('"', name);
  if (end == std::string_view::npos) {
    return std::nullopt;
  }
  return std::string(text.substr(name, end - name));
}

void rethrowTranslated(const OnConflict& on_conflict) {
  try {
    throw;
  } catch (const pqxx::unique_violation& e) {
    throw Error(on_conflict.kind, on_conflict.message,
                "unique violation: " + violatedConstraint(e).value_or("unknown constraint"));
  } catch (const pqxx::broken_connection& e) {
    throw Unavailable(kUnavailableMessage, e.what());
  } catch (const pqxx::in_doubt_error& e) {
    throw Unavailable(kUnavailableMessage, std::string("commit outcome unknown: ") + e.what());
  }
}

}  // namespace pepeunit::store::pg
