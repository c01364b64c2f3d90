// Persistence of Repos (pepeunit_backend_spec.md §1.2, §2.2) as the repo use cases and the repo
// scheduler see it. Implemented over PostgreSQL in store/pg/pg_repo_store.* and in memory in
// tests/fakes/fake_repo_store.hpp.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "domain/access.hpp"
#include "domain/enums.hpp"
#include "domain/uuid.hpp"
#include "store/user_store.hpp"

namespace pepeunit::store {

/// One `repos` row. `cipher_credentials` is the encrypted `{"username","pat_token"}` JSON: it
/// never leaves the service layer.
struct Repo {
  domain::Uuid uuid;
  domain::Visibility visibility_level = domain::Visibility::kPublic;
  std::string name;
  Timestamp create_datetime{};
  Timestamp last_update_datetime{};
  std::string repo_url;
  std::string platform = "Gitlab";
  bool is_public_repository = true;
  std::optional<std::string> cipher_credentials;
  std::optional<std::string> default_branch;
  bool is_compilable_repo = false;
  std::optional<std::string> releases_data;
  bool is_auto_update_repo = true;
  std::optional<std::string> default_commit;
  bool is_only_tag_update = false;
  std::optional<domain::Uuid> creator_uuid;
};

/// What repo creation stores. The uuid is chosen by the service (the clone is made into
/// `<BACKEND_SAVE_REPO_PATH>/<uuid>` before the row exists); timestamps are the store's.
struct NewRepo {
  domain::Uuid uuid;
  domain::Visibility visibility_level = domain::Visibility::kPublic;
  std::string name;
  std::string repo_url;
  std::string platform = "Gitlab";
  bool is_public_repository = true;
  std::optional<std::string> cipher_credentials;
  domain::Uuid creator;
};

/// The columns `PATCH /repos/{uuid}` writes together (the service merges the request into the
/// current row first); last_update_datetime is set to now by the store.
struct RepoSettings {
  domain::Visibility visibility_level = domain::Visibility::kPublic;
  std::string name;
  bool is_auto_update_repo = true;
  std::optional<std::string> default_branch;
  std::optional<std::string> default_commit;
  bool is_only_tag_update = false;
};

/// `GET /repos` filters (§2.2 RepoFilter) plus the caller's visibility scope (§3.6). Empty
/// vectors mean "no filter on that column"; an empty `scope.levels` means NO rows.
struct RepoFilter {
  std::vector<domain::Uuid> uuids;
  /// `creator_uuid` and `creators_uuids[]` together: the creator is any of these.
  std::vector<domain::Uuid> creators;
  /// Every word must be a case-insensitive substring of name, repo_url or default_branch.
  std::vector<std::string> search_words;
  std::optional<bool> is_auto_update_repo;
  domain::ListScope scope;
  /// ORDER BY create_datetime, then last_update_datetime (as the original applied them).
  bool created_newest_first = true;
  bool updated_newest_first = true;
  std::int64_t offset = 0;
  /// nullopt = no limit.
  std::optional<std::int64_t> limit;
};

struct RepoPage {
  /// Matching rows before offset/limit.
  std::int64_t count = 0;
  std::vector<Repo> rows;
};

/// One `current_commit_version` reported by some of a repo's Units.
struct RepoVersionCount {
  std::string commit;
  std::int64_t unit_count = 0;
};

enum class RepoDeleteOutcome { kDeleted, kNotFound, kHasUnits };

struct RepoDeleteResult {
  RepoDeleteOutcome outcome = RepoDeleteOutcome::kNotFound;
  /// The repo's Units when kHasUnits.
  std::int64_t unit_count = 0;
};

/// Proof of holding the instance-wide repo sync lock; releasing it (destruction) lets another
/// backend instance run the next pass.
class SyncLease {
 public:
  virtual ~SyncLease() = default;
};

class RepoStore {
 public:
  virtual ~RepoStore() = default;

  /// Inserts the row and `grants` (the automatic permissions of §1.6; existing pairs are kept)
  /// in one transaction. A taken name throws Error(kRepoValidation, "Name is not unique").
  virtual Repo insert(const NewRepo& repo, const std::vector<domain::GrantSpec>& grants) = 0;

  virtual std::optional<Repo> find(const domain::Uuid& uuid) = 0;

  /// Whether another repo than `except` already has `name`.
  virtual bool nameTaken(const std::string& name, const std::optional<domain::Uuid>& except) = 0;

  virtual RepoPage list(const RepoFilter& filter) = 0;

  /// Every repo, oldest first (the scheduler's pass).
  virtual std::vector<Repo> listAll() = 0;

  /// Writes the settings and touches last_update_datetime; nullopt when no such repo. A taken
  /// name throws Error(kRepoValidation, "Name is not unique").
  virtual std::optional<Repo> updateSettings(const domain::Uuid& uuid,
                                             const RepoSettings& settings) = 0;

  /// Stores new encrypted credentials and touches last_update_datetime; nullopt when absent.
  virtual std::optional<Repo> setCredentials(const domain::Uuid& uuid,
                                             const std::string& cipher_credentials) = 0;

  /// The distinct visibility levels of the repo's Units (for §1.9 monotonicity).
  virtual std::vector<domain::Visibility> unitVisibilities(const domain::Uuid& uuid) = 0;

  /// Deletes the repo only if it has no Units, atomically (its permissions cascade).
  virtual RepoDeleteResult remove(const domain::Uuid& uuid) = 0;

  /// The repo's Units with a non-null current_commit_version grouped by it, most Units first
  /// (ties by commit).
  virtual std::vector<RepoVersionCount> unitVersions(const domain::Uuid& uuid) = 0;

  /// Takes the instance-wide repo sync lock without waiting; nullptr when another session
  /// (another backend instance) holds it.
  virtual std::unique_ptr<SyncLease> tryLockSync() = 0;
};

}  // namespace pepeunit::store
