// RAII for libgit2: one unique_ptr alias per handle type with its matching git_*_free, and the
// process-wide git_libgit2_init guard. Internal to the gitsync layer.
#pragma once

#include <git2.h>

#include <memory>

namespace pepeunit::gitsync::detail {

template <typename T, void (*Free)(T*)>
struct GitDeleter {
  void operator()(T* handle) const noexcept {
    if (handle != nullptr) {
      Free(handle);
    }
  }
};

template <typename T, void (*Free)(T*)>
using GitPtr = std::unique_ptr<T, GitDeleter<T, Free>>;

using RepositoryPtr = GitPtr<git_repository, git_repository_free>;
using RemotePtr = GitPtr<git_remote, git_remote_free>;
using CommitPtr = GitPtr<git_commit, git_commit_free>;
using TreePtr = GitPtr<git_tree, git_tree_free>;
using TreeEntryPtr = GitPtr<git_tree_entry, git_tree_entry_free>;
using ObjectPtr = GitPtr<git_object, git_object_free>;
using BlobPtr = GitPtr<git_blob, git_blob_free>;
using RevwalkPtr = GitPtr<git_revwalk, git_revwalk_free>;
using ReferencePtr = GitPtr<git_reference, git_reference_free>;
using ReferenceIteratorPtr = GitPtr<git_reference_iterator, git_reference_iterator_free>;
using OdbPtr = GitPtr<git_odb, git_odb_free>;

/// Owns a git_strarray's contents (the struct itself lives on the stack).
struct StrArray {
  git_strarray value{};
  StrArray() = default;
  StrArray(const StrArray&) = delete;
  StrArray& operator=(const StrArray&) = delete;
  ~StrArray() { git_strarray_dispose(&value); }
};

/// Owns a git_buf's contents.
struct Buf {
  git_buf value = GIT_BUF_INIT;
  Buf() = default;
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() { git_buf_dispose(&value); }
};

/// Calls git_libgit2_init() exactly once per process (thread-safe: a function-local static) and
/// git_libgit2_shutdown() at exit. Also makes libgit2 hermetic: no system, XDG or global git
/// config is read, so a host's `url.<x>.insteadOf` or proxy settings cannot redirect our
/// clones to places the URL validation never saw. Throws std::runtime_error if init fails.
void ensureLibgit2();

}  // namespace pepeunit::gitsync::detail
