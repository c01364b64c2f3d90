// RepoMirror on libgit2: bare mirrors, fetch with in-memory credentials and a byte budget,
// revwalk with tags, and a checkout that writes only regular files strictly inside its target.
#include "gitsync/repo_mirror.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <random>
#include <shared_mutex>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "common/errors.hpp"
#include "domain/git_url.hpp"
#include "gitsync/git_handles.hpp"

namespace pepeunit::gitsync {

namespace detail {

// Writer-preferring reader/writer lock (Lockable and SharedLockable). std::shared_mutex is
// glibc's reader-preferring pthread_rwlock, under which a steady stream of HTTP reads could
// starve the scheduler's fetch indefinitely; here a waiting writer stops new readers.
class RepoLock {
 public:
  void lock() {
    std::unique_lock guard(mutex_);
    ++waiting_writers_;
    changed_.wait(guard, [this] { return !writer_ && readers_ == 0; });
    --waiting_writers_;
    writer_ = true;
  }
  void unlock() {
    {
      const std::lock_guard guard(mutex_);
      writer_ = false;
    }
    changed_.notify_all();
  }
  void lock_shared() {  // NOLINT(readability-identifier-naming): SharedLockable
    std::unique_lock guard(mutex_);
    changed_.wait(guard, [this] { return !writer_ && waiting_writers_ == 0; });
    ++readers_;
  }
  void unlock_shared() {  // NOLINT(readability-identifier-naming): SharedLockable
    bool last = false;
    {
      const std::lock_guard guard(mutex_);
      last = --readers_ == 0;
    }
    if (last) {
      changed_.notify_all();
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int readers_ = 0;
  int waiting_writers_ = 0;
  bool writer_ = false;
};

}  // namespace detail

namespace {

namespace fs = std::filesystem;
using detail::BlobPtr;
using detail::CommitPtr;
using detail::OdbPtr;
using detail::ReferenceIteratorPtr;
using detail::ReferencePtr;
using detail::RemotePtr;
using detail::RepositoryPtr;
using detail::RevwalkPtr;
using detail::TreeEntryPtr;
using detail::TreePtr;

constexpr const char* kRemoteName = "origin";
constexpr const char* kBranchRefspec = "+refs/heads/*:refs/remotes/origin/*";
constexpr const char* kTagRefspec = "+refs/tags/*:refs/tags/*";
constexpr std::string_view kRemoteBranchPrefix = "refs/remotes/origin/";
constexpr std::string_view kTagPrefix = "refs/tags/";
constexpr std::string_view kAuthFailedMessage = "No valid repo_url or credentials";
constexpr std::string_view kMissingMessage = "Local copy of the repository is missing";
constexpr int kMaxTreeDepth = 256;
constexpr std::uint64_t kMiB = 1024ULL * 1024ULL;

Error gitError(std::string message, std::string internal = {}) {
  return Error(ErrorKind::kGitRepoValidation, std::move(message), std::move(internal));
}

std::string lastGitMessage() {
  const git_error* error = git_error_last();
  return (error != nullptr && error->message != nullptr) ? error->message : "unknown git error";
}

// Replaces every occurrence of `secret` in `text`.
void scrubSecret(std::string& text, std::string_view secret) {
  if (secret.empty()) {
    return;
  }
  std::size_t pos = 0;
  while ((pos = text.find(secret, pos)) != std::string::npos) {
    text.replace(pos, secret.size(), "***");
    pos += 3;
  }
}

std::string scrub(std::string text, const Credentials* credentials) {
  if (credentials != nullptr) {
    scrubSecret(text, credentials->pat_token);
    // Very short user names would mangle ordinary words; they are not secret on their own.
    if (credentials->username.size() >= 3) {
      scrubSecret(text, credentials->username);
    }
  }
  // Whatever libgit2 reports, never let a URL's `user:password@` userinfo through.
  for (std::size_t scheme = text.find("://"); scheme != std::string::npos;
       scheme = text.find("://", scheme + 3)) {
    const std::size_t start = scheme + 3;
    const std::size_t end = std::min(text.find_first_of("/ \t\r\n'\"", start), text.size());
    const std::size_t at = text.rfind('@', end == 0 ? 0 : end - 1);
    if (at != std::string::npos && at >= start && at < end) {
      text.erase(start, at + 1 - start);
    }
  }
  return text;
}

// Tree names and paths can hold any byte; messages get a printable, bounded rendering.
std::string printable(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 200)) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(byte < 0x20 || byte >= 0x7f ? '?' : c);
  }
  if (text.size() > 200) {
    out += "...";
  }
  return out;
}

Error sizeError(std::uint64_t limit) {
  const std::string amount =
      limit % kMiB == 0 ? std::to_string(limit / kMiB) + " MiB" : std::to_string(limit) + " bytes";
  return gitError("Repository size exceeds BACKEND_MAX_EXTERNAL_REPO_SIZE (" + amount + ")");
}

std::string randomSuffix() {
  std::random_device device;
  std::uniform_int_distribution<int> digit(0, 15);
  std::string out;
  for (int i = 0; i < 16; ++i) {
    out.push_back("0123456789abcdef"[digit(device)]);
  }
  return out;
}

std::uint64_t directorySize(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(dir, ec))) {
    return 0;
  }
  std::uint64_t total = 0;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec);
  if (ec) {
    throw Error(ErrorKind::kInternal, "Cannot measure the repository size", ec.message());
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      throw Error(ErrorKind::kInternal, "Cannot measure the repository size", ec.message());
    }
    if (fs::is_regular_file(it->symlink_status(ec))) {
      total += it->file_size(ec);
    }
  }
  if (ec) {
    throw Error(ErrorKind::kInternal, "Cannot measure the repository size", ec.message());
  }
  return total;
}

