// Error → HTTP status table (E3 catalogue codes 1-12 plus ours).
#include "http/error_mapping.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace pepeunit::http {

int httpStatus(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNoAccess:
      return 403;
    case ErrorKind::kValidation:
    case ErrorKind::kUserValidation:
    case ErrorKind::kPermissionValidation:
    case ErrorKind::kGitRepoValidation:
    case ErrorKind::kRepoValidation:
    case ErrorKind::kUnitValidation:
    case ErrorKind::kUnitNodeValidation:
    case ErrorKind::kJsonDecode:
    case ErrorKind::kMqtt:
    case ErrorKind::kUpdate:
    case ErrorKind::kCipher:
      return 422;
    case ErrorKind::kTooManyRequests:
      return 429;
    case ErrorKind::kPayloadTooLarge:
      return 413;
    case ErrorKind::kNotFound:
      return 404;
    case ErrorKind::kUnavailable:
      return 503;
    case ErrorKind::kInternal:
      return 500;
  }
  return 500;
}

void writeError(httplib::Response& res, const Error& error) {
  res.status = httpStatus(error.kind());
  const nlohmann::json body = {{"detail", error.detail()}};
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

void installErrorHandling(httplib::Server& server) {
  server.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        try {
          std::rethrow_exception(ep);
        } catch (const Error& e) {
          if (!e.internal().empty()) {
            spdlog::warn("http: {} {} | {} | {}", req.method, req.path, e.detail(), e.internal());
          }
          writeError(res, e);
        } catch (const std::exception& e) {
          spdlog::error("http: {} {} | unhandled | {}", req.method, req.path, e.what());
          writeError(res, Error(ErrorKind::kInternal, "Internal server error"));
        } catch (...) {
          spdlog::error("http: {} {} | unhandled non-standard exception", req.method, req.path);
          writeError(res, Error(ErrorKind::kInternal, "Internal server error"));
        }
      });
  // Runs for every status >= 400; handlers that already wrote a body keep it.
  server.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        switch (res.status) {
          case 404:
            writeError(res, Error(ErrorKind::kNotFound, "No route " + req.method + " " + req.path));
            break;
          case 413:
            writeError(res, Error(ErrorKind::kPayloadTooLarge, "Request body is too large"));
            break;
          case 405:
            writeError(res, Error(ErrorKind::kNotFound, "Method not allowed"));
            res.status = 405;
            break;
          default:
            writeError(res, Error(ErrorKind::kValidation, "Bad request"));
            res.status = res.status >= 400 ? res.status : 400;
            break;
        }
        return httplib::Server::HandlerResponse::Handled;
      }));
}

}  // namespace pepeunit::http
