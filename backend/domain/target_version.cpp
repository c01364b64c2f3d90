// Target version selection (§7.5). Messages follow the original's wording so clients and docs
// that quote them keep matching.
#include "domain/target_version.hpp"

#include <algorithm>

#include "common/errors.hpp"

namespace pepeunit::domain {
namespace {

[[noreturn]] void fail(std::string message) {
  throw Error(ErrorKind::kGitRepoValidation, std::move(message));
}

// Python's list repr, as the original printed it: ['main', 'dev'].
std::string listRepr(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += (i == 0 ? "'" : ", '") + items[i] + "'";
  }
  return out + "]";
}

// The commits of `branch`, after checking the branch exists.
std::vector<CommitInfo> branchCommits(const RepoHistory& history,
                                      const std::optional<std::string>& branch) {
  const bool known = branch && !branch->empty() &&
                     std::find(history.branches.begin(), history.branches.end(), *branch) !=
                         history.branches.end();
  if (!known) {
    fail("Branch " + (branch ? *branch : std::string("None")) +
         " not found, available: " + listRepr(history.branches));
  }
  if (!history.commits_of) {
    return {};
  }
  return history.commits_of(*branch);
}

// The commit `commit` of `branch`, which must be on it (and tagged if `need_tag`).
TargetVersion pinnedCommit(const std::vector<CommitInfo>& commits, const std::string& branch,
                           const std::optional<std::string>& commit, std::string_view owner,
                           bool need_tag) {
  if (!commit || commit->empty()) {
    fail("Version is missing: the " + std::string(owner) + " has no commit set");
  }
  auto found = std::find_if(commits.begin(), commits.end(),
                            [&](const CommitInfo& c) { return c.commit == *commit; });
  if (found == commits.end()) {
    fail("Commit " + *commit + " not in branch " + branch);
  }
  if (need_tag && !found->tag) {
    fail("Commit " + found->commit + " without Tag");
  }
  return {found->commit, found->tag};
}

}  // namespace

TargetVersion repoTargetVersion(const RepoVersionFacts& repo, const RepoHistory& history) {
  const auto commits = branchCommits(history, repo.default_branch);

  if (!repo.is_auto_update_repo) {
    return pinnedCommit(commits, *repo.default_branch, repo.default_commit, "Repo",
                        repo.is_compilable_repo);
  }
  if (repo.is_compilable_repo || repo.is_only_tag_update) {
    // Newest first, so the first tagged commit is the most recent tag on the branch.
    auto tagged = std::find_if(commits.begin(), commits.end(),
                               [](const CommitInfo& c) { return c.tag.has_value(); });
    if (tagged == commits.end()) {
      fail("Version is missing: The tags are not in the repository");
    }
    return {tagged->commit, tagged->tag};
  }
  if (commits.empty()) {
    fail("Version is missing");
  }
  return {commits.front().commit, commits.front().tag};
}

TargetVersion unitTargetVersion(const RepoVersionFacts& repo, const UnitVersionFacts& unit,
                                const RepoHistory& history) {
  if (unit.is_auto_update_from_repo_unit) {
    return repoTargetVersion(repo, history);
  }
  const auto commits = branchCommits(history, unit.repo_branch);
  return pinnedCommit(commits, *unit.repo_branch, unit.repo_commit, "Unit",
                      repo.is_compilable_repo);
}

}  // namespace pepeunit::domain