void removeQuietly(const fs::path& path) noexcept {
  std::error_code ec;
  fs::remove_all(path, ec);
}

// Removes a directory on scope exit unless released (the clone's temporary directory).
class RemoveOnExit {
 public:
  explicit RemoveOnExit(fs::path path) : path_(std::move(path)) {}
  ~RemoveOnExit() {
    if (!path_.empty()) {
      removeQuietly(path_);
    }
  }
  RemoveOnExit(const RemoveOnExit&) = delete;
  RemoveOnExit& operator=(const RemoveOnExit&) = delete;
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

// --- fetching -----------------------------------------------------------------------------

struct TransferState {
  const Credentials* credentials = nullptr;
  int credential_requests = 0;
  bool auth_failed = false;
  std::uint64_t byte_budget = 0;
  bool size_exceeded = false;
};

int acquireCredentials(git_credential** out, const char* /*url*/, const char* /*username_from_url*/,
                       unsigned int allowed_types, void* payload) {
  auto* state = static_cast<TransferState*>(payload);
  ++state->credential_requests;
  // A second request means the server rejected what we sent: asking again would only replay it.
  if (state->credentials == nullptr || state->credential_requests > 1 ||
      (allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT) == 0) {
    state->auth_failed = true;
    git_error_set_str(GIT_ERROR_HTTP, "authentication failed");
    return GIT_EAUTH;
  }
  return git_credential_userpass_plaintext_new(out, state->credentials->username.c_str(),
                                               state->credentials->pat_token.c_str());
}

int transferProgress(const git_indexer_progress* stats, void* payload) {
  auto* state = static_cast<TransferState*>(payload);
  if (stats->received_bytes > state->byte_budget) {
    state->size_exceeded = true;
    git_error_set_str(GIT_ERROR_NET, "size limit exceeded");
    return -1;
  }
  return 0;
}

enum class FetchOutcome { kOk, kAuthFailed, kTooLarge, kFailed };

struct FetchResult {
  FetchOutcome outcome = FetchOutcome::kOk;
  std::string message;  // scrubbed libgit2 message when not kOk
};

FetchResult fetchOrigin(git_repository* repo, const Credentials* credentials,
                        std::uint64_t byte_budget) {
  git_remote* raw_remote = nullptr;
  if (git_remote_lookup(&raw_remote, repo, kRemoteName) != 0) {
    return {FetchOutcome::kFailed, scrub(lastGitMessage(), credentials)};
  }
  const RemotePtr remote(raw_remote);

  TransferState state;
  state.credentials = credentials;
  state.byte_budget = byte_budget;
  git_fetch_options options;
  git_fetch_options_init(&options, GIT_FETCH_OPTIONS_VERSION);
  options.callbacks.credentials = acquireCredentials;
  options.callbacks.transfer_progress = transferProgress;
  options.callbacks.payload = &state;
  options.prune = GIT_FETCH_PRUNE;
  // Tags come from the remote's explicit `+refs/tags/*` refspec (forced, so moved tags move).
  options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
  options.update_fetchhead = 0;

  if (git_remote_fetch(remote.get(), nullptr, &options, nullptr) == 0) {
    return {};
  }
  std::string message = scrub(lastGitMessage(), credentials);
  if (state.size_exceeded) {
    return {FetchOutcome::kTooLarge, std::move(message)};
  }
  const git_error* error = git_error_last();
  if (state.auth_failed || (error != nullptr && error->klass == GIT_ERROR_HTTP &&
                            message.find("401") != std::string::npos)) {
    return {FetchOutcome::kAuthFailed, std::move(message)};
  }
  return {FetchOutcome::kFailed, std::move(message)};
}

// Turns a failed FetchResult into the documented exception.
[[noreturn]] void throwFetchFailure(const FetchResult& result, std::uint64_t size_limit) {
  switch (result.outcome) {
    case FetchOutcome::kTooLarge:
      throw sizeError(size_limit);
    case FetchOutcome::kAuthFailed:
      throw gitError(std::string(kAuthFailedMessage), result.message);
    default:
      throw gitError(std::string(kAuthFailedMessage) + ": cannot fetch the repository (" +
                         printable(result.message) + ")",
                     result.message);
  }
}

// --- reading ------------------------------------------------------------------------------

RepositoryPtr openMirror(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(path, ec))) {
    throw gitError(std::string(kMissingMessage));
  }
  git_repository* raw = nullptr;
  if (git_repository_open_bare(&raw, path.c_str()) != 0) {
    throw gitError(std::string(kMissingMessage), lastGitMessage());
  }
  return RepositoryPtr(raw);
}

