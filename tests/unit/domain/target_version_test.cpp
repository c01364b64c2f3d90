// Target version selection: every row of §7.5's table, manual Units, and every error message.
#include "domain/target_version.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "common/errors.hpp"

namespace pd = pepeunit::domain;
using pepeunit::Error;
using pepeunit::ErrorKind;

namespace {

// main (newest first): c5 (untagged), c4 v2, c3, c2 v1, c1.
// dev: d2, d1 v-dev, c1.   empty: no commits.   plain: p2, p1 (no tags).
pd::RepoHistory history() {
  static const std::map<std::string, std::vector<pd::CommitInfo>> commits = {
      {"main", {{"c5", {}}, {"c4", "v2"}, {"c3", {}}, {"c2", "v1"}, {"c1", {}}}},
      {"dev", {{"d2", {}}, {"d1", "v-dev"}, {"c1", {}}}},
      {"empty", {}},
      {"plain", {{"p2", {}}, {"p1", {}}}},
  };
  pd::RepoHistory h;
  h.branches = {"main", "dev", "empty", "plain"};
  h.commits_of = [](const std::string& branch) {
    auto it = commits.find(branch);
    REQUIRE(it != commits.end());  // only existing branches are asked for
    return it->second;
  };
  return h;
}

pd::RepoVersionFacts repo(bool auto_update, bool compilable, bool only_tag,
                          std::optional<std::string> branch = "main",
                          std::optional<std::string> commit = std::nullopt) {
  pd::RepoVersionFacts r;
  r.is_auto_update_repo = auto_update;
  r.is_compilable_repo = compilable;
  r.is_only_tag_update = only_tag;
  r.default_branch = std::move(branch);
  r.default_commit = std::move(commit);
  return r;
}

struct Expect {
  std::string commit;  // empty: an error is expected
  std::optional<std::string> tag;
  std::string error;
};

void checkResult(const std::function<pd::TargetVersion()>& call, const Expect& expect) {
  try {
    const auto got = call();
    CHECK(expect.commit == got.commit);
    CHECK(expect.tag == got.tag);
    CHECK(expect.error.empty());
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kGitRepoValidation);
    CHECK(expect.error == std::string(e.what()));
  }
}

}  // namespace

TEST_CASE("domain: repoTargetVersion, every row of §7.5") {
  struct Row {
    const char* name;
    pd::RepoVersionFacts repo;
    Expect expect;
  };
  const Row rows[] = {
      // Row 1: auto, compilable (only-tag forced): the latest tagged commit.
      {"auto compilable", repo(true, true, false), {"c4", "v2", ""}},
      {"auto compilable only-tag", repo(true, true, true), {"c4", "v2", ""}},
      {"auto compilable, no tags",
       repo(true, true, false, "plain"),
       {"", {}, "Version is missing: The tags are not in the repository"}},
      // Row 2: auto, interpreted, only-tag: the latest tagged commit.
      {"auto only-tag", repo(true, false, true), {"c4", "v2", ""}},
      {"auto only-tag on dev", repo(true, false, true, "dev"), {"d1", "v-dev", ""}},
      {"auto only-tag, no tags",
       repo(true, false, true, "plain"),
       {"", {}, "Version is missing: The tags are not in the repository"}},
      // Row 3: auto, interpreted: the newest commit (with its tag, if any).
      {"auto newest", repo(true, false, false), {"c5", {}, ""}},
      {"auto newest on plain", repo(true, false, false, "plain"), {"p2", {}, ""}},
      {"auto newest, empty branch",
       repo(true, false, false, "empty"),
       {"", {}, "Version is missing"}},
      // Row 4: manual: default_commit, which must be on default_branch.
      {"manual", repo(false, false, false, "main", "c3"), {"c3", {}, ""}},
      {"manual tagged", repo(false, false, false, "main", "c2"), {"c2", "v1", ""}},
      {"manual, only-tag ignored", repo(false, false, true, "main", "c3"), {"c3", {}, ""}},
      {"manual, commit on another branch",
       repo(false, false, false, "main", "d2"),
       {"", {}, "Commit d2 not in branch main"}},
      {"manual, unknown commit",
       repo(false, false, false, "main", "zzz"),
       {"", {}, "Commit zzz not in branch main"}},
      {"manual, no commit",
       repo(false, false, false, "main"),
       {"", {}, "Version is missing: the Repo has no commit set"}},
      {"manual compilable tagged", repo(false, true, false, "main", "c4"), {"c4", "v2", ""}},
      {"manual compilable untagged",
       repo(false, true, false, "main", "c3"),
       {"", {}, "Commit c3 without Tag"}},
      // The default branch must exist in the clone, in every mode.
      {"auto, unknown branch",
       repo(true, false, false, "gone"),
       {"", {}, "Branch gone not found, available: ['main', 'dev', 'empty', 'plain']"}},
      {"manual, no branch",
       repo(false, false, false, std::nullopt, "c3"),
       {"", {}, "Branch None not found, available: ['main', 'dev', 'empty', 'plain']"}},
      {"auto, empty branch name",
       repo(true, true, false, ""),
       {"", {}, "Branch  not found, available: ['main', 'dev', 'empty', 'plain']"}},
  };
  const auto h = history();
  for (const auto& row : rows) {
    CAPTURE(row.name);
    checkResult([&] { return pd::repoTargetVersion(row.repo, h); }, row.expect);
  }
}

