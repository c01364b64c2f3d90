// Repo use cases (pepeunit_backend_spec.md §2.2, §7.1-§7.5, §8.2-§8.3): create (clone first),
// get, list, branch commits, platforms, versions, update with every RepoUpdate validation,
// credentials, re-clone, repo-driven unit updates, bulk update and delete.
//
// Departures from the original, on purpose:
//  * Create clones BEFORE inserting the row (into the final `<BACKEND_SAVE_REPO_PATH>/<uuid>`),
//    so a failed clone leaves neither a row nor a directory; a failed insert removes the clone.
//  * Admins manage every repo (domain::canManage) but never set another user's credentials
//    (domain::canWriteSecrets), as everywhere else in this port.
//  * Compilable repos (release assets from GitHub/GitLab APIs) are out of scope: asking for one
//    is error 6, and `available_platforms` is always [] (what the spec answers for a
//    non-compilable repo).
//
// Credentials of private repos are stored encrypted (SecretBox) as `{"username","pat_token"}`,
// handed to libgit2 in memory only, and never returned or logged.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "crypto/secret_box.hpp"
#include "domain/access.hpp"
#include "domain/enums.hpp"
#include "domain/uuid.hpp"
#include "gitsync/repo_mirror.hpp"
#include "service/repo_units_updater.hpp"
#include "store/permission_store.hpp"
#include "store/repo_store.hpp"

namespace pepeunit::service {

/// The encrypted `{"username","pat_token"}` JSON stored in cipher_credentials_private_repository.
std::string encryptCredentials(const crypto::SecretBox& box,
                               const gitsync::Credentials& credentials);

/// The credentials to clone/fetch `repo` with: nullopt for a public repo or when none are stored.
/// Throws crypto::DecryptError when the stored value cannot be decrypted or is not the JSON above.
std::optional<gitsync::Credentials> repoCredentials(const crypto::SecretBox& box,
                                                    const store::Repo& repo);

/// A repo as `RepoRead` shows it: the row plus the clone's remote branches ([] when the clone
/// cannot be read).
struct RepoView {
  store::Repo repo;
  std::vector<std::string> branches;
};

struct RepoViewPage {
  std::int64_t count = 0;
  std::vector<RepoView> rows;
};

/// `RepoCreate` (§2.2), already parsed.
struct RepoCreateRequest {
  domain::Visibility visibility_level = domain::Visibility::kPublic;
  std::string name;
  std::string repo_url;
  std::string platform = "Gitlab";
  bool is_public_repository = true;
  std::optional<gitsync::Credentials> credentials;
  bool is_compilable_repo = false;
};

/// `RepoUpdate` (§2.2): absent fields are left unchanged. `default_commit` may also be an
/// explicit null, which clears it.
struct RepoUpdateRequest {
  std::optional<domain::Visibility> visibility_level;
  std::optional<std::string> name;
  std::optional<bool> is_auto_update_repo;
  std::optional<std::string> default_branch;
  std::optional<std::optional<std::string>> default_commit;
  std::optional<bool> is_only_tag_update;
  std::optional<bool> is_compilable_repo;
};

/// `GET /repos/versions/{uuid}`.
struct RepoVersions {
  struct Version {
    std::string commit;
    std::int64_t unit_count = 0;
    std::optional<std::string> tag;
  };
  std::int64_t unit_count = 0;
  std::vector<Version> versions;
};

/// `GET /repos/available_platforms/{uuid}` item.
struct Platform {
  std::string name;
  std::string link;
};

struct RepoServiceOptions {
  /// BACKEND_ALLOW_LOCAL_REPOS: file:// URLs and absolute paths.
  bool allow_local_repos = false;
  /// BACKEND_MAX_EXTERNAL_REPO_SIZE in bytes.
  std::uint64_t max_repo_size_bytes = std::uint64_t{50} * 1024 * 1024;
};

class RepoService {
 public:
  using Clock = std::function<std::int64_t()>;  // unix seconds
  using UuidSource = std::function<domain::Uuid()>;