bool isHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

CommitPtr lookupCommit(git_repository* repo, std::string_view sha) {
  if (sha.size() < GIT_OID_MINPREFIXLEN || sha.size() > GIT_OID_HEXSZ || !isHex(sha)) {
    throw gitError("Commit not found");
  }
  git_oid oid;
  git_commit* raw = nullptr;
  if (git_oid_fromstrn(&oid, sha.data(), sha.size()) != 0 ||
      git_commit_lookup_prefix(&raw, repo, &oid, sha.size()) != 0) {
    throw gitError("Commit " + std::string(sha) + " not found", lastGitMessage());
  }
  return CommitPtr(raw);
}

TreePtr commitTree(git_commit* commit) {
  git_tree* raw = nullptr;
  if (git_commit_tree(&raw, commit) != 0) {
    throw gitError("Cannot read the commit's tree", lastGitMessage());
  }
  return TreePtr(raw);
}

OdbPtr repoOdb(git_repository* repo) {
  git_odb* raw = nullptr;
  if (git_repository_odb(&raw, repo) != 0) {
    throw gitError("Cannot open the object database", lastGitMessage());
  }
  return OdbPtr(raw);
}

// Size of an object without inflating it (a blob of zeros may be tiny packed and huge unpacked).
std::size_t objectSize(git_odb* odb, const git_oid* oid) {
  std::size_t size = 0;
  git_object_t type = GIT_OBJECT_INVALID;
  if (git_odb_read_header(&size, &type, odb, oid) != 0) {
    throw gitError("Cannot read a repository object", lastGitMessage());
  }
  return size;
}

BlobPtr lookupBlob(git_repository* repo, const git_oid* oid) {
  git_blob* raw = nullptr;
  if (git_blob_lookup(&raw, repo, oid) != 0) {
    throw gitError("Cannot read a repository object", lastGitMessage());
  }
  return BlobPtr(raw);
}

std::string oidHex(const git_oid* oid) {
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof(hex), oid);
  return hex;
}

// commit sha -> greatest tag name pointing at it (tags peeled through annotated tag objects).
std::unordered_map<std::string, std::string> tagsByCommit(git_repository* repo) {
  std::unordered_map<std::string, std::string> out;
  git_reference_iterator* raw_iter = nullptr;
  if (git_reference_iterator_glob_new(&raw_iter, repo, "refs/tags/*") != 0) {
    throw gitError("Cannot list tags", lastGitMessage());
  }
  const ReferenceIteratorPtr iter(raw_iter);
  git_reference* raw_ref = nullptr;
  while (git_reference_next(&raw_ref, iter.get()) == 0) {
    const ReferencePtr ref(raw_ref);
    git_object* raw_target = nullptr;
    if (git_reference_peel(&raw_target, ref.get(), GIT_OBJECT_COMMIT) != 0) {
      continue;  // a tag of a tree or blob: no commit to attach it to
    }
    const detail::ObjectPtr target(raw_target);
    std::string name(std::string_view(git_reference_name(ref.get())).substr(kTagPrefix.size()));
    auto [it, inserted] = out.try_emplace(oidHex(git_object_id(target.get())), name);
    if (!inserted && name > it->second) {
      it->second = std::move(name);
    }
  }
  return out;
}

