// Route table and request accessors.
#include "http/api.hpp"

#include <charconv>
#include <regex>

#include "common/errors.hpp"

namespace pepeunit::http {
namespace {

using domain::Uuid;

Error validation(const std::string& message) {
  return Error(ErrorKind::kValidation, message);
}

std::optional<std::int64_t> parseInt(const std::string& s) {
  std::int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || ptr != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

std::optional<bool> parseBool(const std::string& s) {
  if (s == "true" || s == "True" || s == "1") {
    return true;
  }
  if (s == "false" || s == "False" || s == "0") {
    return false;
  }
  return std::nullopt;
}

std::string typeName(const nlohmann::json& v) {
  return v.type_name();
}

}  // namespace

// ---- Query -----------------------------------------------------------------------------------

void Query::invalid(const std::string& name, const std::string& what) {
  throw validation("Query parameter '" + name + "' " + what);
}

std::optional<std::string> Query::text(const std::string& name) const {
  if (!request_.has_param(name)) {
    return std::nullopt;
  }
  return request_.get_param_value(name);
}

std::string Query::requiredText(const std::string& name) const {
  auto v = text(name);
  if (!v) {
    invalid(name, "is required");
  }
  return *v;
}

std::optional<std::int64_t> Query::integer(const std::string& name) const {
  const auto v = text(name);
  if (!v) {
    return std::nullopt;
  }
  const auto n = parseInt(*v);
  if (!n) {
    invalid(name, "must be an integer");
  }
  return n;
}

std::optional<bool> Query::boolean(const std::string& name) const {
  const auto v = text(name);
  if (!v) {
    return std::nullopt;
  }
  const auto b = parseBool(*v);
  if (!b) {
    invalid(name, "must be true or false");
  }
  return b;
}

std::optional<Uuid> Query::uuid(const std::string& name) const {
  const auto v = text(name);
  if (!v) {
    return std::nullopt;
  }
  const auto u = Uuid::parse(*v);
  if (!u) {
    invalid(name, "is not a valid UUID");
  }
  return u;
}

Uuid Query::requiredUuid(const std::string& name) const {
  const auto u = uuid(name);
  if (!u) {
    invalid(name, "is required");
  }
  return *u;
}

std::vector<std::string> Query::list(const std::string& name) const {
  std::vector<std::string> out;
  const auto n = request_.get_param_value_count(name);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(request_.get_param_value(name, i));
  }
  return out;
}

std::vector<Uuid> Query::uuids(const std::string& name) const {
  std::vector<Uuid> out;
  for (const auto& v : list(name)) {
    const auto u = Uuid::parse(v);
    if (!u) {
      invalid(name, "has a value that is not a valid UUID");
    }
    out.push_back(*u);
  }
  return out;
}

std::optional<bool> Query::descending(const std::string& name) const {
  const auto v = text(name);
  if (!v) {
    return std::nullopt;
  }
  if (*v == "desc") {
    return true;
  }
  if (*v == "asc") {
    return false;
  }
  invalid(name, "must be asc or desc");
}

Paging Query::paging(std::int64_t max_limit) const {
  Paging p;
  p.offset = integer("offset").value_or(0);
  if (p.offset < 0) {
    invalid("offset", "must be >= 0");
  }
  p.limit = integer("limit").value_or(max_limit);
  if (p.limit < 0 || p.limit > max_limit) {
    invalid("limit", "must be between 0 and " + std::to_string(max_limit));
  }
  return p;
}

// ---- Body ------------------------------------------------------------------------------------

void Body::invalid(const std::string& field, const std::string& what) {
  throw validation("Field '" + field + "' " + what);
}

Body::Body(const std::string& raw) {
  json_ = nlohmann::json::parse(raw, nullptr, /*allow_exceptions=*/false);
  if (json_.is_discarded()) {
    throw Error(ErrorKind::kJsonDecode, "Request body is not valid JSON");
  }
  if (!json_.is_object()) {
    throw Error(ErrorKind::kJsonDecode, "Request body must be a JSON object");
  }
}

bool Body::has(const std::string& field) const {
  return json_.contains(field);
}

std::optional<std::string> Body::optionalString(const std::string& field) const {
  if (!json_.contains(field) || json_[field].is_null()) {
    return std::nullopt;
  }
  const auto& v = json_[field];
  if (!v.is_string()) {
    invalid(field, "must be a string, got " + typeName(v));
  }
  return v.get<std::string>();
}

std::optional<std::optional<std::string>> Body::nullableString(const std::string& field) const {
  if (!json_.contains(field)) {
    return std::nullopt;
  }
  if (json_[field].is_null()) {
    return std::optional<std::string>{};
  }
  return optionalString(field);
}

std::string Body::requiredString(const std::string& field) const {
  auto v = optionalString(field);
  if (!v) {
    invalid(field, "is required");
  }
  return *v;
}

std::optional<bool> Body::optionalBool(const std::string& field) const {
  if (!json_.contains(field) || json_[field].is_null()) {
    return std::nullopt;
  }
  const auto& v = json_[field];
  if (!v.is_boolean()) {
    invalid(field, "must be a boolean, got " + typeName(v));
  }
  return v.get<bool>();
}

std::optional<std::int64_t> Body::optionalInt(const std::string& field) const {
  if (!json_.contains(field) || json_[field].is_null()) {
    return std::nullopt;
  }
  const auto& v = json_[field];
  if (!v.is_number_integer()) {
    invalid(field, "must be an integer, got " + typeName(v));
  }
  return v.get<std::int64_t>();
}

std::optional<Uuid> Body::optionalUuid(const std::string& field) const {
  const auto s = optionalString(field);
  if (!s) {
    return std::nullopt;
  }
  const auto u = Uuid::parse(*s);
  if (!u) {
    invalid(field, "is not a valid UUID");
  }
  return u;
}

Uuid Body::requiredUuid(const std::string& field) const {
  const auto u = optionalUuid(field);
  if (!u) {
    invalid(field, "is required");
  }
  return *u;
}

// ---- RequestContext --------------------------------------------------------------------------

std::string RequestContext::pathParam(const std::string& name) const {
  for (size_t i = 0; i < param_names_.size(); ++i) {
    if (param_names_[i] == name && i + 1 < request.matches.size()) {
      return request.matches[i + 1].str();
    }
  }
  throw Error(ErrorKind::kInternal, "Internal server error", "unknown path parameter " + name);
}

Uuid RequestContext::uuidParam(const std::string& name) const {
  const auto raw = pathParam(name);
  const auto u = Uuid::parse(raw);
  if (!u) {
    throw validation("Path parameter '" + name + "' is not a valid UUID");
  }
  return *u;
}

void RequestContext::sendJson(const nlohmann::json& value, int status) {
  response.status = status;
  response.set_content(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                       "application/json");
}

void RequestContext::sendJsonText(const std::string& body, int status) {
  response.status = status;
  response.set_content(body, "application/json");
}

void RequestContext::sendNoContent() {
  response.status = 204;
}

// ---- Api -------------------------------------------------------------------------------------

Api::Api(httplib::Server& server, std::string prefix, Authenticator authenticate)
    : server_(server), prefix_(std::move(prefix)), authenticate_(std::move(authenticate)) {}

void Api::get(const std::string& path, Handler handler) {
  add("GET", path, std::move(handler));
}
void Api::post(const std::string& path, Handler handler) {
  add("POST", path, std::move(handler));
}
void Api::patch(const std::string& path, Handler handler) {
  add("PATCH", path, std::move(handler));
}
void Api::del(const std::string& path, Handler handler) {
  add("DELETE", path, std::move(handler));
}

void Api::add(const std::string& method, const std::string& path, Handler handler) {
  // "/users/{uuid}" -> "/users/([^/]+)" with the parameter names remembered in order.
  std::vector<std::string> names;
  std::string pattern = std::regex_replace(prefix_, std::regex(R"([.^$|()\[\]*+?\\{}])"), R"(\$&)");
  for (size_t i = 0; i < path.size();) {
    if (path[i] == '{') {
      const auto close = path.find('}', i);
      names.push_back(path.substr(i + 1, close - i - 1));
      pattern += "([^/]+)";
      i = close + 1;
    } else {
      const char c = path[i++];
      if (std::string_view(".^$|()[]*+?\\").find(c) != std::string_view::npos) {
        pattern += '\\';
      }
      pattern += c;
    }
  }
  routes_.push_back({method, path});

  auto wrapped = [this, names, handler = std::move(handler)](const httplib::Request& req,
                                                             httplib::Response& res) {
    std::optional<std::string> token;
    if (const auto it = req.headers.find("x-auth-token"); it != req.headers.end()) {
      token = it->second;  // one case-insensitive lookup instead of has + get
    }
    RequestContext ctx(req, res, authenticate_(token), names);
    handler(ctx);
  };
  if (method == "GET") {
    server_.Get(pattern, wrapped);
  }
  if (method == "POST") {
    server_.Post(pattern, wrapped);
  }
  if (method == "PATCH") {
    server_.Patch(pattern, wrapped);
  }
  if (method == "DELETE") {
    server_.Delete(pattern, wrapped);
  }
}

}  // namespace pepeunit::http