  /// `start_bulk_update` starts the auto-update pass over every auto-update repo in the
  /// background and returns at once (main wires it to RepoScheduler::requestPass).
  /// `new_uuid` defaults to random v4 UUIDs from the CSPRNG.
  RepoService(store::RepoStore& repos, store::PermissionStore& permissions,
              gitsync::RepoMirror& mirror, const crypto::SecretBox& box, RepoUnitsUpdater& updater,
              std::function<void()> start_bulk_update, Clock clock, RepoServiceOptions options,
              UuidSource new_uuid = {});

  /// POST /repos (Users, Admins). Errors: 6 name not correct / not unique, URL rules, platform,
  /// private repo without credentials, compilable repo; 5 when the clone fails (bad URL or
  /// credentials, too big); 12 credentials too long to encrypt.
  RepoView create(const domain::Principal& caller, const RepoCreateRequest& request);

  /// GET /repos/{uuid} (Bot, Users, Admins + visibility).
  RepoView get(const domain::Principal& caller, const domain::Uuid& uuid);

  /// GET /repos (Bot, Users, Admins). `requested_levels` is `visibility_level[]`; `filter.scope`
  /// is computed here from the caller and their grants (§3.6).
  RepoViewPage list(const domain::Principal& caller,
                    const std::vector<domain::Visibility>& requested_levels,
                    store::RepoFilter filter);

  /// GET /repos/branch_commits/{uuid} (Users, Admins + visibility): the branch's commits newest
  /// first with their tags; only tagged ones when `only_tag`; then offset/limit.
  std::vector<gitsync::CommitInfo> branchCommits(const domain::Principal& caller,
                                                 const domain::Uuid& uuid,
                                                 const std::string& branch, bool only_tag,
                                                 std::int64_t offset, std::int64_t limit);

  /// GET /repos/available_platforms/{uuid} (Users, Admins + visibility): always [] here.
  std::vector<Platform> availablePlatforms(const domain::Principal& caller,
                                           const domain::Uuid& uuid);

  /// GET /repos/versions/{uuid} (Bot, Users, Admins + visibility).
  RepoVersions versions(const domain::Principal& caller, const domain::Uuid& uuid);

  /// PATCH /repos/{uuid} (creator or Admin). Validation order: compilable (6), name (6),
  /// visibility of child Units (2), manual mode needs branch and commit (6); then, when a
  /// version field changes: the branch exists in the clone, default_commit lies on it and the
  /// target is computable (5). Manual mode with branch and commit afterwards updates the
  /// repo's auto-update Units at once (§8.2).
  RepoView update(const domain::Principal& caller, const domain::Uuid& uuid,
                  const RepoUpdateRequest& request);

  /// PATCH /repos/credentials/{uuid} (the creator only; private repos only, else 6 "Is public
  /// repo"). Takes effect at the next clone or fetch.
  RepoView setCredentials(const domain::Principal& caller, const domain::Uuid& uuid,
                          const gitsync::Credentials& credentials);

  /// PATCH /repos/update_local_repo/{uuid} (creator or Admin): a fresh clone replaces the old
  /// one only when it fully succeeded (errors 5 as for create).
  void updateLocalRepo(const domain::Principal& caller, const domain::Uuid& uuid);

  /// PATCH /repos/update_units_firmware/{uuid} (creator or Admin), §8.2.
  UnitsUpdateSummary updateUnitsFirmware(const domain::Principal& caller, const domain::Uuid& uuid);

  /// POST /repos/bulk_update (Admins): starts the background pass and returns.
  void bulkUpdate(const domain::Principal& caller);

  /// DELETE /repos/{uuid} (creator or Admin): only without Units (2 "The array was expected to
  /// be empty..."); removes the clone.
  void remove(const domain::Principal& caller, const domain::Uuid& uuid);

 private:
  store::Repo existing(const domain::Uuid& uuid);
  void requireVisible(const domain::Principal& caller, const store::Repo& repo);
  std::vector<std::string> branchesOf(const domain::Uuid& uuid) const;
  RepoView view(store::Repo repo) const;
  void requireValidName(const std::string& name, const std::optional<domain::Uuid>& except);

  store::RepoStore& repos_;
  store::PermissionStore& permissions_;
  gitsync::RepoMirror& mirror_;
  const crypto::SecretBox& box_;
  RepoUnitsUpdater& updater_;
  std::function<void()> start_bulk_update_;
  Clock clock_;
  RepoServiceOptions options_;
  UuidSource new_uuid_;
};

}  // namespace pepeunit::service