// --- checkout -----------------------------------------------------------------------------

struct CheckoutContext {
  git_repository* repo = nullptr;
  git_odb* odb = nullptr;
  std::uint64_t max_total_bytes = 0;
  std::uint64_t planned_bytes = 0;
  CheckoutReport report;
};

class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

[[noreturn]] void throwIo(const std::string& what, int err) {
  throw Error(ErrorKind::kInternal, "Cannot write the repository checkout",
              what + ": " + std::strerror(err));
}

bool isDotGit(std::string_view name) {
  return name.size() == 4 && name[0] == '.' && (name[1] == 'g' || name[1] == 'G') &&
         (name[2] == 'i' || name[2] == 'I') && (name[3] == 't' || name[3] == 'T');
}

void writeBlob(CheckoutContext& ctx, const git_tree_entry* entry, const fs::path& file,
               const std::string& rel) {
  const git_oid* oid = git_tree_entry_id(entry);
  ctx.planned_bytes += objectSize(ctx.odb, oid);
  if (ctx.planned_bytes > ctx.max_total_bytes) {
    throw gitError("Repository files exceed the size limit (" +
                   std::to_string(ctx.max_total_bytes) + " bytes)");
  }
  const BlobPtr blob = lookupBlob(ctx.repo, oid);
  const mode_t mode = git_tree_entry_filemode(entry) == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644;
  FdCloser fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == EEXIST) {
      throw gitError("Repository tree contains a duplicate path: " + printable(rel));
    }
    throwIo(file.string(), err);
  }
  const auto* data = static_cast<const char*>(git_blob_rawcontent(blob.get()));
  auto remaining = static_cast<std::size_t>(git_blob_rawsize(blob.get()));
  while (remaining > 0) {
    const ssize_t written = ::write(fd.get(), data, remaining);
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      throwIo(file.string(), errno);
    }
    data += written;
    remaining -= static_cast<std::size_t>(written);
  }
  if (::fchmod(fd.get(), mode) != 0) {
    throwIo(file.string(), errno);
  }
  if (::close(fd.release()) != 0) {
    throwIo(file.string(), errno);
  }
  ++ctx.report.files_written;
  ctx.report.bytes_written += static_cast<std::uint64_t>(git_blob_rawsize(blob.get()));
}

void makeDirectory(const fs::path& dir, const std::string& rel) {
  if (::mkdir(dir.c_str(), 0755) != 0) {
    const int err = errno;
    struct stat st {};
    if (err != EEXIST || ::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      if (err == EEXIST) {
        throw gitError("Repository tree contains a duplicate path: " + printable(rel));
      }
      throwIo(dir.string(), err);
    }
  }
  if (::chmod(dir.c_str(), 0755) != 0) {
    throwIo(dir.string(), errno);
  }
}

void checkoutTree(CheckoutContext& ctx, git_tree* tree, const fs::path& dir,
                  const std::string& prefix, int depth) {
  if (depth > kMaxTreeDepth) {
    throw gitError("Repository tree is nested too deeply");
  }
  const std::size_t count = git_tree_entrycount(tree);
  for (std::size_t i = 0; i < count; ++i) {
    const git_tree_entry* entry = git_tree_entry_byindex(tree, i);
    const std::string_view name = git_tree_entry_name(entry);
    const std::string rel = prefix + std::string(name);
    if (!isSafeTreeEntryName(name)) {
      throw gitError("Repository tree contains an unsafe path: " + printable(rel));
    }
    if (isDotGit(name)) {
      ctx.report.skipped.push_back(printable(rel) + " (.git)");
      continue;
    }
    const fs::path target = dir / name;
    switch (git_tree_entry_filemode(entry)) {
      case GIT_FILEMODE_TREE: {
        git_tree* raw = nullptr;
        if (git_tree_lookup(&raw, ctx.repo, git_tree_entry_id(entry)) != 0) {
          throw gitError("Cannot read a repository object", lastGitMessage());
        }
        const TreePtr subtree(raw);
        makeDirectory(target, rel);
        checkoutTree(ctx, subtree.get(), target, rel + "/", depth + 1);
        break;
      }
      case GIT_FILEMODE_BLOB:
      case GIT_FILEMODE_BLOB_EXECUTABLE:
        writeBlob(ctx, entry, target, rel);
        break;
      case GIT_FILEMODE_LINK:
        ctx.report.skipped.push_back(printable(rel) + " (symlink)");
        break;
      case GIT_FILEMODE_COMMIT:
        ctx.report.skipped.push_back(printable(rel) + " (submodule)");
        break;
      default:
        ctx.report.skipped.push_back(printable(rel) + " (unsupported mode)");
        break;
    }
  }
}

}  // namespace

