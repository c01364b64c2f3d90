// Request parsing and response shaping for /users; every rule lives in UserService.
#include "http/user_routes.hpp"

#include <chrono>
#include <cstdio>

#include "domain/names.hpp"

namespace pepeunit::http {
namespace {

using domain::Role;
using domain::UserStatus;

store::UserFilter userFilter(const Query& query, std::int64_t max_page) {
  store::UserFilter filter;
  filter.uuids = query.uuids("uuids");
  if (const auto search = query.text("search_string")) {
    filter.search_words = domain::splitSearchWords(*search);
  }
  filter.roles = query.enums<Role>("role", domain::parseRole);
  filter.statuses = query.enums<UserStatus>("status", domain::parseUserStatus);
  filter.newest_first = query.descending("order_by_create_date").value_or(true);
  const auto paging = query.paging(max_page);
  filter.offset = paging.offset;
  filter.limit = paging.limit;
  return filter;
}

}  // namespace

std::string isoDatetime(store::Timestamp time) {
  using namespace std::chrono;
  const auto day = floor<days>(time);
  const year_month_day date(day);
  const hh_mm_ss clock(time - day);
  char text[40];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02ld:%02ld:%02lld",
                static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                static_cast<unsigned>(date.day()), static_cast<long>(clock.hours().count()),
                static_cast<long>(clock.minutes().count()),
                static_cast<long long>(clock.seconds().count()));
  std::string out = text;
  const auto micros = clock.subseconds().count();
  if (micros != 0) {
    std::snprintf(text, sizeof text, ".%06lld", static_cast<long long>(micros));
    out += text;
  }
  return out;
}

nlohmann::json userRead(const store::User& user) {
  return {{"uuid", user.uuid.toString()},
          {"role", domain::toString(user.role)},
          {"status", domain::toString(user.status)},
          {"login", user.login},
          {"create_datetime", isoDatetime(user.create_datetime)}};
}

void registerUserRoutes(Api& api, service::UserService& users, std::int64_t max_page) {
  api.post("/users", [&users](RequestContext& ctx) {
    const auto body = ctx.body();
    const auto login = body.requiredString("login");
    const auto password = body.requiredString("password");
    ctx.sendJson(userRead(users.create(ctx.principal, login, password)), 201);
  });

  api.post("/users/auth", [&users](RequestContext& ctx) {
    const auto body = ctx.body();
    const auto credentials = body.requiredString("credentials");
    const auto password = body.requiredString("password");
    try {
      const auto token = users.login(ctx.principal, credentials, password, ctx.clientAddress());
      ctx.sendJson({{"token", token}});
    } catch (const service::TooManyAttempts& e) {
      // The error table writes the body; the header survives into that response.
      ctx.response.set_header("Retry-After", std::to_string(e.retryAfterSeconds()));
      throw;
    }
  });

  // Literal paths first: a `{uuid}` route must never see "block" or "generate_...".
  api.get("/users/generate_verification_link/",
          [&users](RequestContext& ctx) { ctx.sendJson(users.verificationLink(ctx.principal)); });

  api.patch("/users/block/{uuid}", [&users](RequestContext& ctx) {
    users.block(ctx.principal, ctx.uuidParam("uuid"));
    ctx.sendNoContent();
  });

  api.patch("/users/unblock/{uuid}", [&users](RequestContext& ctx) {
    users.unblock(ctx.principal, ctx.uuidParam("uuid"));
    ctx.sendNoContent();
  });

  api.get("/users/{uuid}", [&users](RequestContext& ctx) {
    ctx.sendJson(userRead(users.get(ctx.principal, ctx.uuidParam("uuid"))));
  });

  api.patch("/users/{uuid}", [&users](RequestContext& ctx) {
    ctx.uuidParam("uuid");  // validated (422 when malformed) but ignored: the caller is updated
    const auto body = ctx.body();
    const auto login = body.optionalString("login");
    const auto password = body.optionalString("password");
    ctx.sendJson(userRead(users.update(ctx.principal, login, password)));
  });

  api.get("/users", [&users, max_page](RequestContext& ctx) {
    const auto page = users.list(ctx.principal, userFilter(ctx.query(), max_page));
    auto items = nlohmann::json::array();
    for (const auto& user : page.rows) {
      items.push_back(userRead(user));
    }
    ctx.sendJson({{"count", page.count}, {"users", std::move(items)}});
  });
}

}  // namespace pepeunit::http
