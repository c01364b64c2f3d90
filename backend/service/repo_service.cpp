// Repo use cases; see repo_service.hpp for the rules and where they depart from the original.
#include "service/repo_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>

#include "common/errors.hpp"
#include "crypto/random.hpp"
#include "domain/git_url.hpp"
#include "domain/names.hpp"
#include "domain/target_version.hpp"

namespace pepeunit::service {
namespace {

using domain::Principal;
using domain::Role;
using domain::Uuid;
using domain::Visibility;

constexpr const char* kNoObject = "The object does not exist";

Error repoError(const std::string& message) {
  return Error(ErrorKind::kRepoValidation, message);
}

/// `access_check(roles, is_unit_available=False)` with the original's messages.
void requireRole(const Principal& caller, std::initializer_list<Role> roles) {
  if (domain::roleAllowed(caller, roles, /*unit_allowed=*/false)) {
    return;
  }
  if (caller.isUnit()) {
    throw NoAccess("The resource is not available for the current Unit");
  }
  if (caller.isBlocked()) {
    throw NoAccess("User is Blocked");
  }
  throw NoAccess("The current user role is not in the list of available roles");
}

void requireUserOrAdmin(const Principal& caller) {
  requireRole(caller, {Role::kUser, Role::kAdmin});
}

void requireManager(const Principal& caller, const store::Repo& repo) {
  // A repo without a creator (imported data) can only be managed by an Admin.
  if (!domain::canManage(caller, repo.creator_uuid.value_or(Uuid{}))) {
    throw NoAccess("The current user is not the creator of this Repo");
  }
}

class CsprngSource : public domain::RandomSource {
 public:
  void fill(std::span<std::uint8_t> out) override {
    const auto bytes = crypto::randomBytes(out.size());
    std::copy(bytes.begin(), bytes.end(), out.begin());
  }
};

Uuid randomUuid() {
  CsprngSource source;
  return Uuid::generateV4(source);
}

void requireCredentials(const gitsync::Credentials& credentials) {
  if (credentials.username.empty() || credentials.pat_token.empty()) {
    throw repoError("Credentials need a non-empty username and pat_token");
  }
}

/// The clone's history as the target-version rules read it; each branch is walked at most once.
domain::RepoHistory historyOf(const gitsync::RepoMirror& mirror, const Uuid& uuid) {
  auto cache = std::make_shared<std::map<std::string, std::vector<domain::CommitInfo>>>();
  return {mirror.branches(uuid), [&mirror, uuid, cache](const std::string& branch) {
            auto it = cache->find(branch);
            if (it == cache->end()) {
              std::vector<domain::CommitInfo> commits;
              for (auto& c : mirror.commits(uuid, branch)) {
                commits.push_back({std::move(c.commit), std::move(c.tag)});
              }
              it = cache->emplace(branch, std::move(commits)).first;
            }
            return it->second;
          }};
}

}  // namespace

std::string encryptCredentials(const crypto::SecretBox& box,
                               const gitsync::Credentials& credentials) {
  const nlohmann::json json = {{"username", credentials.username},
                               {"pat_token", credentials.pat_token}};
  return box.encrypt(json.dump());
}

std::optional<gitsync::Credentials> repoCredentials(const crypto::SecretBox& box,
                                                    const store::Repo& repo) {
  if (repo.is_public_repository || !repo.cipher_credentials) {
    return std::nullopt;
  }
  const auto json = nlohmann::json::parse(box.decrypt(*repo.cipher_credentials), nullptr, false);
  if (!json.is_object() || !json.contains("username") || !json["username"].is_string() ||
      !json.contains("pat_token") || !json["pat_token"].is_string()) {
    throw crypto::DecryptError("repo credentials are not {username, pat_token}");
  }
  return gitsync::Credentials{json["username"].get<std::string>(),
                              json["pat_token"].get<std::string>()};
}

RepoService::RepoService(store::RepoStore& repos, store::PermissionStore& permissions,
                         gitsync::RepoMirror& mirror, const crypto::SecretBox& box,
                         RepoUnitsUpdater& updater, std::function<void()> start_bulk_update,
                         Clock clock, RepoServiceOptions options, UuidSource new_uuid)
    : repos_(repos),
      permissions_(permissions),
      mirror_(mirror),
      box_(box),
      updater_(updater),
      start_bulk_update_(std::move(start_bulk_update)),
      clock_(std::move(clock)),
      options_(options),
      new_uuid_(new_uuid ? std::move(new_uuid) : UuidSource(randomUuid)) {}

store::Repo RepoService::existing(const Uuid& uuid) {
  auto repo = repos_.find(uuid);
  if (!repo) {
    throw ValidationError(kNoObject);
  }
  return std::move(*repo);
}

void RepoService::requireVisible(const Principal& caller, const store::Repo& repo) {
  bool granted = false;
  if (repo.visibility_level == Visibility::kPrivate && caller.uuid && !caller.isAdmin()) {
    const auto grant = permissions_.find(*caller.uuid, repo.uuid);
    granted = grant && domain::Grant{grant->agent, grant->resource, grant->resource_type,
                                     grant->valid_until_unix}
                           .activeAt(clock_());
  }
  if (!domain::canView(caller, repo.visibility_level, granted)) {
    throw NoAccess("Visibility level " + std::string(domain::toString(repo.visibility_level)) +
                   " of this Repo is not available for the current agent");
  }
}

std::vector<std::string> RepoService::branchesOf(const Uuid& uuid) const {
  try {
    return mirror_.branches(uuid);
  } catch (const Error& e) {
    spdlog::debug("repo {}: branches unavailable: {}", uuid.toString(), e.what());
    return {};
  }
}

RepoView RepoService::view(store::Repo repo) const {
  auto branches = branchesOf(repo.uuid);
  return {std::move(repo), std::move(branches)};
}

void RepoService::requireValidName(const std::string& name, const std::optional<Uuid>& except) {
  if (!domain::isValidName(name)) {
    throw repoError("Name is not correct");
  }
  if (repos_.nameTaken(name, except)) {
    throw repoError("Name is not unique");
  }
}

RepoView RepoService::create(const Principal& caller, const RepoCreateRequest& request) {
  requireUserOrAdmin(caller);
  if (request.is_compilable_repo) {
    throw repoError("Compilable repos are not supported by this instance");
  }
  requireValidName(request.name, std::nullopt);
  if (const auto problem = domain::validateRepoUrl(request.repo_url, options_.allow_local_repos)) {
    throw repoError(*problem);
  }
  if (request.platform != "Gitlab" && request.platform != "Github") {
    throw repoError("Platform must be Gitlab or Github");
  }
  std::optional<gitsync::Credentials> credentials;
  std::optional<std::string> cipher;
  if (!request.is_public_repository) {
    if (!request.credentials) {
      throw repoError("A private repo requires credentials {username, pat_token}");
    }
    requireCredentials(*request.credentials);
    credentials = request.credentials;
    cipher = encryptCredentials(box_, *credentials);
  }

  // Clone first: a failure leaves nothing behind (RepoMirror clones into a temporary directory
  // and renames it into place only when complete).
  const Uuid uuid = new_uuid_();
  mirror_.clone(uuid, request.repo_url, credentials, options_.max_repo_size_bytes);
  try {
    auto repo =
        repos_.insert({uuid, request.visibility_level, request.name, request.repo_url,
                       request.platform, request.is_public_repository, cipher, *caller.uuid},
                      domain::grantsForRepoCreated(*caller.uuid, uuid));
    spdlog::info("repo {} created by {}", uuid.toString(), caller.uuid->toString());
    return view(std::move(repo));
  } catch (...) {
    try {
      mirror_.remove(uuid);
    } catch (const std::exception& e) {
      spdlog::error("repo {}: cannot remove the clone of a failed create: {}", uuid.toString(),
                    e.what());
    }
    throw;
  }
}

RepoView RepoService::get(const Principal& caller, const Uuid& uuid) {
  requireRole(caller, {Role::kBot, Role::kUser, Role::kAdmin});
  auto repo = existing(uuid);
  requireVisible(caller, repo);
  return view(std::move(repo));
}

RepoViewPage RepoService::list(const Principal& caller,
                               const std::vector<Visibility>& requested_levels,
                               store::RepoFilter filter) {
  requireRole(caller, {Role::kBot, Role::kUser, Role::kAdmin});
  const auto now = clock_();
  std::vector<domain::Grant> grants;
  if (caller.uuid && !caller.isBot()) {
    grants = permissions_.activeGrants(*caller.uuid, domain::ResourceType::kRepo, now);
  }
  filter.scope = domain::listScope(caller, requested_levels, grants, now);
  auto page = repos_.list(filter);
  RepoViewPage out;
  out.count = page.count;
  out.rows.reserve(page.rows.size());
  for (auto& repo : page.rows) {
    out.rows.push_back(view(std::move(repo)));
  }
  return out;
}

std::vector<gitsync::CommitInfo> RepoService::branchCommits(const Principal& caller,
                                                            const Uuid& uuid,
                                                            const std::string& branch,
                                                            bool only_tag, std::int64_t offset,
                                                            std::int64_t limit) {
  requireUserOrAdmin(caller);
  const auto repo = existing(uuid);
  requireVisible(caller, repo);
  auto commits = mirror_.commits(uuid, branch);
  if (only_tag) {
    std::erase_if(commits, [](const gitsync::CommitInfo& c) { return !c.tag.has_value(); });
  }
  const auto size = static_cast<std::int64_t>(commits.size());
  const auto begin = std::clamp<std::int64_t>(offset, 0, size);
  const auto end = std::clamp<std::int64_t>(begin + std::max<std::int64_t>(limit, 0), begin, size);
  return {commits.begin() + begin, commits.begin() + end};
}

std::vector<Platform> RepoService::availablePlatforms(const Principal& caller, const Uuid& uuid) {
  requireUserOrAdmin(caller);
  const auto repo = existing(uuid);
  requireVisible(caller, repo);
  return {};  // only compilable repos with releases have platforms (out of scope)
}

RepoVersions RepoService::versions(const Principal& caller, const Uuid& uuid) {
  requireRole(caller, {Role::kBot, Role::kUser, Role::kAdmin});
  const auto repo = existing(uuid);
  requireVisible(caller, repo);

  std::map<std::string, std::string> tags;  // commit -> tag on the default branch
  if (repo.default_branch) {
    try {
      for (const auto& c : mirror_.commits(uuid, *repo.default_branch)) {
        if (c.tag) {
          tags.emplace(c.commit, *c.tag);
        }
      }
    } catch (const Error& e) {
      spdlog::debug("repo {}: no tags for versions: {}", uuid.toString(), e.what());
    }
  }
  RepoVersions out;
  for (auto& v : repos_.unitVersions(uuid)) {
    out.unit_count += v.unit_count;
    const auto tag = tags.find(v.commit);
    out.versions.push_back({std::move(v.commit), v.unit_count,
                            tag == tags.end() ? std::nullopt : std::optional(tag->second)});
  }
  return out;
}

RepoView RepoService::update(const Principal& caller, const Uuid& uuid,
                             const RepoUpdateRequest& request) {
  requireUserOrAdmin(caller);
  const auto repo = existing(uuid);
  requireManager(caller, repo);

  if (request.is_compilable_repo.value_or(false)) {
    throw repoError("Compilable repos are not supported by this instance");
  }
  store::RepoSettings next{request.visibility_level.value_or(repo.visibility_level),
                           request.name.value_or(repo.name),
                           request.is_auto_update_repo.value_or(repo.is_auto_update_repo),
                           request.default_branch ? request.default_branch : repo.default_branch,
                           request.default_commit ? *request.default_commit : repo.default_commit,
                           request.is_only_tag_update.value_or(repo.is_only_tag_update)};

  if (next.name != repo.name) {
    requireValidName(next.name, uuid);
  }
  if (next.visibility_level != repo.visibility_level) {
    for (const auto child : repos_.unitVisibilities(uuid)) {
      if (!domain::childVisibilityAllowed(next.visibility_level, child)) {
        throw ValidationError("The visibility level of the parent object Repo (" +
                              std::string(domain::toString(next.visibility_level)) +
                              ") is lower than that of its child Unit (" +
                              std::string(domain::toString(child)) + ")");
      }
    }
  }
  if (!next.is_auto_update_repo && (!next.default_branch || !next.default_commit)) {
    throw repoError("Repo updated manually requires branch and commit");
  }

  // Version fields are checked against the clone only when one of them changes, so a rename
  // does not fail while the clone is being rebuilt.
  const bool version_touched = request.default_branch || request.default_commit ||
                               request.is_auto_update_repo || request.is_only_tag_update;
  if (version_touched && next.default_branch) {
    const auto history = historyOf(mirror_, uuid);
    domain::RepoVersionFacts facts{next.is_auto_update_repo, repo.is_compilable_repo,
                                   next.is_only_tag_update, next.default_branch,
                                   next.default_commit};
    if (next.default_commit) {
      // default_commit must lie on default_branch in either mode.
      auto pinned = facts;
      pinned.is_auto_update_repo = false;
      pinned.is_compilable_repo = false;
      domain::repoTargetVersion(pinned, history);
    }
    domain::repoTargetVersion(facts, history);  // the target must be computable
  }

  auto saved = repos_.updateSettings(uuid, next);
  if (!saved) {
    throw ValidationError(kNoObject);
  }
  if (!saved->is_auto_update_repo && saved->default_branch && saved->default_commit) {
    const auto summary = updater_.updateAutoUnits(uuid);
    spdlog::info("repo {}: manual target set, units updated {}, failed {}", uuid.toString(),
                 summary.updated, summary.failed);
  }
  return view(std::move(*saved));
}

RepoView RepoService::setCredentials(const Principal& caller, const Uuid& uuid,
                                     const gitsync::Credentials& credentials) {
  requireUserOrAdmin(caller);
  const auto repo = existing(uuid);
  if (!domain::canWriteSecrets(caller, repo.creator_uuid.value_or(Uuid{}))) {
    throw NoAccess("The current user is not the creator of this Repo");
  }
  if (repo.is_public_repository) {
    throw repoError("Is public repo");
  }
  requireCredentials(credentials);
  auto saved = repos_.setCredentials(uuid, encryptCredentials(box_, credentials));
  if (!saved) {
    throw ValidationError(kNoObject);
  }
  spdlog::info("repo {}: credentials replaced", uuid.toString());
  return view(std::move(*saved));
}

void RepoService::updateLocalRepo(const Principal& caller, const Uuid& uuid) {
  requireUserOrAdmin(caller);
  const auto repo = existing(uuid);
  requireManager(caller, repo);
  mirror_.clone(uuid, repo.repo_url, repoCredentials(box_, repo), options_.max_repo_size_bytes);
  if (!repos_.find(uuid)) {
    // Deleted while we cloned: its DELETE removed the old copy, so remove the new one.
    mirror_.remove(uuid);
    throw ValidationError(kNoObject);
  }
  spdlog::info("repo {}: local copy re-cloned", uuid.toString());
}

UnitsUpdateSummary RepoService::updateUnitsFirmware(const Principal& caller, const Uuid& uuid) {
  requireUserOrAdmin(caller);
  const auto repo = existing(uuid);
  requireManager(caller, repo);
  const auto summary = updater_.updateAutoUnits(uuid);
  spdlog::info("repo {}: units updated {}, failed {}", uuid.toString(), summary.updated,
               summary.failed);
  return summary;
}

void RepoService::bulkUpdate(const Principal& caller) {
  requireRole(caller, {Role::kAdmin});
  start_bulk_update_();
}

void RepoService::remove(const Principal& caller, const Uuid& uuid) {
  requireUserOrAdmin(caller);
  const auto repo = existing(uuid);
  requireManager(caller, repo);
  const auto result = repos_.remove(uuid);
  switch (result.outcome) {
    case store::RepoDeleteOutcome::kNotFound:
      throw ValidationError(kNoObject);
    case store::RepoDeleteOutcome::kHasUnits:
      throw ValidationError("The array was expected to be empty, but the Repo has " +
                            std::to_string(result.unit_count) + " Unit(s)");
    case store::RepoDeleteOutcome::kDeleted:
      break;
  }
  try {
    mirror_.remove(uuid);
  } catch (const std::exception& e) {
    spdlog::error("repo {}: deleted, but its clone could not be removed: {}", uuid.toString(),
                  e.what());
  }
  spdlog::info("repo {} deleted", uuid.toString());
}

}  // namespace pepeunit::service
