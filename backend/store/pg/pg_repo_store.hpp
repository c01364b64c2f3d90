// RepoStore over PostgreSQL: parameterized SQL only; a taken name becomes the E3 repo error 6 at
// this edge; the sync lock is a session-level advisory lock on a leased connection.
#pragma once

#include <cstdint>

#include "store/pg/pool.hpp"
#include "store/repo_store.hpp"

namespace pepeunit::store::pg {

class PgRepoStore : public RepoStore {
 public:
  /// The advisory lock key of the repo sync pass ("pepeunit" in ASCII), shared by every backend
  /// instance on the same database.
  static constexpr std::int64_t kSyncLockKey = 0x70657065756e6974;

  explicit PgRepoStore(Pool& pool) : pool_(pool) {}

  Repo insert(const NewRepo& repo, const std::vector<domain::GrantSpec>& grants) override;
  std::optional<Repo> find(const domain::Uuid& uuid) override;
  bool nameTaken(const std::string& name, const std::optional<domain::Uuid>& except) override;
  RepoPage list(const RepoFilter& filter) override;
  std::vector<Repo> listAll() override;
  std::optional<Repo> updateSettings(const domain::Uuid& uuid,
                                     const RepoSettings& settings) override;
  std::optional<Repo> setCredentials(const domain::Uuid& uuid,
                                     const std::string& cipher_credentials) override;
  std::vector<domain::Visibility> unitVisibilities(const domain::Uuid& uuid) override;
  RepoDeleteResult remove(const domain::Uuid& uuid) override;
  std::vector<RepoVersionCount> unitVersions(const domain::Uuid& uuid) override;
  /// Holds one pooled connection for the lease's lifetime (the lock belongs to that session;
  /// should the connection die, PostgreSQL releases the lock with it).
  std::unique_ptr<SyncLease> tryLockSync() override;

 private:
  Pool& pool_;
};

}  // namespace pepeunit::store::pg
