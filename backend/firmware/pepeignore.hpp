// `.pepeignore`: gitignore-syntax patterns naming the files of a repo that must not go into a
// firmware archive (pepeunit_backend_spec.md §7.7 step 2). Microcontrollers have little flash,
// so developers list LICENSE, docs, the example files, .git, ...
//
// Syntax (gitignore(5)): blank lines and `#` comments; `\#`, `\!`, `\ ` escapes; trailing spaces
// dropped unless escaped; `!` negates; a trailing `/` matches directories only; a `/` at the start
// or in the middle anchors the pattern at the repo root, otherwise it matches a name at any depth;
// `*` and `?` never match `/`; `[...]` classes with ranges, `!`/`^` negation and `[:alpha:]`-style
// names; `**/` leading, `/**` trailing and `/**/` inner match any number of directories (the
// trailing form at least one level); any other `**` is a plain `*`.
//
// Semantics follow the original (Python `pathspec`'s GitWildMatch, which it used): a pattern that
// matches a directory matches every file below it, and for each file the LAST matching pattern
// decides, so `docs/` followed by `!docs/keep.md` keeps docs/keep.md. (git itself cannot
// re-include a file whose parent directory is excluded; here it can, as in the original.)
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace pepeunit::firmware {

class PepeIgnore {
 public:
  /// Parses the text of a .pepeignore file. Never fails: lines that cannot match anything
  /// (e.g. a lone `/` or `!`) are ignored, an unclosed `[` is a literal.
  static PepeIgnore parse(std::string_view text);

  /// True if the regular file at `relative_path` ('/'-separated, relative to the repo root, no
  /// leading "./") is to be removed.
  bool matchesFile(std::string_view relative_path) const;

  /// The number of effective patterns.
  std::size_t size() const { return rules_.size(); }

  struct Rule {
    std::vector<std::string> segments;  // pattern split on '/'; "**" segments are globstars
    bool negated = false;
    bool dir_only = false;
    bool match_trailing_globstar_nonempty = false;  // pattern ended in "/**"
  };

 private:
  std::vector<Rule> rules_;
};

/// Glob match of one path segment (no '/'): `*`, `?`, `[...]`, backslash escapes.
bool matchSegment(std::string_view pattern, std::string_view name);

/// §7.7 step 2: reads `<root>/.pepeignore` (nothing happens without it) and removes every
/// non-directory entry below `root` that it matches (regular files and symlinks themselves,
/// never a symlink's target; directories are never removed, so empty ones remain). Symlinked
/// directories are not descended into. Returns the removed paths relative to `root`, sorted.
/// Throws Error(kInternal) on I/O failure.
std::vector<std::string> applyPepeIgnore(const std::filesystem::path& root);

}  // namespace pepeunit::firmware
