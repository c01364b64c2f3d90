// Which commit a Repo and a Unit should run (pepeunit_backend_spec.md §7.4, §7.5), as a pure
// function of the repo/unit flags and the clone's history. `GET /units/get_target_version`
// returns exactly unitTargetVersion(); env GET, schema, archives and reconcile all use it.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace pepeunit::domain {

/// One commit of a branch with its tag (the most recent tag on it, if several), as
/// `GET /repos/branch_commits` lists them.
struct CommitInfo {
  std::string commit;
  std::optional<std::string> tag;
};

struct TargetVersion {
  std::string commit;
  std::optional<std::string> tag;

  friend bool operator==(const TargetVersion&, const TargetVersion&) = default;
};

/// The Repo columns the target depends on.
struct RepoVersionFacts {
  bool is_auto_update_repo = true;
  bool is_compilable_repo = false;
  bool is_only_tag_update = false;
  std::optional<std::string> default_branch;
  std::optional<std::string> default_commit;
};

/// The Unit columns the target depends on.
struct UnitVersionFacts {
  bool is_auto_update_from_repo_unit = true;
  std::optional<std::string> repo_branch;
  std::optional<std::string> repo_commit;
};

/// What the clone knows. `commits_of(branch)` lists a branch's commits newest first with their
/// tags (§7.4); it is only called for a branch that is in `branches`, and only when needed.
struct RepoHistory {
  std::vector<std::string> branches;
  std::function<std::vector<CommitInfo>(const std::string& branch)> commits_of;
};

/// §7.5 repo-level target. All failures are Error(ErrorKind::kGitRepoValidation):
///  * default_branch unset or not a remote branch: "Branch <b> not found, available: [...]";
///  * auto, compilable or only-tag, no tagged commit:
///    "Version is missing: The tags are not in the repository";
///  * auto, newest commit of an empty branch: "Version is missing";
///  * manual, default_commit not on default_branch: "Commit <c> not in branch <b>";
///  * manual, compilable, untagged default_commit: "Commit <c> without Tag".
/// A compilable repo follows tags whatever is_only_tag_update says (the flag is forced true).
TargetVersion repoTargetVersion(const RepoVersionFacts& repo, const RepoHistory& history);

/// §7.5 unit-level target: the repo target when is_auto_update_from_repo_unit, else repo_commit,
/// which must lie on repo_branch ("Branch ... not found", "Commit <c> not in branch <b>"), and
/// must be tagged for a compilable repo ("Commit <c> without Tag").
TargetVersion unitTargetVersion(const RepoVersionFacts& repo, const UnitVersionFacts& unit,
                                const RepoHistory& history);

}  // namespace pepeunit::domain
