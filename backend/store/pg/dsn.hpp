// libpq connection strings (URL or keyword=value form): add the defaults the pool relies on and
// keep the password out of anything we log or put into an error.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pepeunit::store::pg {

/// `dsn` with `connect_timeout=<seconds>` added unless it already names a connect_timeout, so a
/// connect to a dead host fails in bounded time instead of hanging an HTTP thread.
std::string withDefaultConnectTimeout(const std::string& dsn, int seconds = 2);

/// The password the DSN carries (URL user info or `password` parameter), percent-decoded for
/// URLs; nullopt when there is none.
std::optional<std::string> dsnPassword(std::string_view dsn);

/// The DSN with every password value replaced by `***`; safe to log.
std::string redactDsn(std::string_view dsn);

/// `message` with every occurrence of the DSN's password (raw and decoded) replaced by `***`.
/// libpq echoes parts of a malformed connection string in its errors; this is the last guard.
std::string scrubPassword(std::string message, std::string_view dsn);

}  // namespace pepeunit::store::pg
