// In-memory RepoStore for service unit tests: the same contract as the PostgreSQL one (unique
// names -> error 6, delete refused while Units exist, the list filter and visibility scope),
// with helpers to seed child Units and to hold the sync lock.
#pragma once

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "store/repo_store.hpp"

namespace pepeunit::testing {

class FakeRepoStore : public store::RepoStore {
 public:
  // ---- Seeding and inspection ----
  /// A child Unit of `repo` with this visibility and (optionally) reported version.
  void addUnit(const domain::Uuid& repo, domain::Visibility level,
               std::optional<std::string> version = std::nullopt) {
    units_[repo].push_back({level, std::move(version)});
  }
  void put(const store::Repo& repo) { repos_[repo.uuid] = repo; }
  const std::map<domain::Uuid, store::Repo>& rows() const { return repos_; }
  const std::vector<domain::GrantSpec>& grants() const { return grants_; }
  /// The filter of the last list() call.
  const std::optional<store::RepoFilter>& lastFilter() const { return last_filter_; }
  /// While true, tryLockSync() answers nullptr (another instance holds the lock).
  bool lock_held_elsewhere = false;
  int lock_taken = 0;

  // ---- RepoStore ----
  store::Repo insert(const store::NewRepo& n,
                     const std::vector<domain::GrantSpec>& grants) override {
    if (nameTaken(n.name, std::nullopt)) {
      throw Error(ErrorKind::kRepoValidation, "Name is not unique");
    }
    store::Repo repo;
    repo.uuid = n.uuid;
    repo.visibility_level = n.visibility_level;
    repo.name = n.name;
    repo.repo_url = n.repo_url;
    repo.platform = n.platform;
    repo.is_public_repository = n.is_public_repository;
    repo.cipher_credentials = n.cipher_credentials;
    repo.creator_uuid = n.creator;
    repo.create_datetime = repo.last_update_datetime = store::Timestamp(
        std::chrono::microseconds(static_cast<std::int64_t>(repos_.size() + 1) * 1000000));
    repos_[repo.uuid] = repo;
    grants_.insert(grants_.end(), grants.begin(), grants.end());
    return repo;
  }

  std::optional<store::Repo> find(const domain::Uuid& uuid) override {
    const auto it = repos_.find(uuid);
    if (it == repos_.end())
      return std::nullopt;
    return it->second;
  }

  bool nameTaken(const std::string& name, const std::optional<domain::Uuid>& except) override {
    return std::any_of(repos_.begin(), repos_.end(), [&](const auto& kv) {
      return kv.second.name == name && (!except || kv.first != *except);
    });
  }

  store::RepoPage list(const store::RepoFilter& filter) override {
    last_filter_ = filter;
    store::RepoPage page;
    for (const auto& [uuid, repo] : repos_) {
      if (!filter.scope.admits(repo.visibility_level, uuid))
        continue;
      if (!filter.uuids.empty() &&
          std::find(filter.uuids.begin(), filter.uuids.end(), uuid) == filter.uuids.end())
        continue;
      if (!filter.creators.empty() &&
          (!repo.creator_uuid || std::find(filter.creators.begin(), filter.creators.end(),
                                           *repo.creator_uuid) == filter.creators.end()))
        continue;
      if (filter.is_auto_update_repo && repo.is_auto_update_repo != *filter.is_auto_update_repo)
        continue;
      const bool words = std::all_of(
          filter.search_words.begin(), filter.search_words.end(), [&](const std::string& w) {
            return contains(repo.name, w) || contains(repo.repo_url, w) ||
                   (repo.default_branch && contains(*repo.default_branch, w));
          });
      if (!words)
        continue;
      page.rows.push_back(repo);
    }
    page.count = static_cast<std::int64_t>(page.rows.size());
    return page;
  }

  std::vector<store::Repo> listAll() override {
    std::vector<store::Repo> out;
    for (const auto& kv : repos_)
      out.push_back(kv.second);
    return out;
  }

  std::optional<store::Repo> updateSettings(const domain::Uuid& uuid,
                                            const store::RepoSettings& s) override {
    const auto it = repos_.find(uuid);
    if (it == repos_.end())
      return std::nullopt;
    if (nameTaken(s.name, uuid)) {
      throw Error(ErrorKind::kRepoValidation, "Name is not unique");
    }
    auto& repo = it->second;
    repo.visibility_level = s.visibility_level;
    repo.name = s.name;
    repo.is_auto_update_repo = s.is_auto_update_repo;
    repo.default_branch = s.default_branch;
    repo.default_commit = s.default_commit;
    repo.is_only_tag_update = s.is_only_tag_update;
    return repo;
  }

  std::optional<store::Repo> setCredentials(const domain::Uuid& uuid,
                                            const std::string& cipher) override {
    const auto it = repos_.find(uuid);
    if (it == repos_.end())
      return std::nullopt;
    it->second.cipher_credentials = cipher;
    return it->second;
  }

  std::vector<domain::Visibility> unitVisibilities(const domain::Uuid& uuid) override {
    std::vector<domain::Visibility> out;
    for (const auto& unit : units_[uuid])
      out.push_back(unit.level);
    return out;
  }

  store::RepoDeleteResult remove(const domain::Uuid& uuid) override {
    if (!repos_.count(uuid))
      return {store::RepoDeleteOutcome::kNotFound, 0};
    const auto units = static_cast<std::int64_t>(units_[uuid].size());
    if (units > 0)
      return {store::RepoDeleteOutcome::kHasUnits, units};
    repos_.erase(uuid);
    return {store::RepoDeleteOutcome::kDeleted, 0};
  }

  std::vector<store::RepoVersionCount> unitVersions(const domain::Uuid& uuid) override {
    std::map<std::string, std::int64_t> counts;
    for (const auto& unit : units_[uuid]) {
      if (unit.version)
        ++counts[*unit.version];
    }
    std::vector<store::RepoVersionCount> out;
    for (const auto& [commit, n] : counts)
      out.push_back({commit, n});
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.unit_count > b.unit_count; });
    return out;
  }

  std::unique_ptr<store::SyncLease> tryLockSync() override {
    if (lock_held_elsewhere)
      return nullptr;
    ++lock_taken;
    return std::make_unique<store::SyncLease>();
  }

 private:
  struct ChildUnit {
    domain::Visibility level;
    std::optional<std::string> version;
  };

  static bool contains(const std::string& text, const std::string& word) {
    auto lower = [](std::string s) {
      for (auto& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return s;
    };
    return lower(text).find(lower(word)) != std::string::npos;
  }

  std::map<domain::Uuid, store::Repo> repos_;
  std::map<domain::Uuid, std::vector<ChildUnit>> units_;
  std::vector<domain::GrantSpec> grants_;
  std::optional<store::RepoFilter> last_filter_;
};

}  // namespace pepeunit::testing