bool isSafeTreeEntryName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string_view("/\\\0", 3)) == std::string_view::npos;
}

RepoMirror::RepoMirror(std::filesystem::path base_dir, bool allow_local_repos)
    : base_dir_(std::move(base_dir)), allow_local_repos_(allow_local_repos) {
  detail::ensureLibgit2();
}

std::filesystem::path RepoMirror::pathOf(const domain::Uuid& uuid) const {
  return base_dir_ / uuid.toString();
}

bool RepoMirror::exists(const domain::Uuid& uuid) const {
  std::error_code ec;
  return fs::is_directory(fs::symlink_status(pathOf(uuid), ec));
}

std::shared_ptr<detail::RepoLock> RepoMirror::lockFor(const domain::Uuid& uuid) const {
  const std::lock_guard guard(locks_mutex_);
  auto& slot = locks_[uuid];
  if (!slot) {
    slot = std::make_shared<detail::RepoLock>();
  }
  return slot;
}

void RepoMirror::validateUrl(std::string_view url) const {
  if (auto error = domain::validateRepoUrl(url, allow_local_repos_)) {
    throw gitError(std::move(*error));
  }
}

void RepoMirror::clone(const domain::Uuid& uuid, std::string_view url,
                       const std::optional<Credentials>& credentials,
                       std::uint64_t size_limit_bytes) {
  validateUrl(url);
  const auto lock = lockFor(uuid);
  const std::unique_lock guard(*lock);
  cloneLocked(uuid, url, credentials, size_limit_bytes);
}

