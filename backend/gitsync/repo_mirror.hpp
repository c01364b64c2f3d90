// Local mirrors of Repo git repositories (pepeunit_backend_spec.md §7.1-§7.4) on libgit2:
// clone/fetch into `<base_dir>/<repo uuid>`, list remote branches and a branch's commits with
// their tags, read a file at a commit, and write a commit's tree into a directory for the
// firmware builder.
//
// Layout: each mirror is a *bare* repository whose only remote `origin` fetches
// `+refs/heads/*:refs/remotes/origin/*` and `+refs/tags/*:refs/tags/*` with pruning, so the
// remote-tracking branches `origin/*` and every tag exist, and there is no working tree (the
// size on disk is the object store only).
//
// Security: every URL passes domain::validateRepoUrl first (file:// and local paths only when
// allowed); credentials are handed to libgit2 in memory by a credentials callback, never put in
// a URL, the mirror's config or any message (libgit2 messages are scrubbed of them). libgit2 is
// made hermetic (see gitsync/git_handles.hpp).
//
// Thread-safety: all methods may be called concurrently. Each repo uuid has a writer-preferring
// reader/writer lock: clone, fetch and remove are exclusive; branches, commits, readFile and
// checkout share (a waiting fetch is not starved by a stream of readers).
// Every call opens its own libgit2 handles, so nothing libgit2-side is shared across threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "domain/uuid.hpp"

namespace pepeunit::gitsync {

namespace detail {
class RepoLock;
}  // namespace detail

/// HTTP basic credentials of a private repository: a user name and a personal access token.
struct Credentials {
  std::string username;
  std::string pat_token;
};

/// One commit of a branch, as the REST API shows it.
struct CommitInfo {
  std::string commit;   ///< full 40-hex sha
  std::string summary;  ///< the subject line (git's %s)
  std::optional<std::string> tag;
  friend bool operator==(const CommitInfo&, const CommitInfo&) = default;
};

/// What `checkout` wrote and what it deliberately left out.
struct CheckoutReport {
  std::size_t files_written = 0;
  std::uint64_t bytes_written = 0;
  /// Tree paths not written, each followed by the reason, e.g. "lib/evil (symlink)",
  /// "vendor/sdk (submodule)", "sub/.git (.git)".
  std::vector<std::string> skipped;
};

/// readFile's default cap: the contract files it serves are a few KiB.
inline constexpr std::size_t kDefaultMaxFileBytes = std::size_t{8} * 1024 * 1024;

/// False for tree entry names that must never reach the file system: "", ".", "..", and names
/// containing '/' or '\\' (hand-crafted trees can hold any of these; normal git cannot).
bool isSafeTreeEntryName(std::string_view name);

class RepoMirror {
 public:
  /// `base_dir` is BACKEND_SAVE_REPO_PATH (created on first clone); `allow_local_repos` is
  /// BACKEND_ALLOW_LOCAL_REPOS.
  RepoMirror(std::filesystem::path base_dir, bool allow_local_repos);
  RepoMirror(const RepoMirror&) = delete;
  RepoMirror& operator=(const RepoMirror&) = delete;

  const std::filesystem::path& baseDir() const { return base_dir_; }
  /// `<base_dir>/<uuid>` (whether or not it exists).
  std::filesystem::path pathOf(const domain::Uuid& uuid) const;
  bool exists(const domain::Uuid& uuid) const;

  /// Full clone of `url` into `<base_dir>/<uuid>`. The clone is made in a hidden temporary
  /// directory next to the target (`.tmp-<uuid>-<random>`) and renamed into place only when it
  /// fully succeeded, so a failure leaves nothing behind, and an existing mirror is replaced
  /// only by a complete new one (update_local_repo's "delete and re-clone").
  /// The transfer is aborted as soon as more than `size_limit_bytes` have been received, and the
  /// finished clone's size on disk (sum of file sizes) is checked against the same limit.
  /// Throws Error(kGitRepoValidation, ...):
  ///  * the URL fails validation: the validation message;
  ///  * the server refused the credentials (or wanted some and got none):
  ///    "No valid repo_url or credentials";
  ///  * too big: "Repository size exceeds BACKEND_MAX_EXTERNAL_REPO_SIZE (N MiB)";
  ///  * anything else (DNS, connection, HTTP status, not a repository):
  ///    "No valid repo_url or credentials: cannot fetch the repository (<reason>)".
  void clone(const domain::Uuid& uuid, std::string_view url,
             const std::optional<Credentials>& credentials, std::uint64_t size_limit_bytes);

