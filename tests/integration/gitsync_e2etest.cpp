// gitsync::RepoMirror against real git repositories built with the git CLI and served over a
// loopback smart-HTTP server (git http-backend): public and private (basic auth) clones, wrong
// credentials leaving nothing behind, local-repo switch, size limit on clone and fetch,
// branches, commits with tags vs `git rev-list`, readFile across commits, fetch of new commits
// and pruned branches, a hostile tree (symlink out, `..` names, submodule, `.git`, zip bomb)
// and concurrent readers during a fetch.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/errors.hpp"
#include "domain/uuid.hpp"
#include "gitsync/repo_mirror.hpp"
#include "integration/harness/git_fixtures.hpp"
#include "integration/harness/temp_dir.hpp"

namespace fs = std::filesystem;
using pepeunit::Error;
using pepeunit::ErrorKind;
using pepeunit::domain::Uuid;
using pepeunit::gitsync::CommitInfo;
using pepeunit::gitsync::Credentials;
using pepeunit::gitsync::RepoMirror;
using pepeunit::testing::BasicAuth;
using pepeunit::testing::CommitSpec;
using pepeunit::testing::GitHttpServer;
using pepeunit::testing::LocalRepo;
using pepeunit::testing::makeLocalRepo;
using pepeunit::testing::RepoSpec;
using pepeunit::testing::runGit;
using pepeunit::testing::TempDir;

