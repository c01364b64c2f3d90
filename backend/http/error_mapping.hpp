// The ONE place where errors become HTTP: status table, the `{"detail": ...}` envelope, and the
// httplib hooks that route every exception and every bare error status through it.
#pragma once

#include <httplib.h>

#include <string>

#include "common/errors.hpp"

namespace pepeunit::http {

int httpStatus(ErrorKind kind);

/// Writes `{"detail": "<code>: <Category>: <message>"}` with the mapped status.
void writeError(httplib::Response& res, const Error& error);

/// Exception handler (typed errors → their status, anything else → 500 without internals) and
/// an error handler that gives bare statuses (404 unknown route, 413 body too large) a JSON body.
void installErrorHandling(httplib::Server& server);

}  // namespace pepeunit::http
