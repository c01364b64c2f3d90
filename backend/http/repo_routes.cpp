// Request parsing and response shaping for /repos; every rule lives in RepoService.
#include "http/repo_routes.hpp"

#include "domain/names.hpp"
#include "http/user_routes.hpp"

namespace pepeunit::http {
namespace {

using domain::Visibility;
using nlohmann::json;

json nullable(const std::optional<std::string>& value) {
  return value ? json(*value) : json(nullptr);
}

/// `{"username","pat_token"}` from a JSON value; 422 naming `field` otherwise.
gitsync::Credentials credentialsOf(const json& value, const std::string& field) {
  if (!value.is_object() || !value.contains("username") || !value["username"].is_string() ||
      !value.contains("pat_token") || !value["pat_token"].is_string()) {
    Body::invalid(field, "must be an object with string fields username and pat_token");
  }
  return {value["username"].get<std::string>(), value["pat_token"].get<std::string>()};
}

service::RepoCreateRequest createRequest(const Body& body) {
  service::RepoCreateRequest request;
  request.visibility_level =
      body.optionalEnum<Visibility>("visibility_level", domain::parseVisibility)
          .value_or(Visibility::kPublic);
  request.name = body.requiredString("name");
  request.repo_url = body.requiredString("repo_url");
  request.platform = body.optionalString("platform").value_or("Gitlab");
  request.is_public_repository = body.optionalBool("is_public_repository").value_or(true);
  if (body.has("credentials") && !body.json()["credentials"].is_null()) {
    request.credentials = credentialsOf(body.json()["credentials"], "credentials");
  }
  request.is_compilable_repo = body.optionalBool("is_compilable_repo").value_or(false);
  return request;
}

service::RepoUpdateRequest updateRequest(const Body& body) {
  service::RepoUpdateRequest request;
  request.visibility_level =
      body.optionalEnum<Visibility>("visibility_level", domain::parseVisibility);
  request.name = body.optionalString("name");
  request.is_auto_update_repo = body.optionalBool("is_auto_update_repo");
  request.default_branch = body.optionalString("default_branch");
  request.default_commit = body.nullableString("default_commit");
  request.is_only_tag_update = body.optionalBool("is_only_tag_update");
  request.is_compilable_repo = body.optionalBool("is_compilable_repo");
  return request;
}

store::RepoFilter repoFilter(const Query& query, std::int64_t max_page) {
  store::RepoFilter filter;
  filter.uuids = query.uuids("uuids");
  if (const auto creator = query.uuid("creator_uuid")) {
    filter.creators.push_back(*creator);
  }
  for (const auto& creator : query.uuids("creators_uuids")) {
    filter.creators.push_back(creator);
  }
  if (const auto search = query.text("search_string")) {
    filter.search_words = domain::splitSearchWords(*search);
  }
  (void)query.boolean("is_public_repository");  // accepted (and type-checked), not applied
  filter.is_auto_update_repo = query.boolean("is_auto_update_repo");
  filter.created_newest_first = query.descending("order_by_create_date").value_or(true);
  filter.updated_newest_first = query.descending("order_by_last_update").value_or(true);
  const auto paging = query.paging(max_page);
  filter.offset = paging.offset;
  filter.limit = paging.limit;
  return filter;
}

std::int64_t nonNegative(const Query& query, const std::string& name, std::int64_t fallback) {
  const auto value = query.integer(name).value_or(fallback);
  if (value < 0) {
    Query::invalid(name, "must be >= 0");
  }
  return value;
}

}  // namespace

json repoRead(const service::RepoView& view) {
  const auto& repo = view.repo;
  return {
      {"uuid", repo.uuid.toString()},
      {"visibility_level", domain::toString(repo.visibility_level)},
      {"name", repo.name},
      {"create_datetime", isoDatetime(repo.create_datetime)},
      {"repo_url", repo.repo_url},
      {"platform", repo.platform},
      {"is_public_repository", repo.is_public_repository},
      {"default_branch", nullable(repo.default_branch)},
      {"is_auto_update_repo", repo.is_auto_update_repo},
      {"default_commit", nullable(repo.default_commit)},
      {"is_only_tag_update", repo.is_only_tag_update},
      {"is_compilable_repo", repo.is_compilable_repo},
      {"last_update_datetime", isoDatetime(repo.last_update_datetime)},
      {"branches", view.branches},
      {"creator_uuid", repo.creator_uuid ? json(repo.creator_uuid->toString()) : json(nullptr)}};
}

void registerRepoRoutes(Api& api, service::RepoService& repos, std::int64_t max_page) {
  api.post("/repos", [&repos](RequestContext& ctx) {
    const auto request = createRequest(ctx.body());
    ctx.sendJson(repoRead(repos.create(ctx.principal, request)), 201);
  });

  api.post("/repos/bulk_update", [&repos](RequestContext& ctx) {
    repos.bulkUpdate(ctx.principal);
    ctx.sendNoContent();
  });

  api.get("/repos/branch_commits/{uuid}", [&repos](RequestContext& ctx) {
    const auto uuid = ctx.uuidParam("uuid");
    const auto query = ctx.query();
    const auto branch = query.requiredText("repo_branch");
    const auto only_tag = query.boolean("only_tag").value_or(false);
    const auto offset = nonNegative(query, "offset", 0);
    const auto limit = nonNegative(query, "limit", 10);
    auto items = json::array();
    for (const auto& commit :
         repos.branchCommits(ctx.principal, uuid, branch, only_tag, offset, limit)) {
      items.push_back(
          {{"commit", commit.commit}, {"summary", commit.summary}, {"tag", nullable(commit.tag)}});
    }
    ctx.sendJson(items);
  });

  api.get("/repos/available_platforms/{uuid}", [&repos](RequestContext& ctx) {
    const auto uuid = ctx.uuidParam("uuid");
    const auto query = ctx.query();
    (void)query.text("target_commit");  // accepted; only compilable repos have platforms
    (void)query.text("target_tag");
    auto items = json::array();
    for (const auto& platform : repos.availablePlatforms(ctx.principal, uuid)) {
      items.push_back({{"name", platform.name}, {"link", platform.link}});
    }
    ctx.sendJson(items);
  });

  api.get("/repos/versions/{uuid}", [&repos](RequestContext& ctx) {
    const auto versions = repos.versions(ctx.principal, ctx.uuidParam("uuid"));
    auto items = json::array();
    for (const auto& v : versions.versions) {
      items.push_back(
          {{"commit", v.commit}, {"unit_count", v.unit_count}, {"tag", nullable(v.tag)}});
    }
    ctx.sendJson({{"unit_count", versions.unit_count}, {"versions", std::move(items)}});
  });

  api.patch("/repos/credentials/{uuid}", [&repos](RequestContext& ctx) {
    const auto uuid = ctx.uuidParam("uuid");
    const auto body = ctx.body();
    const auto credentials =
        gitsync::Credentials{body.requiredString("username"), body.requiredString("pat_token")};
    ctx.sendJson(repoRead(repos.setCredentials(ctx.principal, uuid, credentials)));
  });

  api.patch("/repos/update_local_repo/{uuid}", [&repos](RequestContext& ctx) {
    repos.updateLocalRepo(ctx.principal, ctx.uuidParam("uuid"));
    ctx.sendNoContent();
  });

  api.patch("/repos/update_units_firmware/{uuid}", [&repos](RequestContext& ctx) {
    repos.updateUnitsFirmware(ctx.principal, ctx.uuidParam("uuid"));
    ctx.sendNoContent();
  });

  api.get("/repos/{uuid}", [&repos](RequestContext& ctx) {
    ctx.sendJson(repoRead(repos.get(ctx.principal, ctx.uuidParam("uuid"))));
  });

  api.patch("/repos/{uuid}", [&repos](RequestContext& ctx) {
    const auto uuid = ctx.uuidParam("uuid");
    const auto request = updateRequest(ctx.body());
    ctx.sendJson(repoRead(repos.update(ctx.principal, uuid, request)));
  });

  api.del("/repos/{uuid}", [&repos](RequestContext& ctx) {
    repos.remove(ctx.principal, ctx.uuidParam("uuid"));
    ctx.sendNoContent();
  });

  api.get("/repos", [&repos, max_page](RequestContext& ctx) {
    const auto query = ctx.query();
    const auto levels = query.enums<Visibility>("visibility_level", domain::parseVisibility);
    const auto page = repos.list(ctx.principal, levels, repoFilter(query, max_page));
    auto items = json::array();
    for (const auto& view : page.rows) {
      items.push_back(repoRead(view));
    }
    ctx.sendJson({{"count", page.count}, {"repos", std::move(items)}});
  });
}

}  // namespace pepeunit::http
