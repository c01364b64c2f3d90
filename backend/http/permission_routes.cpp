// Permission handlers: parse, call PermissionService, serialize. No rule lives here.
#include "http/permission_routes.hpp"

#include <chrono>
#include <cstdio>

#include "common/errors.hpp"

namespace pepeunit::http {
namespace {

using domain::AgentType;
using domain::ResourceType;

// Unix seconds of 0001-01-01T00:00:00 and of 9999-12-31T23:59:59: what a 4-digit year spans.
constexpr std::int64_t kMinUnix = -62135596800;
constexpr std::int64_t kMaxUnix = 253402300799;

// Echoed values are cut so an error detail stays a line, whatever the client sent.
std::string shown(const std::string& value) {
  constexpr std::size_t kMax = 40;
  return value.size() <= kMax ? value : value.substr(0, kMax) + "...";
}

AgentType agentTypeFrom(const std::string& value) {
  const auto type = domain::parseAgentType(value);
  if (!type) {
    throw Error(ErrorKind::kPermissionValidation,
                "Agent type " + shown(value) + " is invalid, available: User, Unit");
  }
  return *type;
}

ResourceType resourceTypeFrom(const std::string& value) {
  const auto type = domain::parseResourceType(value);
  if (!type) {
    throw Error(ErrorKind::kPermissionValidation,
                "Resource type " + shown(value) + " is invalid, available: Repo, Unit, UnitNode");
  }
  return *type;
}

std::optional<std::int64_t> validUntilFrom(const Body& body) {
  constexpr const char* kField = "valid_until";
  if (!body.has(kField) || body.json()[kField].is_null()) {
    return std::nullopt;
  }
  const auto& value = body.json()[kField];
  if (value.is_number_integer()) {
    const auto seconds = value.get<std::int64_t>();
    if (seconds < kMinUnix || seconds > kMaxUnix) {
      Body::invalid(kField, "is out of range");
    }
    return seconds;
  }
  const auto text = body.requiredString(kField);
  const auto seconds = parseIsoTimestamp(text);
  if (!seconds) {
    Body::invalid(kField, "is not an ISO 8601 date-time");
  }
  return seconds;
}

// A strict left-to-right reader for parseIsoTimestamp.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool done() const { return pos_ == text_.size(); }
  bool eat(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  /// The next character, or '\0' at the end.
  char peek() const { return done() ? '\0' : text_[pos_]; }
  /// Between `min` and `max` decimal digits; reads as many as there are, up to `max`.
  std::optional<int> digits(std::size_t min, std::size_t max) {
    int value = 0;
    std::size_t n = 0;
    while (n < max && pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      value = value * 10 + (text_[pos_++] - '0');
      ++n;
    }
    if (n < min) {
      return std::nullopt;
    }
    return value;
  }
  /// Skips between `min` and `max` decimal digits without reading their value.
  bool skipDigits(std::size_t min, std::size_t max) {
    std::size_t n = 0;
    while (n < max && pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      ++pos_;
      ++n;
    }
    return n >= min;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

std::optional<std::int64_t> parseIsoTimestamp(std::string_view text) {
  namespace chr = std::chrono;
  Cursor in(text);
  const auto year = in.digits(4, 4);
  if (!year || !in.eat('-')) {
    return std::nullopt;
  }
  const auto month = in.digits(1, 2);
  if (!month || !in.eat('-')) {
    return std::nullopt;
  }
  const auto day = in.digits(1, 2);
  if (!day || !(in.eat('T') || in.eat('t') || in.eat(' '))) {
    return std::nullopt;
  }
  const auto hour = in.digits(1, 2);
  if (!hour || !in.eat(':')) {
    return std::nullopt;
  }
  const auto minute = in.digits(1, 2);
  if (!minute) {
    return std::nullopt;
  }
  int second = 0;
  if (in.eat(':')) {
    const auto s = in.digits(1, 2);
    if (!s) {
      return std::nullopt;
    }
    second = *s;
    // Up to 6 fraction digits and 6 more ignored (pydantic v1); dropped, see the header.
    if (in.eat('.') && !in.skipDigits(1, 12)) {
      return std::nullopt;
    }
  }
  std::int64_t offset_s = 0;
  const bool utc_designator = in.eat('Z') || in.eat('z');
  const auto sign = in.peek();
  if (!utc_designator && (sign == '+' || sign == '-')) {
    in.eat(sign);
    const auto offset_hours = in.digits(2, 2);
    if (!offset_hours) {
      return std::nullopt;
    }
    int offset_minutes = 0;
    if (!in.done()) {
      in.eat(':');
      const auto m = in.digits(2, 2);
      if (!m) {
        return std::nullopt;
      }
      offset_minutes = *m;
    }
    if (*offset_hours > 23 || offset_minutes > 59) {
      return std::nullopt;
    }
    offset_s = (std::int64_t{*offset_hours} * 3600 + std::int64_t{offset_minutes} * 60) *
               (sign == '-' ? -1 : 1);
  }
  if (!in.done()) {
    return std::nullopt;
  }
  if (*year < 1 || *hour > 23 || *minute > 59 || second > 59) {
    return std::nullopt;
  }

  const chr::year_month_day date{chr::year{*year}, chr::month{static_cast<unsigned>(*month)},
                                 chr::day{static_cast<unsigned>(*day)}};
  if (!date.ok()) {
    return std::nullopt;
  }
  const std::int64_t days = chr::sys_days{date}.time_since_epoch().count();
  return days * 86400 + std::int64_t{*hour} * 3600 + std::int64_t{*minute} * 60 + second - offset_s;
}

std::string formatIsoTimestamp(std::int64_t unix_seconds) {
  namespace chr = std::chrono;
  const chr::sys_seconds instant{chr::seconds{unix_seconds}};
  const auto day_start = chr::floor<chr::days>(instant);
  const chr::year_month_day date{day_start};
  const chr::hh_mm_ss time{instant - day_start};
  char out[32];
  std::snprintf(out, sizeof out, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()));
  return out;
}

nlohmann::json permissionRead(const store::PermissionRecord& permission) {
  nlohmann::json out;
  out["uuid"] = permission.uuid.toString();
  out["agent_uuid"] = permission.agent.toString();
  out["agent_type"] = toString(permission.agent_type);
  out["resource_uuid"] = permission.resource.toString();
  out["resource_type"] = toString(permission.resource_type);
  out["valid_until"] = permission.valid_until_unix
                           ? nlohmann::json(formatIsoTimestamp(*permission.valid_until_unix))
                           : nlohmann::json(nullptr);
  return out;
}

void registerPermissionRoutes(Api& api, service::PermissionService& permissions,
                              std::int64_t max_pagination_size) {
  api.post("/permission", [&permissions](RequestContext& ctx) {
    const auto body = ctx.body();
    const auto agent = body.requiredUuid("agent_uuid");
    const auto agent_type = agentTypeFrom(body.requiredString("agent_type"));
    const auto resource = body.requiredUuid("resource_uuid");
    const auto resource_type = resourceTypeFrom(body.requiredString("resource_type"));
    const auto valid_until = validUntilFrom(body);
    ctx.sendJson(permissionRead(permissions.create(ctx.principal, agent, agent_type, resource,
                                                   resource_type, valid_until)),
                 201);
  });

  api.get("/permission/get_resource_agents",
          [&permissions, max_pagination_size](RequestContext& ctx) {
            const auto query = ctx.query();
            const auto resource = query.requiredUuid("resource_uuid");
            const auto resource_type = resourceTypeFrom(query.requiredText("resource_type"));
            std::optional<AgentType> agent_type;
            if (const auto text = query.text("agent_type")) {
              agent_type = agentTypeFrom(*text);
            }
            const auto paging = query.paging(max_pagination_size);
            const auto page = permissions.getResourceAgents(
                ctx.principal, resource, resource_type, agent_type, paging.offset, paging.limit);
            nlohmann::json items = nlohmann::json::array();
            for (const auto& row : page.rows) {
              items.push_back(permissionRead(row));
            }
            ctx.sendJson({{"count", page.count}, {"permissions", std::move(items)}});
          });

  const Handler remove = [&permissions](RequestContext& ctx) {
    const auto query = ctx.query();
    const auto agent = query.requiredUuid("agent_uuid");
    const auto resource = query.requiredUuid("resource_uuid");
    permissions.remove(ctx.principal, agent, resource);
    ctx.sendNoContent();
  };
  api.del("/permission", remove);
  // The original's path: any single segment, ignored. Registered after the literal routes so
  // it never shadows them.
  api.del("/permission/{anything}", remove);
}

}  // namespace pepeunit::http
