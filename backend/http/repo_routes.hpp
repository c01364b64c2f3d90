// REST routes of repos (pepeunit_backend_spec.md §2.2), paths and bodies as in the original:
//   POST   /repos                                   201 RepoRead
//   POST   /repos/bulk_update                       204 (Admin; background pass)
//   GET    /repos/branch_commits/{uuid}             200 [{"commit","summary","tag"}]
//   GET    /repos/available_platforms/{uuid}        200 [{"name","link"}]
//   GET    /repos/versions/{uuid}                   200 {"unit_count","versions"}
//   PATCH  /repos/credentials/{uuid}                200 RepoRead
//   PATCH  /repos/update_local_repo/{uuid}          204
//   PATCH  /repos/update_units_firmware/{uuid}      204
//   GET    /repos/{uuid}                            200 RepoRead
//   PATCH  /repos/{uuid}                            200 RepoRead
//   DELETE /repos/{uuid}                            204
//   GET    /repos                                   200 {"count","repos":[RepoRead]}
// RepoRead never carries credentials.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "http/api.hpp"
#include "service/repo_service.hpp"

namespace pepeunit::http {

/// `max_page` caps `limit` of GET /repos.
void registerRepoRoutes(Api& api, service::RepoService& repos, std::int64_t max_page);

/// The public view of a repo (§2.2 RepoRead).
nlohmann::json repoRead(const service::RepoView& view);

}  // namespace pepeunit::http
