// The versioned REST surface: a route table under {app_prefix}{api_v1_prefix} whose handlers
// receive an authenticated caller and typed accessors for path, query and body. Every parse
// failure is a typed 422 naming the parameter, so handlers only deal with valid input.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "domain/access.hpp"
#include "domain/enums.hpp"
#include "domain/uuid.hpp"

namespace pepeunit::http {

/// `offset`/`limit` of a list request; `limit` is always set (absent = the configured maximum).
struct Paging {
  std::int64_t offset = 0;
  std::int64_t limit = 0;
};

/// Query-string access. Repeated keys form lists (`uuids=a&uuids=b`).
class Query {
 public:
  explicit Query(const httplib::Request& request) : request_(request) {}

  std::optional<std::string> text(const std::string& name) const;
  std::string requiredText(const std::string& name) const;
  std::optional<std::int64_t> integer(const std::string& name) const;
  std::optional<bool> boolean(const std::string& name) const;
  std::optional<domain::Uuid> uuid(const std::string& name) const;
  domain::Uuid requiredUuid(const std::string& name) const;
  std::vector<std::string> list(const std::string& name) const;
  std::vector<domain::Uuid> uuids(const std::string& name) const;
  /// `asc`/`desc`; nullopt when absent.
  std::optional<bool> descending(const std::string& name) const;
  Paging paging(std::int64_t max_limit) const;

  /// Parses each value of a repeated parameter with `parse`; 422 naming the parameter on failure.
  template <class E, class F>
  std::vector<E> enums(const std::string& name, F parse) const {
    std::vector<E> out;
    for (const auto& v : list(name)) {
      const auto e = parse(v);
      if (!e) {
        invalid(name, "has an unknown value '" + v + "'");
      }
      out.push_back(*e);
    }
    return out;
  }

  [[noreturn]] static void invalid(const std::string& name, const std::string& what);

 private:
  const httplib::Request& request_;
};

/// A parsed JSON object body with typed field access.
class Body {
 public:
  /// Parses the request body; 422 (JSON Decode Error) if it is not a JSON object.
  explicit Body(const std::string& raw);

  const nlohmann::json& json() const { return json_; }
  bool has(const std::string& field) const;
  std::string requiredString(const std::string& field) const;
  std::optional<std::string> optionalString(const std::string& field) const;
  /// A string or null: distinguishes "absent" (outer nullopt) from "null" (inner nullopt).
  std::optional<std::optional<std::string>> nullableString(const std::string& field) const;
  std::optional<bool> optionalBool(const std::string& field) const;
  std::optional<std::int64_t> optionalInt(const std::string& field) const;
  domain::Uuid requiredUuid(const std::string& field) const;
  std::optional<domain::Uuid> optionalUuid(const std::string& field) const;

  template <class E, class F>
  std::optional<E> optionalEnum(const std::string& field, F parse) const {
    const auto s = optionalString(field);
    if (!s) {
      return std::nullopt;
    }
    const auto e = parse(*s);
    if (!e) {
      invalid(field, "has an unknown value '" + *s + "'");
    }
    return e;
  }
  template <class E, class F>
  E requiredEnum(const std::string& field, F parse) const {
    const auto e = optionalEnum<E>(field, parse);
    if (!e) {
      invalid(field, "is required");
    }
    return *e;
  }

  [[noreturn]] static void invalid(const std::string& field, const std::string& what);

 private:
  nlohmann::json json_;
};

class RequestContext {
 public:
  RequestContext(const httplib::Request& request, httplib::Response& response,
                 domain::Principal principal, std::vector<std::string> param_names)
      : request(request),
        response(response),
        principal(principal),
        param_names_(std::move(param_names)) {}

  const httplib::Request& request;
  httplib::Response& response;
  const domain::Principal principal;

  std::string pathParam(const std::string& name) const;
  /// The path parameter as a UUID; 422 "<name> is not a valid UUID" otherwise.
  domain::Uuid uuidParam(const std::string& name) const;
  Query query() const { return Query(request); }
  Body body() const { return Body(request.body); }
  std::string clientAddress() const { return request.remote_addr; }

  void sendJson(const nlohmann::json& value, int status = 200);
  /// `body` is already JSON text (e.g. serialized once and cached).
  void sendJsonText(const std::string& body, int status = 200);
  void sendNoContent();

 private:
  std::vector<std::string> param_names_;
};

using Handler = std::function<void(RequestContext&)>;
/// Turns the raw `x-auth-token` header (absent = nullopt) into a caller; throws NoAccess.
using Authenticator = std::function<domain::Principal(const std::optional<std::string>& token)>;

class Api {
 public:
  struct Route {
    std::string method;
    std::string path;  // OpenAPI form relative to the prefix, e.g. "/users/{uuid}"
  };

  Api(httplib::Server& server, std::string prefix, Authenticator authenticate);

  /// `path` uses OpenAPI templates ("/users/{uuid}"); parameters match one path segment.
  void get(const std::string& path, Handler handler);
  void post(const std::string& path, Handler handler);
  void patch(const std::string& path, Handler handler);
  void del(const std::string& path, Handler handler);

  const std::vector<Route>& routes() const { return routes_; }
  const std::string& prefix() const { return prefix_; }

 private:
  void add(const std::string& method, const std::string& path, Handler handler);

  httplib::Server& server_;
  std::string prefix_;
  Authenticator authenticate_;
  std::vector<Route> routes_;
};

}  // namespace pepeunit::http