void RepoMirror::cloneLocked(const domain::Uuid& uuid, std::string_view url,
                             const std::optional<Credentials>& credentials,
                             std::uint64_t size_limit_bytes) {
  std::error_code ec;
  fs::create_directories(base_dir_, ec);
  if (ec) {
    throw Error(ErrorKind::kInternal, "Cannot create the repository directory", ec.message());
  }
  const fs::path target = pathOf(uuid);
  const fs::path temp = base_dir_ / (".tmp-" + uuid.toString() + "-" + randomSuffix());
  RemoveOnExit cleanup(temp);
  const Credentials* creds = credentials ? &*credentials : nullptr;
  {
    git_repository_init_options init;
    git_repository_init_options_init(&init, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
    init.flags =
        GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
    git_repository* raw_repo = nullptr;
    if (git_repository_init_ext(&raw_repo, temp.c_str(), &init) != 0) {
      throw Error(ErrorKind::kInternal, "Cannot create the repository directory", lastGitMessage());
    }
    const RepositoryPtr repo(raw_repo);
    const std::string url_string(url);
    git_remote* raw_remote = nullptr;
    if (git_remote_create_with_fetchspec(&raw_remote, repo.get(), kRemoteName, url_string.c_str(),
                                         kBranchRefspec) != 0) {
      throw gitError("Cannot configure the repository remote", lastGitMessage());
    }
    const RemotePtr created(raw_remote);  // only needed to exist in the config
    if (git_remote_add_fetch(repo.get(), kRemoteName, kTagRefspec) != 0) {
      throw gitError("Cannot configure the repository remote", lastGitMessage());
    }
    const FetchResult result = fetchOrigin(repo.get(), creds, size_limit_bytes);
    if (result.outcome != FetchOutcome::kOk) {
      throwFetchFailure(result, size_limit_bytes);
    }
  }
  if (directorySize(temp) > size_limit_bytes) {
    throw sizeError(size_limit_bytes);
  }

  // Install: the old mirror (if any) is moved aside first so the rename cannot fail on a
  // non-empty target, and moved back if installing the new one fails.
  fs::path old;
  if (fs::exists(fs::symlink_status(target, ec))) {
    old = base_dir_ / (".old-" + uuid.toString() + "-" + randomSuffix());
    fs::rename(target, old, ec);
    if (ec) {
      throw Error(ErrorKind::kInternal, "Cannot replace the repository", ec.message());
    }
  }
  fs::rename(temp, target, ec);
  if (ec) {
    if (!old.empty()) {
      std::error_code restore_ec;
      fs::rename(old, target, restore_ec);
    }
    throw Error(ErrorKind::kInternal, "Cannot install the repository", ec.message());
  }
  cleanup.release();
  if (!old.empty()) {
    removeQuietly(old);
  }
}

void RepoMirror::fetch(const domain::Uuid& uuid, std::string_view url,
                       const std::optional<Credentials>& credentials,
                       std::uint64_t size_limit_bytes) {
  validateUrl(url);
  const auto lock = lockFor(uuid);
  const std::unique_lock guard(*lock);
  const fs::path target = pathOf(uuid);
  if (!exists(uuid)) {
    cloneLocked(uuid, url, credentials, size_limit_bytes);
    return;
  }
  const Credentials* creds = credentials ? &*credentials : nullptr;
  const std::uint64_t before = directorySize(target);
  FetchResult result;
  {
    const RepositoryPtr repo = openMirror(target);
    const std::string url_string(url);
    if (git_remote_set_url(repo.get(), kRemoteName, url_string.c_str()) != 0) {
      throw gitError("Cannot configure the repository remote", lastGitMessage());
    }
    const std::uint64_t budget = size_limit_bytes > before ? size_limit_bytes - before : 0;
    result = fetchOrigin(repo.get(), creds, budget);
  }
  if (result.outcome == FetchOutcome::kTooLarge ||
      (result.outcome == FetchOutcome::kOk && directorySize(target) > size_limit_bytes)) {
    removeQuietly(target);
    throw sizeError(size_limit_bytes);
  }
  if (result.outcome != FetchOutcome::kOk) {
    throwFetchFailure(result, size_limit_bytes);
  }
}

void RepoMirror::remove(const domain::Uuid& uuid) {
  const auto lock = lockFor(uuid);
  const std::unique_lock guard(*lock);
  std::error_code ec;
  fs::remove_all(pathOf(uuid), ec);
  if (ec) {
    throw Error(ErrorKind::kInternal, "Cannot remove the repository", ec.message());
  }
}

std::uint64_t RepoMirror::sizeOnDisk(const domain::Uuid& uuid) const {
  const auto lock = lockFor(uuid);
  const std::shared_lock guard(*lock);
  return directorySize(pathOf(uuid));
}

std::vector<std::string> RepoMirror::branches(const domain::Uuid& uuid) const {
  const auto lock = lockFor(uuid);
  const std::shared_lock guard(*lock);
  const RepositoryPtr repo = openMirror(pathOf(uuid));
  git_reference_iterator* raw_iter = nullptr;
  if (git_reference_iterator_glob_new(&raw_iter, repo.get(), "refs/remotes/origin/*") != 0) {
    throw gitError("Cannot list branches", lastGitMessage());
  }
  const ReferenceIteratorPtr iter(raw_iter);
  std::vector<std::string> out;
  git_reference* raw_ref = nullptr;
  while (git_reference_next(&raw_ref, iter.get()) == 0) {
    const ReferencePtr ref(raw_ref);
    if (git_reference_type(ref.get()) != GIT_REFERENCE_DIRECT) {
      continue;  // origin/HEAD and other symbolic refs
    }
    std::string name(
        std::string_view(git_reference_name(ref.get())).substr(kRemoteBranchPrefix.size()));
    if (name != "HEAD") {
      out.push_back(std::move(name));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<CommitInfo> RepoMirror::commits(const domain::Uuid& uuid,
                                            std::string_view branch) const {
  const auto lock = lockFor(uuid);
  const std::shared_lock guard(*lock);
  const RepositoryPtr repo = openMirror(pathOf(uuid));

  const std::string refname = std::string(kRemoteBranchPrefix) + std::string(branch);
  int valid = 0;
  git_reference* raw_ref = nullptr;
  if (branch.empty() || branch == "HEAD" || branch.find('\0') != std::string_view::npos ||
      git_reference_name_is_valid(&valid, refname.c_str()) != 0 || valid == 0) {
    throw gitError("Branch " + printable(branch) + " not found");
  }
  if (git_reference_lookup(&raw_ref, repo.get(), refname.c_str()) != 0) {
    throw gitError("Branch " + printable(branch) + " not found");
  }
  const ReferencePtr ref(raw_ref);
  git_object* raw_tip = nullptr;
  if (git_reference_peel(&raw_tip, ref.get(), GIT_OBJECT_COMMIT) != 0) {
    throw gitError("Branch " + printable(branch) + " not found", lastGitMessage());
  }
  const detail::ObjectPtr tip(raw_tip);

  const auto tags = tagsByCommit(repo.get());
  git_revwalk* raw_walk = nullptr;
  if (git_revwalk_new(&raw_walk, repo.get()) != 0) {
    throw gitError("Cannot list commits", lastGitMessage());
  }
  const RevwalkPtr walk(raw_walk);
  git_revwalk_sorting(walk.get(), GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
  if (git_revwalk_push(walk.get(), git_object_id(tip.get())) != 0) {
    throw gitError("Cannot list commits", lastGitMessage());
  }
  std::vector<CommitInfo> out;
  git_oid oid;
  while (git_revwalk_next(&oid, walk.get()) == 0) {
    git_commit* raw_commit = nullptr;
    if (git_commit_lookup(&raw_commit, repo.get(), &oid) != 0) {
      throw gitError("Cannot list commits", lastGitMessage());
    }
    const CommitPtr commit(raw_commit);
    CommitInfo info;
    info.commit = oidHex(&oid);
    const char* summary = git_commit_summary(commit.get());
    info.summary = summary != nullptr ? summary : "";
    if (const auto it = tags.find(info.commit); it != tags.end()) {
      info.tag = it->second;
    }
    out.push_back(std::move(info));
  }
  return out;
}

std::optional<std::string> RepoMirror::readFile(const domain::Uuid& uuid, std::string_view commit,
                                                std::string_view path,
                                                std::size_t max_bytes) const {
  const auto lock = lockFor(uuid);
  const std::shared_lock guard(*lock);
  const RepositoryPtr repo = openMirror(pathOf(uuid));
  const CommitPtr found = lookupCommit(repo.get(), commit);
  if (path.empty() || path.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  const TreePtr tree = commitTree(found.get());
  git_tree_entry* raw_entry = nullptr;
  const std::string path_string(path);
  if (git_tree_entry_bypath(&raw_entry, tree.get(), path_string.c_str()) != 0) {
    return std::nullopt;
  }
  const TreeEntryPtr entry(raw_entry);
  const git_filemode_t mode = git_tree_entry_filemode(entry.get());
  if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE) {
    return std::nullopt;
  }
  const OdbPtr odb = repoOdb(repo.get());
  if (objectSize(odb.get(), git_tree_entry_id(entry.get())) > max_bytes) {
    throw gitError("File " + printable(path) + " is too large");
  }
  const BlobPtr blob = lookupBlob(repo.get(), git_tree_entry_id(entry.get()));
  return std::string(static_cast<const char*>(git_blob_rawcontent(blob.get())),
                     static_cast<std::size_t>(git_blob_rawsize(blob.get())));
}

CheckoutReport RepoMirror::checkout(const domain::Uuid& uuid, std::string_view commit,
                                    const std::filesystem::path& dest,
                                    std::uint64_t max_total_bytes) const {
  const auto lock = lockFor(uuid);
  const std::shared_lock guard(*lock);
  const RepositoryPtr repo = openMirror(pathOf(uuid));
  const CommitPtr found = lookupCommit(repo.get(), commit);
  const TreePtr tree = commitTree(found.get());
  const OdbPtr odb = repoOdb(repo.get());

  std::error_code ec;
  fs::create_directories(dest, ec);
  if (ec || !fs::is_directory(fs::symlink_status(dest, ec))) {
    throw Error(ErrorKind::kInternal, "Cannot write the repository checkout",
                "cannot create " + dest.string());
  }
  CheckoutContext ctx;
  ctx.repo = repo.get();
  ctx.odb = odb.get();
  ctx.max_total_bytes = max_total_bytes;
  checkoutTree(ctx, tree.get(), dest, "", 0);
  return std::move(ctx.report);
}

}  // namespace pepeunit::gitsync