  /// `git fetch --prune` of branches and tags from `url` (which also becomes the stored remote
  /// URL, so a changed repo_url or credentials take effect). Clones instead when the mirror is
  /// missing. Same errors as clone. On a network or auth failure the old state is kept. When the
  /// repository has outgrown `size_limit_bytes` the mirror is REMOVED before throwing the size
  /// error (§7.3: "remove and fail when over"); the next clone/fetch starts from scratch.
  void fetch(const domain::Uuid& uuid, std::string_view url,
             const std::optional<Credentials>& credentials, std::uint64_t size_limit_bytes);

  /// Deletes the mirror directory; no-op when it does not exist.
  void remove(const domain::Uuid& uuid);

  /// Sum of the sizes of the mirror's files (0 when it does not exist).
  std::uint64_t sizeOnDisk(const domain::Uuid& uuid) const;

  /// Names of the remote-tracking branches (without `origin/`, without HEAD), sorted.
  /// Missing mirror: Error(kGitRepoValidation, "Local copy of the repository is missing").
  std::vector<std::string> branches(const domain::Uuid& uuid) const;

  /// The commits reachable from `origin/<branch>`, newest first: libgit2's revwalk in
  /// topological + commit-time order (children always before their parents, otherwise newest
  /// commit time first; for linear history this is exactly `git rev-list`). Each commit carries
  /// the name of a tag (lightweight or annotated, peeled to the commit) pointing at it; when
  /// several do, the greatest name in byte order wins. Unknown or malformed branch:
  /// Error(kGitRepoValidation, "Branch <name> not found").
  std::vector<CommitInfo> commits(const domain::Uuid& uuid, std::string_view branch) const;

  /// Content of the regular file (mode 100644/100755) at `path` ("dir/file.json") in `commit`
  /// (4..40 hex digits, unambiguous); nullopt if there is no such file (absent, a directory,
  /// a symlink or a submodule). Unknown commit: Error(kGitRepoValidation, "Commit <sha> not
  /// found"); a file over `max_bytes`: Error(kGitRepoValidation, "File <path> is too large").
  std::optional<std::string> readFile(const domain::Uuid& uuid, std::string_view commit,
                                      std::string_view path,
                                      std::size_t max_bytes = kDefaultMaxFileBytes) const;

  /// Writes the tree of `commit` into `dest` (created if missing; meant to be a fresh empty
  /// directory): directories 0755, regular files 0644 or 0755 as recorded in git (independent
  /// of the umask). Never creates symlinks: symlink entries, submodules and `.git` entries (any
  /// case) are skipped and listed in the report. Files are created with O_EXCL|O_NOFOLLOW and
  /// directories must be real directories, so nothing is ever written outside `dest`.
  /// Throws Error(kGitRepoValidation, ...) for an unknown commit, an unsafe entry name
  /// (see isSafeTreeEntryName) anywhere in the tree, or when the files would total more than
  /// `max_total_bytes` (guards against highly compressible "zip bomb" blobs that pass the
  /// on-disk size check). After a throw `dest` may hold a partial tree: the caller removes it.
  CheckoutReport checkout(const domain::Uuid& uuid, std::string_view commit,
                          const std::filesystem::path& dest, std::uint64_t max_total_bytes) const;

 private:
  std::shared_ptr<detail::RepoLock> lockFor(const domain::Uuid& uuid) const;
  void cloneLocked(const domain::Uuid& uuid, std::string_view url,
                   const std::optional<Credentials>& credentials, std::uint64_t size_limit_bytes);
  void validateUrl(std::string_view url) const;

  std::filesystem::path base_dir_;
  bool allow_local_repos_;
  mutable std::mutex locks_mutex_;
  // One entry per repo ever touched by this process; a few hundred bytes each, never pruned.
  mutable std::unordered_map<domain::Uuid, std::shared_ptr<detail::RepoLock>> locks_;
};

}  // namespace pepeunit::gitsync