namespace {

constexpr std::uint64_t kMiB = 1024ULL * 1024ULL;
constexpr std::uint64_t kLimit = 50 * kMiB;

Uuid uuidOf(int n) {
  char text[37];
  std::snprintf(text, sizeof(text), "00000000-0000-4000-8000-%012d", n);
  return *Uuid::parse(text);
}

// Names in the mirror base directory (finished mirrors and any leftover temporaries).
std::set<std::string> entriesOf(const fs::path& dir) {
  std::set<std::string> out;
  if (!fs::exists(dir)) {
    return out;
  }
  for (const auto& entry : fs::directory_iterator(dir)) {
    out.insert(entry.path().filename().string());
  }
  return out;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string randomBytes(std::size_t size) {
  std::mt19937_64 rng(42);
  std::string out(size, '\0');
  for (auto& c : out) {
    c = static_cast<char>(rng() & 0xff);
  }
  return out;
}

// Expects `action` to throw a kGitRepoValidation Error whose message contains `part`; returns it.
template <typename F>
Error expectGitError(F&& action, const std::string& part) {
  try {
    action();
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kGitRepoValidation);
    CHECK_MESSAGE(std::string(e.what()).find(part) != std::string::npos, std::string(e.what()));
    return e;
  }
  FAIL("expected an Error containing: " << part);
  return Error(ErrorKind::kInternal, "unreachable");
}

mode_t permissionsOf(const fs::path& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Builds commits with plumbing (hash-object, mktree, commit-tree) so trees can hold entries
// porcelain git refuses to create.
class TreeBuilder {
 public:
  explicit TreeBuilder(fs::path repo) : repo_(std::move(repo)) {}
  std::string blob(const std::string& content) {
    return runGit(repo_, {"hash-object", "-w", "--stdin"}, {}, content);
  }
  // entries: "<mode> <type> <sha>\t<name>" lines.
  std::string tree(const std::vector<std::string>& entries) {
    std::string input;
    for (const auto& entry : entries) {
      input += entry + "\n";
    }
    return runGit(repo_, {"mktree"}, {}, input);
  }
  std::string commit(const std::string& tree, const std::string& message,
                     const std::string& parent = {}) {
    std::vector<std::string> args{"commit-tree", tree, "-m", message};
    if (!parent.empty()) {
      args.insert(args.end(), {"-p", parent});
    }
    return runGit(
        repo_, args,
        {{"GIT_AUTHOR_DATE", "1704067200 +0000"}, {"GIT_COMMITTER_DATE", "1704067200 +0000"}});
  }
  void setBranch(const std::string& branch, const std::string& commit) {
    runGit(repo_, {"update-ref", "refs/heads/" + branch, commit});
  }

 private:
  fs::path repo_;
};

}  // namespace

TEST_CASE("gitsync: public clone over HTTP, branches, commits with tags, readFile") {
  TempDir root;
  const fs::path served = root.path() / "served";
  const LocalRepo repo = makeLocalRepo(served, "unit");
  GitHttpServer server(served);
  RepoMirror mirror(root.path() / "mirrors", /*allow_local_repos=*/false);
  const Uuid uuid = uuidOf(1);

  mirror.clone(uuid, server.urlFor("unit.git"), std::nullopt, kLimit);
  CHECK(server.servedCount() > 0);
  CHECK(server.unauthorizedCount() == 0);
  REQUIRE(mirror.exists(uuid));
  CHECK(entriesOf(root.path() / "mirrors") == std::set<std::string>{uuid.toString()});
  CHECK(mirror.sizeOnDisk(uuid) > 0);
  CHECK(mirror.sizeOnDisk(uuid) < kMiB);

  CHECK(mirror.branches(uuid) == std::vector<std::string>{"dev", "main"});

  const auto& m = repo.main_commits;
  const auto& d = repo.dev_commits;
  REQUIRE(m.size() == 3);
  REQUIRE(d.size() == 1);
  const std::vector<CommitInfo> expected_main{
      {m[2], "Third commit", std::nullopt},
      {m[1], "Second commit", "v0.2.0"},   // lightweight
      {m[0], "Initial commit", "v0.1.0"},  // annotated, peeled
  };
  CHECK(mirror.commits(uuid, "main") == expected_main);
  const std::vector<CommitInfo> expected_dev{
      {d[0], "Dev commit", "v0.3.0-dev"},
      {m[1], "Second commit", "v0.2.0"},
      {m[0], "Initial commit", "v0.1.0"},
  };
  CHECK(mirror.commits(uuid, "dev") == expected_dev);

  // Same order as the reference implementation's `git rev-list`.
  for (const std::string branch : {"main", "dev"}) {
    std::vector<std::string> rev_list;
    std::istringstream lines(runGit(repo.bare_dir, {"rev-list", branch}));
    for (std::string line; std::getline(lines, line);) {
      rev_list.push_back(line);
    }
    std::vector<std::string> ours;
    for (const auto& info : mirror.commits(uuid, branch)) {
      ours.push_back(info.commit);
    }
    CHECK(ours == rev_list);
  }

  expectGitError([&] { (void)mirror.commits(uuid, "nope"); }, "Branch nope not found");
  expectGitError([&] { (void)mirror.commits(uuid, "HEAD"); }, "not found");
  expectGitError([&] { (void)mirror.commits(uuid, "../../heads/main"); }, "not found");
  expectGitError([&] { (void)mirror.commits(uuid, ""); }, "not found");

  CHECK(mirror.readFile(uuid, m[0], "main.py") == "print('v1')\n");
  CHECK(mirror.readFile(uuid, m[2], "main.py") == "print('v3')\n");
  CHECK(mirror.readFile(uuid, m[2].substr(0, 10), "main.py") == "print('v3')\n");
  CHECK(mirror.readFile(uuid, m[0], "config.json") == std::nullopt);
  CHECK(mirror.readFile(uuid, m[2], "config.json") == "{\"debug\": false}\n");
  CHECK(mirror.readFile(uuid, d[0], "dev.txt") == "dev work\n");
  CHECK(mirror.readFile(uuid, m[2], "dev.txt") == std::nullopt);
  CHECK(mirror.readFile(uuid, m[2], "../main.py") == std::nullopt);
  CHECK(mirror.readFile(uuid, m[2], "") == std::nullopt);
  expectGitError([&] { (void)mirror.readFile(uuid, std::string(40, 'a'), "main.py"); },
                 "Commit " + std::string(40, 'a') + " not found");
  expectGitError([&] { (void)mirror.readFile(uuid, "not-a-sha", "main.py"); }, "Commit not found");

  mirror.remove(uuid);
  CHECK_FALSE(mirror.exists(uuid));
  CHECK(entriesOf(root.path() / "mirrors").empty());
  CHECK_NOTHROW(mirror.remove(uuid));
  expectGitError([&] { (void)mirror.branches(uuid); }, "missing");
}

TEST_CASE("gitsync: private repo over HTTP basic auth") {
  TempDir root;
  const fs::path served = root.path() / "served";
  const LocalRepo repo = makeLocalRepo(served, "private_unit");
  const BasicAuth auth{"alice", "glpat-S3cretToken123"};
  GitHttpServer server(served, auth);
  const fs::path base = root.path() / "mirrors";
  RepoMirror mirror(base, false);
  const std::string url = server.urlFor("private_unit.git");

  SUBCASE("correct credentials") {
    const Uuid uuid = uuidOf(2);
    mirror.clone(uuid, url, Credentials{auth.username, auth.password}, kLimit);
    CHECK(server.unauthorizedCount() > 0);  // the server did demand credentials
    CHECK(mirror.branches(uuid) == std::vector<std::string>{"dev", "main"});
    CHECK(mirror.commits(uuid, "main").front().commit == repo.main_commits.back());
    // Credentials are held in memory only, never written into the mirror.
    CHECK(slurp(mirror.pathOf(uuid) / "config").find(auth.password) == std::string::npos);
    CHECK(slurp(mirror.pathOf(uuid) / "config").find(url) != std::string::npos);

    // Fetch with credentials works too (and fetch without them now fails cleanly, keeping
    // the mirror).
    CHECK_NOTHROW(mirror.fetch(uuid, url, Credentials{auth.username, auth.password}, kLimit));
    expectGitError([&] { mirror.fetch(uuid, url, std::nullopt, kLimit); },
                   "No valid repo_url or credentials");
    CHECK(mirror.exists(uuid));
  }

  SUBCASE("wrong or missing credentials leave nothing behind") {
    const Uuid uuid = uuidOf(3);
    const std::optional<Credentials> attempts[] = {
        std::nullopt,
        Credentials{auth.username, "glpat-WrongToken999"},
        Credentials{"mallory", auth.password},
    };
    for (const auto& credentials : attempts) {
      const Error e = expectGitError([&] { mirror.clone(uuid, url, credentials, kLimit); },
                                     "No valid repo_url or credentials");
      CHECK(std::string(e.what()) == "No valid repo_url or credentials");
      for (const std::string secret : {"glpat-S3cretToken123", "glpat-WrongToken999"}) {
        CHECK(std::string(e.what()).find(secret) == std::string::npos);
        CHECK(e.internal().find(secret) == std::string::npos);
      }
      CHECK_FALSE(mirror.exists(uuid));
      CHECK(entriesOf(base).empty());  // no mirror, no temporary directory
    }
  }
}

TEST_CASE("gitsync: network failures are clear and leave nothing behind") {
  TempDir root;
  const fs::path served = root.path() / "served";
  makeLocalRepo(served, "unit");
  GitHttpServer server(served);
  const fs::path base = root.path() / "mirrors";
  RepoMirror mirror(base, false);
  const Uuid uuid = uuidOf(4);

  // Not a repository on this server: http-backend answers 404.
  expectGitError([&] { mirror.clone(uuid, server.urlFor("missing.git"), std::nullopt, kLimit); },
                 "No valid repo_url or credentials: cannot fetch the repository");
  // Nothing listening on the port any more.
  std::string dead_url;
  {
    GitHttpServer gone(served);
    dead_url = gone.urlFor("unit.git");
  }
  expectGitError([&] { mirror.clone(uuid, dead_url, std::nullopt, kLimit); },
                 "cannot fetch the repository");
  CHECK(entriesOf(base).empty());
}

TEST_CASE("gitsync: local repositories only when allowed") {
  TempDir root;
  const LocalRepo repo = makeLocalRepo(root.path() / "served", "unit");
  const Uuid uuid = uuidOf(5);

  RepoMirror strict(root.path() / "strict", /*allow_local_repos=*/false);
  for (const std::string& url : {repo.fileUrl(), repo.bare_dir.string()}) {
    CAPTURE(url);
    expectGitError([&] { strict.clone(uuid, url, std::nullopt, kLimit); },
                   "BACKEND_ALLOW_LOCAL_REPOS");
    expectGitError([&] { strict.fetch(uuid, url, std::nullopt, kLimit); },
                   "BACKEND_ALLOW_LOCAL_REPOS");
  }
  CHECK_FALSE(fs::exists(root.path() / "strict"));

  RepoMirror local(root.path() / "local", /*allow_local_repos=*/true);
  local.clone(uuid, repo.fileUrl(), std::nullopt, kLimit);
  CHECK(local.commits(uuid, "main").size() == 3);
  const Uuid other = uuidOf(6);
  local.clone(other, repo.bare_dir.string(), std::nullopt, kLimit);
  CHECK(local.branches(other) == std::vector<std::string>{"dev", "main"});
  // A re-clone replaces the mirror only once the new clone succeeded.
  local.clone(uuid, repo.bare_dir.string(), std::nullopt, kLimit);
  expectGitError(
      [&] { local.clone(uuid, (root.path() / "nowhere.git").string(), std::nullopt, kLimit); },
      "cannot fetch the repository");
  CHECK(local.commits(uuid, "main").size() == 3);
  CHECK(entriesOf(root.path() / "local") ==
        std::set<std::string>{uuid.toString(), other.toString()});
  // Still no option injection or traversal, even with local repos on.
  expectGitError([&] { local.clone(uuidOf(7), "/srv/../etc/x.git", std::nullopt, kLimit); },
                 "'..'");
  expectGitError(
      [&] { local.clone(uuidOf(7), "--upload-pack=touch /tmp/x", std::nullopt, kLimit); },
      "repo_url");
}

TEST_CASE("gitsync: size limit on clone and on fetch") {
  TempDir root;
  const fs::path served = root.path() / "served";
  GitHttpServer server(served);
  const fs::path base = root.path() / "mirrors";
  RepoMirror mirror(base, false);

  SUBCASE("clone of a repository over the limit is rejected and removed") {
    RepoSpec spec;
    spec.main_commits = {
        CommitSpec{"Initial commit", {{"main.py", "print('hi')\n"}}, {}, std::nullopt, false},
        CommitSpec{"Add blob", {{"data.bin", randomBytes(3 * kMiB)}}, {}, std::nullopt, false},
    };
    makeLocalRepo(served, "big", spec);
    const Uuid uuid = uuidOf(8);
    expectGitError([&] { mirror.clone(uuid, server.urlFor("big.git"), std::nullopt, kMiB); },
                   "Repository size exceeds BACKEND_MAX_EXTERNAL_REPO_SIZE (1 MiB)");
    CHECK_FALSE(mirror.exists(uuid));
    CHECK(entriesOf(base).empty());
    // The same repository fits a larger limit.
    mirror.clone(uuid, server.urlFor("big.git"), std::nullopt, 10 * kMiB);
    CHECK(mirror.sizeOnDisk(uuid) > 3 * kMiB);
  }

  SUBCASE("a fetch that outgrows the limit removes the mirror") {
    LocalRepo repo = makeLocalRepo(served, "grows");
    const Uuid uuid = uuidOf(9);
    mirror.clone(uuid, server.urlFor("grows.git"), std::nullopt, kMiB);
    pepeunit::testing::commitAndPush(
        repo, "main",
        CommitSpec{"Add blob", {{"data.bin", randomBytes(3 * kMiB)}}, {}, std::nullopt, false});
    expectGitError([&] { mirror.fetch(uuid, server.urlFor("grows.git"), std::nullopt, kMiB); },
                   "Repository size exceeds BACKEND_MAX_EXTERNAL_REPO_SIZE (1 MiB)");
    CHECK_FALSE(mirror.exists(uuid));
    CHECK(entriesOf(base).empty());
  }
}

TEST_CASE("gitsync: fetch picks up new commits, tags and branches, and prunes") {
  TempDir root;
  const fs::path served = root.path() / "served";
  LocalRepo repo = makeLocalRepo(served, "unit");
  GitHttpServer server(served);
  RepoMirror mirror(root.path() / "mirrors", false);
  const Uuid uuid = uuidOf(10);
  const std::string url = server.urlFor("unit.git");

  // fetch() of a missing mirror clones it.
  mirror.fetch(uuid, url, std::nullopt, kLimit);
  REQUIRE(mirror.commits(uuid, "main").size() == 3);

  const std::string fourth = pepeunit::testing::commitAndPush(
      repo, "main",
      CommitSpec{"Fourth commit", {{"main.py", "print('v4')\n"}}, {}, "v0.4.0", true});
  pepeunit::testing::commitAndPush(
      repo, "feature", CommitSpec{"Feature work", {{"f.txt", "f\n"}}, {}, std::nullopt, false});
  runGit(repo.work_dir, {"push", "-q", "origin", "--delete", "dev"});

  // Nothing changes until we fetch.
  CHECK(mirror.commits(uuid, "main").front().commit == repo.main_commits[2]);
  mirror.fetch(uuid, url, std::nullopt, kLimit);
  const auto commits = mirror.commits(uuid, "main");
  REQUIRE(commits.size() == 4);
  CHECK(commits.front() == CommitInfo{fourth, "Fourth commit", "v0.4.0"});
  CHECK(mirror.readFile(uuid, fourth, "main.py") == "print('v4')\n");
  CHECK(mirror.branches(uuid) == std::vector<std::string>{"feature", "main"});
  expectGitError([&] { (void)mirror.commits(uuid, "dev"); }, "Branch dev not found");

  // A moved tag moves in the mirror too (forced tag refspec).
  runGit(repo.work_dir, {"tag", "-f", "v0.2.0", repo.main_commits[0]});
  runGit(repo.work_dir, {"push", "-q", "-f", "origin", "v0.2.0"});
  mirror.fetch(uuid, url, std::nullopt, kLimit);
  const auto retagged = mirror.commits(uuid, "main");
  CHECK(retagged[2].tag == std::nullopt);
  // Two tags on the first commit now: the greatest name wins.
  CHECK(retagged[3].tag == "v0.2.0");
}

TEST_CASE("gitsync: checkout writes regular files and refuses hostile trees") {
  TempDir root;
  const fs::path served = root.path() / "served";
  LocalRepo repo = makeLocalRepo(served, "hostile");
  TreeBuilder git(repo.bare_dir);

  const std::string ok_blob = git.blob("hello\n");
  const std::string script_blob = git.blob("#!/bin/sh\necho run\n");
  const std::string link_blob = git.blob("../../etc/passwd");
  const std::string inner =
      git.tree({"100644 blob " + ok_blob + "\tinner.txt", "100644 blob " + ok_blob + "\t.GIT"});
  const std::string safe_tree = git.tree({
      "100644 blob " + ok_blob + "\tok.txt",
      "100755 blob " + script_blob + "\trun.sh",
      "120000 blob " + link_blob + "\tevil",
      "040000 tree " + inner + "\tsub",
      "160000 commit " + repo.main_commits[0] + "\tvendor",
  });
  const std::string safe_commit = git.commit(safe_tree, "Safe but odd");
  git.setBranch("odd", safe_commit);

  const std::string pwn_tree = git.tree({"100644 blob " + ok_blob + "\tpwned.txt"});
  const std::string dotdot_tree = git.tree({
      "100644 blob " + ok_blob + "\ta.txt",
      "040000 tree " + pwn_tree + "\t..",
  });
  const std::string dotdot_commit = git.commit(dotdot_tree, "Dot dot");
  const std::string nested_tree =
      git.tree({"040000 tree " + dotdot_tree + "\tdeep", "100644 blob " + ok_blob + "\tz.txt"});
  const std::string nested_commit = git.commit(nested_tree, "Nested dot dot", dotdot_commit);
  git.setBranch("dotdot", nested_commit);

  // 9 MiB of zeros pack into a few KiB: passes the on-disk limit, not the checkout one, and is
  // over readFile's default 8 MiB cap.
  const std::string bomb_blob = git.blob(std::string(9 * kMiB, '\0'));
  const std::string bomb_commit =
      git.commit(git.tree({"100644 blob " + bomb_blob + "\tzeros.bin"}), "Bomb");
  git.setBranch("bomb", bomb_commit);

  RepoMirror mirror(root.path() / "mirrors", /*allow_local_repos=*/true);
  const Uuid uuid = uuidOf(11);
  mirror.clone(uuid, repo.fileUrl(), std::nullopt, kMiB);

  SUBCASE("ordinary commit") {
    const fs::path dest = root.path() / "out" / "plain";
    const auto report = mirror.checkout(uuid, repo.main_commits[2], dest, kLimit);
    CHECK(report.files_written == 3);
    CHECK(report.skipped.empty());
    CHECK(slurp(dest / "main.py") == "print('v3')\n");
    CHECK(slurp(dest / "README.md") == "# test unit\n");
    CHECK(slurp(dest / "config.json") == "{\"debug\": false}\n");
    CHECK(report.bytes_written == fs::file_size(dest / "main.py") +
                                      fs::file_size(dest / "README.md") +
                                      fs::file_size(dest / "config.json"));
  }

  SUBCASE("symlinks, submodules and .git are skipped, modes kept") {
    const fs::path dest = root.path() / "out" / "odd";
    const auto report = mirror.checkout(uuid, safe_commit, dest, kLimit);
    CHECK(report.files_written == 3);
    std::vector<std::string> skipped = report.skipped;
    std::sort(skipped.begin(), skipped.end());
    CHECK(skipped ==
          std::vector<std::string>{"evil (symlink)", "sub/.GIT (.git)", "vendor (submodule)"});
    CHECK(slurp(dest / "ok.txt") == "hello\n");
    CHECK(slurp(dest / "sub" / "inner.txt") == "hello\n");
    CHECK(permissionsOf(dest / "ok.txt") == 0644);
    CHECK(permissionsOf(dest / "run.sh") == 0755);
    CHECK(permissionsOf(dest / "sub") == 0755);
    CHECK_FALSE(fs::exists(fs::symlink_status(dest / "evil")));
    CHECK_FALSE(fs::exists(fs::symlink_status(dest / "vendor")));
    CHECK_FALSE(fs::exists(fs::symlink_status(dest / "sub" / ".GIT")));
    // readFile serves regular files only.
    CHECK(mirror.readFile(uuid, safe_commit, "evil") == std::nullopt);
    CHECK(mirror.readFile(uuid, safe_commit, "vendor") == std::nullopt);
    CHECK(mirror.readFile(uuid, safe_commit, "sub") == std::nullopt);
    CHECK(mirror.readFile(uuid, safe_commit, "run.sh") == "#!/bin/sh\necho run\n");
  }

  SUBCASE("'..' entries are refused and nothing lands outside the target") {
    const fs::path out = root.path() / "out";
    for (const std::string& commit : {dotdot_commit, nested_commit}) {
      const fs::path dest = out / ("dotdot-" + commit.substr(0, 8)) / "tree";
      expectGitError([&] { (void)mirror.checkout(uuid, commit, dest, kLimit); }, "unsafe path");
      CHECK_FALSE(fs::exists(dest.parent_path() / "pwned.txt"));
      CHECK_FALSE(fs::exists(dest / "pwned.txt"));
      CHECK_FALSE(fs::exists(out / "pwned.txt"));
    }
    CHECK(mirror.commits(uuid, "dotdot").size() == 2);
  }

  SUBCASE("a zip bomb blob hits the checkout and readFile limits") {
    expectGitError(
        [&] { (void)mirror.checkout(uuid, bomb_commit, root.path() / "out" / "bomb", kMiB); },
        "size limit");
    expectGitError([&] { (void)mirror.readFile(uuid, bomb_commit, "zeros.bin"); }, "too large");
    CHECK(mirror.readFile(uuid, bomb_commit, "zeros.bin", 10 * kMiB)->size() == 9 * kMiB);
  }

  SUBCASE("unknown commit") {
    expectGitError(
        [&] { (void)mirror.checkout(uuid, std::string(40, 'b'), root.path() / "x", kLimit); },
        "not found");
  }
}

TEST_CASE("gitsync: readers run while the same repo is fetched") {
  TempDir root;
  const fs::path served = root.path() / "served";
  LocalRepo repo = makeLocalRepo(served, "unit");
  GitHttpServer server(served);
  RepoMirror mirror(root.path() / "mirrors", false);
  const Uuid uuid = uuidOf(12);
  const std::string url = server.urlFor("unit.git");
  mirror.clone(uuid, url, std::nullopt, kLimit);

  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  readers.reserve(3);
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        try {
          const auto commits = mirror.commits(uuid, "main");
          if (commits.size() < 3 || !mirror.readFile(uuid, commits.front().commit, "main.py")) {
            ++failures;
          }
          ++reads;
        } catch (const std::exception&) {
          ++failures;
        }
      }
    });
  }
  for (int i = 0; i < 5; ++i) {
    pepeunit::testing::commitAndPush(repo, "main",
                                     CommitSpec{"Commit " + std::to_string(i),
                                                {{"main.py", std::to_string(i)}},
                                                {},
                                                std::nullopt,
                                                false});
    mirror.fetch(uuid, url, std::nullopt, kLimit);
  }
  stop = true;
  for (auto& reader : readers) {
    reader.join();
  }
  CHECK(failures.load() == 0);
  CHECK(reads.load() > 0);
  CHECK(mirror.commits(uuid, "main").size() == 8);
  CHECK(mirror.commits(uuid, "main").front().commit == repo.main_commits.back());
}
