// The process-wide libgit2 runtime guard.
#include "gitsync/git_handles.hpp"

#include <stdexcept>

namespace pepeunit::gitsync::detail {
namespace {

class Libgit2Runtime {
 public:
  Libgit2Runtime() {
    if (git_libgit2_init() < 0) {
      throw std::runtime_error("git_libgit2_init failed");
    }
    // An empty search path means "no such config files": only each mirror's own config counts.
    for (const int level : {GIT_CONFIG_LEVEL_PROGRAMDATA, GIT_CONFIG_LEVEL_SYSTEM,
                            GIT_CONFIG_LEVEL_XDG, GIT_CONFIG_LEVEL_GLOBAL}) {
      git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, level, "");
    }
  }
  ~Libgit2Runtime() { git_libgit2_shutdown(); }
  Libgit2Runtime(const Libgit2Runtime&) = delete;
  Libgit2Runtime& operator=(const Libgit2Runtime&) = delete;
};

}  // namespace

void ensureLibgit2() {
  static const Libgit2Runtime runtime;
}

}  // namespace pepeunit::gitsync::detail
