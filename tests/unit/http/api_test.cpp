// The REST plumbing through a real in-process server: path templates, UUID path parameters,
// query lists and paging, body typing and the authenticator hook.
#include "http/api.hpp"

#include <doctest/doctest.h>

#include "common/errors.hpp"
#include "http/server.hpp"

using pepeunit::domain::Principal;
using pepeunit::domain::Uuid;
using pepeunit::http::Api;
using pepeunit::http::RequestContext;

namespace {

std::string detail(const httplib::Result& r) {
  return nlohmann::json::parse(r->body).value("detail", "");
}

}  // namespace

TEST_CASE("api: routes, parameters and bodies are typed at the edge") {
  pepeunit::http::HttpServer server(
      {.host = "127.0.0.1", .port = 0, .threads = 2, .max_request_body = 4096});
  const auto caller = *Uuid::parse("0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f");
  Api api(server.routes(), "/pepeunit/api/v1",
          [&](const std::optional<std::string>& token) -> Principal {
            if (!token)
              return Principal::bot();
            if (*token == "good") {
              return Principal::user(caller, pepeunit::domain::Role::kUser,
                                     pepeunit::domain::UserStatus::kVerified);
            }
            throw pepeunit::NoAccess("Token is invalid");
          });
  api.get("/things/literal", [](RequestContext& ctx) { ctx.sendJson({{"route", "literal"}}); });
  api.get("/things/{uuid}", [](RequestContext& ctx) {
    ctx.sendJson({{"uuid", ctx.uuidParam("uuid").toString()}, {"bot", ctx.principal.isBot()}});
  });
  api.get("/things", [](RequestContext& ctx) {
    const auto q = ctx.query();
    const auto paging = q.paging(50);
    nlohmann::json ids = nlohmann::json::array();
    for (const auto& u : q.uuids("uuids"))
      ids.push_back(u.toString());
    ctx.sendJson({{"offset", paging.offset},
                  {"limit", paging.limit},
                  {"uuids", ids},
                  {"desc", q.descending("order").value_or(true)}});
  });
  api.post("/things", [](RequestContext& ctx) {
    const auto body = ctx.body();
    ctx.sendJson({{"name", body.requiredString("name")},
                  {"flag", body.optionalBool("flag").value_or(false)}},
                 201);
  });
  api.del("/things/{uuid}", [](RequestContext& ctx) {
    ctx.uuidParam("uuid");
    ctx.sendNoContent();
  });
  server.start();
  httplib::Client c("127.0.0.1", server.port());
  c.set_tcp_nodelay(true);

  REQUIRE(api.routes().size() == 5);
  CHECK(api.routes()[1].path == "/things/{uuid}");

  auto r = c.Get("/pepeunit/api/v1/things/literal");
  CHECK(nlohmann::json::parse(r->body)["route"] == "literal");

  r = c.Get("/pepeunit/api/v1/things/0F0F0F0F-0F0F-4F0F-8F0F-0F0F0F0F0F0F");
  CHECK(r->status == 200);
  CHECK(nlohmann::json::parse(r->body)["uuid"] == "0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f");
  CHECK(nlohmann::json::parse(r->body)["bot"] == true);

  r = c.Get("/pepeunit/api/v1/things/not-a-uuid");
  CHECK(r->status == 422);
  CHECK(detail(r) == "2: Validation Error: Path parameter 'uuid' is not a valid UUID");

  r = c.Get("/pepeunit/api/v1/things/0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f",
            {{"x-auth-token", "forged"}});
  CHECK(r->status == 403);
  CHECK(detail(r) == "1: No Access: Token is invalid");

  r = c.Get(
      "/pepeunit/api/v1/things?offset=2&limit=7&uuids=0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f"
      "&uuids=1f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f&order=asc");
  auto j = nlohmann::json::parse(r->body);
  CHECK(j["offset"] == 2);
  CHECK(j["limit"] == 7);
  CHECK(j["uuids"].size() == 2);
  CHECK(j["desc"] == false);
  CHECK(nlohmann::json::parse(c.Get("/pepeunit/api/v1/things")->body)["limit"] == 50);

  r = c.Get("/pepeunit/api/v1/things?limit=51");
  CHECK(r->status == 422);
  CHECK(detail(r) == "2: Validation Error: Query parameter 'limit' must be between 0 and 50");
  r = c.Get("/pepeunit/api/v1/things?offset=abc");
  CHECK(detail(r) == "2: Validation Error: Query parameter 'offset' must be an integer");
  r = c.Get("/pepeunit/api/v1/things?uuids=1;DROP");
  CHECK(detail(r) ==
        "2: Validation Error: Query parameter 'uuids' has a value that is not a valid UUID");
  r = c.Get("/pepeunit/api/v1/things?order=sideways");
  CHECK(detail(r) == "2: Validation Error: Query parameter 'order' must be asc or desc");

  r = c.Post("/pepeunit/api/v1/things", R"({"name":"x","flag":true})", "application/json");
  CHECK(r->status == 201);
  r = c.Post("/pepeunit/api/v1/things", "{not json", "application/json");
  CHECK(r->status == 422);
  CHECK(detail(r) == "9: JSON Decode Error: Request body is not valid JSON");
  r = c.Post("/pepeunit/api/v1/things", "[1,2]", "application/json");
  CHECK(detail(r) == "9: JSON Decode Error: Request body must be a JSON object");
  r = c.Post("/pepeunit/api/v1/things", R"({"name":5})", "application/json");
  CHECK(detail(r) == "2: Validation Error: Field 'name' must be a string, got number");
  r = c.Post("/pepeunit/api/v1/things", R"({"flag":true})", "application/json");
  CHECK(detail(r) == "2: Validation Error: Field 'name' is required");
  r = c.Post("/pepeunit/api/v1/things", R"({"name":"x","flag":"yes"})", "application/json");
  CHECK(detail(r) == "2: Validation Error: Field 'flag' must be a boolean, got string");

  r = c.Delete("/pepeunit/api/v1/things/0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f");
  CHECK(r->status == 204);
  server.stop();
}