TEST_CASE("domain: unitTargetVersion, auto and manual Units") {
  struct Row {
    const char* name;
    pd::RepoVersionFacts repo;
    pd::UnitVersionFacts unit;
    Expect expect;
  };
  auto manual = [](std::optional<std::string> branch, std::optional<std::string> commit) {
    return pd::UnitVersionFacts{false, std::move(branch), std::move(commit)};
  };
  const pd::UnitVersionFacts follow{true, std::nullopt, std::nullopt};
  const Row rows[] = {
      {"auto Unit follows the repo", repo(true, false, false), follow, {"c5", {}, ""}},
      {"auto Unit, only-tag repo", repo(true, false, true), follow, {"c4", "v2", ""}},
      {"auto Unit, manual repo", repo(false, false, false, "main", "c2"), follow, {"c2", "v1", ""}},
      {"auto Unit ignores its own branch/commit",
       repo(true, false, false),
       pd::UnitVersionFacts{true, "dev", "d1"},
       {"c5", {}, ""}},
      {"auto Unit, repo error propagates",
       repo(true, false, true, "plain"),
       follow,
       {"", {}, "Version is missing: The tags are not in the repository"}},
      {"manual Unit on another branch",
       repo(true, false, false),
       manual("dev", "d2"),
       {"d2", {}, ""}},
      {"manual Unit tagged", repo(true, false, false), manual("dev", "d1"), {"d1", "v-dev", ""}},
      {"manual Unit, old commit", repo(true, false, false), manual("main", "c1"), {"c1", {}, ""}},
      {"manual Unit ignores a broken repo default branch",
       repo(true, false, false, "gone"),
       manual("main", "c3"),
       {"c3", {}, ""}},
      {"manual Unit, commit not on its branch",
       repo(true, false, false),
       manual("dev", "c3"),
       {"", {}, "Commit c3 not in branch dev"}},
      {"manual Unit, unknown branch",
       repo(true, false, false),
       manual("nope", "c3"),
       {"", {}, "Branch nope not found, available: ['main', 'dev', 'empty', 'plain']"}},
      {"manual Unit, no branch",
       repo(true, false, false),
       manual(std::nullopt, "c3"),
       {"", {}, "Branch None not found, available: ['main', 'dev', 'empty', 'plain']"}},
      {"manual Unit, no commit",
       repo(true, false, false),
       manual("main", std::nullopt),
       {"", {}, "Version is missing: the Unit has no commit set"}},
      {"manual Unit, compilable untagged",
       repo(true, true, false),
       manual("main", "c5"),
       {"", {}, "Commit c5 without Tag"}},
      {"manual Unit, compilable tagged",
       repo(true, true, false),
       manual("main", "c2"),
       {"c2", "v1", ""}},
  };
  const auto h = history();
  for (const auto& row : rows) {
    CAPTURE(row.name);
    checkResult([&] { return pd::unitTargetVersion(row.repo, row.unit, h); }, row.expect);
  }
}

TEST_CASE("domain: target version asks only for the branch it needs") {
  std::vector<std::string> asked;
  pd::RepoHistory h;
  h.branches = {"main", "dev"};
  h.commits_of = [&asked](const std::string& branch) {
    asked.push_back(branch);
    return std::vector<pd::CommitInfo>{{branch + "-head", {}}};
  };
  CHECK(pd::unitTargetVersion(repo(true, false, false), {false, "dev", "dev-head"}, h).commit ==
        "dev-head");
  CHECK(asked == std::vector<std::string>{"dev"});
  asked.clear();
  CHECK(pd::unitTargetVersion(repo(true, false, false), {true, {}, {}}, h).commit == "main-head");
  CHECK(asked == std::vector<std::string>{"main"});
}
