// Git fixtures for integration tests: repositories built with the real `git` CLI (several commits
// on `main`, a `dev` branch, an annotated and a lightweight tag), and a loopback smart-HTTP git
// server (`git http-backend` run as a CGI behind cpp-httplib) with optional HTTP basic auth, so
// public and private remotes can be tested without internet.
#pragma once

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace pepeunit::testing {

/// Result of running a program to completion.
struct RunResult {
  int exit_code = -1;  ///< exit status, or 128 + signal
  std::string out;
  std::string err;
};

/// Runs `argv` (argv[0] looked up in PATH) in `cwd` with exactly `env` (no inheritance) and
/// `stdin_data` on its stdin; collects stdout and stderr. Safe to call from several threads.
RunResult runProgram(const std::vector<std::string>& argv,
                     const std::map<std::string, std::string>& env, const std::string& stdin_data,
                     const std::filesystem::path& cwd);

/// Runs `git <args>` in `cwd` with a hermetic environment (no system/global config, fixed
/// identity, commit dates from `env_extra` when given); returns stdout with the trailing newline
/// removed. Throws std::runtime_error (with git's stderr) on a non-zero exit.
std::string runGit(const std::filesystem::path& cwd, const std::vector<std::string>& args,
                   const std::map<std::string, std::string>& env_extra = {},
                   const std::string& stdin_data = {});

/// One commit to make: files to write (path relative to the repo root, created with parent
/// directories; content as given), paths to delete, and an optional tag on the new commit.
struct CommitSpec {
  std::string message;
  std::map<std::string, std::string> files;
  std::vector<std::string> remove;
  std::optional<std::string> tag;
  bool annotated_tag = false;  ///< `git tag -a -m <tag>` instead of a lightweight tag
};

/// What makeLocalRepo builds. Empty commit lists mean the default layout:
///   main: "Initial commit" (README.md, main.py, annotated tag v0.1.0)
///         "Second commit"  (main.py changed, lightweight tag v0.2.0)
///         "Third commit"   (main.py changed, config.json added, no tag)
///   dev:  from main's second commit, "Dev commit" (dev.txt, lightweight tag v0.3.0-dev)
struct RepoSpec {
  std::vector<CommitSpec> main_commits;
  std::vector<CommitSpec> dev_commits;
  std::size_t dev_from = 1;  ///< index in main_commits where `dev` branches off
};

/// A test repository: a working clone where commits are made and a bare `origin` that tests
/// point the backend at (`fileUrl()`, or via GitHttpServer under the same parent directory).
struct LocalRepo {
  std::string name;
  std::filesystem::path work_dir;         ///< <dir>/<name>.work, non-bare
  std::filesystem::path bare_dir;         ///< <dir>/<name>.git, bare, what gets served
  std::vector<std::string> main_commits;  ///< full shas, oldest first
  std::vector<std::string> dev_commits;   ///< commits only on dev, oldest first
  int clock = 0;  ///< commit-date counter: every commit is one minute after the previous one

  std::string fileUrl() const { return "file://" + bare_dir.string(); }
};

/// Builds `<dir>/<name>.git` (bare) and `<dir>/<name>.work` per `spec` and pushes `main`,
/// `dev` and all tags to the bare repo. Commit dates are fixed (2024-01-01 + one minute per
/// commit), so the order is deterministic. Throws std::runtime_error if git fails.
LocalRepo makeLocalRepo(const std::filesystem::path& dir, const std::string& name,
                        const RepoSpec& spec = {});

/// Makes one commit per `spec` on `branch` in `repo.work_dir` (checking the branch out) and
/// pushes the branch and tags to the bare origin; returns the new commit's sha.
std::string commitAndPush(LocalRepo& repo, const std::string& branch, const CommitSpec& spec);

/// Credentials the server demands.
struct BasicAuth {
  std::string username;
  std::string password;
};

/// Serves every git repository under `project_root` over smart HTTP at
/// `http://127.0.0.1:<port>/<path relative to project_root>` (e.g. urlFor("unit.git")), by
/// running `git http-backend` as a CGI per request. With `auth`, every request without the
/// right basic credentials gets 401 + `WWW-Authenticate: Basic realm="git"`.
/// Started in the constructor (the port is bound before it returns), stopped in the destructor.
class GitHttpServer {
 public:
  explicit GitHttpServer(std::filesystem::path project_root,
                         std::optional<BasicAuth> auth = std::nullopt);
  ~GitHttpServer();
  GitHttpServer(const GitHttpServer&) = delete;
  GitHttpServer& operator=(const GitHttpServer&) = delete;

  int port() const { return port_; }
  std::string baseUrl() const;
  std::string urlFor(const std::string& relative_path) const;
  /// Requests answered 401 so far (proves credentials were actually demanded).
  std::size_t unauthorizedCount() const { return unauthorized_.load(); }
  /// Requests passed to git http-backend so far.
  std::size_t servedCount() const { return served_.load(); }

 private:
  void handle(const httplib::Request& request, httplib::Response& response);

  std::filesystem::path project_root_;
  std::optional<BasicAuth> auth_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<std::size_t> unauthorized_{0};
  std::atomic<std::size_t> served_{0};
};

}  // namespace pepeunit::testing
