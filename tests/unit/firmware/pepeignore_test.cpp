// .pepeignore: the gitignore-syntax matcher, table-driven, a cross-check against `git
// check-ignore` for patterns without negation (where git and the original agree), and applying
// it to a real tree (files only, symlinks never followed).
#include "firmware/pepeignore.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "unit/cli_support.hpp"

namespace pf = pepeunit::firmware;
namespace fs = std::filesystem;
using pepeunit::testing::cli::run;
using pepeunit::testing::cli::TempDir;
using pepeunit::testing::cli::writeFile;

namespace {

struct Case {
  const char* path;
  bool removed;
};

struct Table {
  const char* name;
  const char* patterns;
  std::vector<Case> cases;
};

}  // namespace

TEST_CASE("firmware: matchSegment globbing") {
  struct Row {
    const char* pattern;
    const char* name;
    bool match;
  };
  const std::string many_a(200, 'a');
  const Row rows[] = {
      {"abc", "abc", true},
      {"abc", "abcd", false},
      {"*", "anything", true},
      {"*", "", true},
      {"*.py", "main.py", true},
      {"*.py", ".py", true},
      {"*.py", "main.pyc", false},
      {"a*b*c", "aXXbYYc", true},
      {"a*b*c", "aXXbYY", false},
      {"?", "a", true},
      {"?", "", false},
      {"??", "a", false},
      {"[abc]", "b", true},
      {"[abc]", "d", false},
      {"[a-c]x", "bx", true},
      {"[!a-c]x", "bx", false},
      {"[^a-c]x", "dx", true},
      {"[]]", "]", true},
      {"[!]]", "a", true},
      {"[a-]", "-", true},
      {"[[:digit:]]", "7", true},
      {"[[:digit:]]", "x", false},
      {"[[:upper:][:digit:]]", "Q", true},
      {"[[:alpha:]]", "1", false},
      {"[[:space:]]", " ", true},
      {"[", "[", true},  // unclosed bracket: literal
      {"a[", "a[", true},
      {"[ab", "[ab", true},
      {"\\*", "*", true},
      {"\\*", "x", false},
      {"\\?x", "?x", true},
      {"\\[a]", "[a]", true},
      {"a\\", "a\\", true},                           // trailing backslash: literal
      {"*a*a*a*a*a*a*a*a*b", many_a.c_str(), false},  // no blow-up
  };
  for (const auto& row : rows) {
    CAPTURE(row.pattern);
    CAPTURE(row.name);
    CHECK(pf::matchSegment(row.pattern, row.name) == row.match);
  }
}

TEST_CASE("firmware: PepeIgnore patterns, table-driven") {
  const Table tables[] = {
      {"plain names match at any depth, files and directories",
       "LICENSE\ndocs\n",
       {{"LICENSE", true},
        {"sub/LICENSE", true},
        {"LICENSE.txt", false},
        {"docs/a.md", true},
        {"docs/deep/b.md", true},
        {"x/docs/c.md", true},
        {"docs", true},
        {"mydocs/a", false}}},
      {"comments and blank lines",
       "# comment\n\n   \nREADME.md\n\\#hash\n",
       {{"README.md", true}, {"# comment", false}, {"#hash", true}, {"comment", false}}},
      {"leading slash anchors", "/main.py\n", {{"main.py", true}, {"lib/main.py", false}}},
      {"middle slash anchors",
       "lib/test.py\n",
       {{"lib/test.py", true}, {"x/lib/test.py", false}, {"test.py", false}}},
      {"trailing slash: directories only",
       "build/\n",
       {{"build", false}, {"build/out.bin", true}, {"a/build/out.bin", true}}},
      {"star does not cross slashes",
       "/*.md\ndoc/*.txt\n",
       {{"README.md", true},
        {"sub/README.md", false},
        {"doc/a.txt", true},
        {"doc/sub/a.txt", false},
        {"x/doc/a.txt", false}}},
      {"doc/* matches everything below doc through the directory rule",
       "doc/*\n",
       {{"doc/a", true}, {"doc/sub/b", true}, {"doc", false}}},
      {"leading **/",
       "**/cache\n**/tmp/*.log\n",
       {{"cache", true},
        {"a/b/cache", true},
        {"a/cache/x", true},
        {"tmp/x.log", true},
        {"a/tmp/x.log", true},
        {"a/tmp/b/x.log", false}}},
      {"trailing /** matches inside only",
       "abc/**\n",
       {{"abc", false}, {"abc/x", true}, {"abc/x/y", true}, {"z/abc/x", false}}},
      {"inner /**/ matches zero or more directories",
       "a/**/b\n",
       {{"a/b", true},
        {"a/x/b", true},
        {"a/x/y/b", true},
        {"a/x/y/b/c", true},
        {"ab", false},
        {"x/a/b", false}}},
      {"other ** is a plain star",
       "foo**bar\n",
       {{"fooXbar", true}, {"foobar", true}, {"foo/bar", false}}},
      {"lone ** matches everything", "**\n", {{"a", true}, {"a/b/c", true}}},
      {"question mark and classes",
       "file?.txt\n*.[oa]\n",
       {{"file1.txt", true},
        {"file.txt", false},
        {"x.o", true},
        {"lib/x.a", true},
        {"x.c", false}}},
      {"negation: last match wins, re-include under an ignored directory (as the original)",
       "docs/\n!docs/keep.md\n*.log\n!important.log\n",
       {{"docs/a.md", true},
        {"docs/keep.md", false},
        {"x.log", true},
        {"important.log", false},
        {"sub/important.log", false}}},
      {"negation then re-ignore", "*.py\n!*.py\nmain.py\n", {{"main.py", true}, {"lib.py", false}}},
      {"escaped ! is a literal", "\\!bang\n", {{"!bang", true}, {"bang", false}}},
      {"trailing spaces are dropped unless escaped",
       "spaced   \nkeep\\ \n",
       {{"spaced", true}, {"keep ", true}, {"keep", false}}},
      {"CRLF line endings", "LICENSE\r\nREADME.md\r\n", {{"LICENSE", true}, {"README.md", true}}},
      {"dot files and .git",
       ".git\n.pepeignore\n.gitignore\n",
       {{".git/config", true},
        {".git/objects/ab/cdef", true},
        {".pepeignore", true},
        {".gitignore", true},
        {".github/workflow.yml", false}}},
      {"useless lines are ignored", "/\n!\n//\n", {{"a", false}, {"b/c", false}}},
      {"paths with ./ prefix are normalised",
       "main.py\n",
       {{"./main.py", true}, {"./lib/main.py", true}}},
      {"the spec's example .pepeignore",
       ".git\n.gitignore\n.pepeignore\nLICENSE\nenv_example.json\nschema_example.json\n"
       "pepeunit.toml\nreadme.md\n",
       {{"main.py", false},
        {"lib/umqtt/simple.py", false},
        {"env_example.json", true},
        {"schema_example.json", true},
        {"readme.md", true},
        {"README.md", false}}},
  };
  for (const auto& table : tables) {
    CAPTURE(table.name);
    const auto ignore = pf::PepeIgnore::parse(table.patterns);
    for (const auto& c : table.cases) {
      CAPTURE(c.path);
      CHECK(ignore.matchesFile(c.path) == c.removed);
    }
  }
  CHECK(pf::PepeIgnore::parse("").size() == 0);
  CHECK(pf::PepeIgnore::parse("# only\n\n").size() == 0);
  CHECK(pf::PepeIgnore::parse("a\n!b\nc/\n").size() == 3);
}

TEST_CASE("firmware: PepeIgnore agrees with git check-ignore on non-negated patterns") {
  if (::access("/usr/bin/git", X_OK) != 0) {
    MESSAGE("git not installed; skipping the cross-check");
    return;
  }
  const char* patterns =
      "LICENSE\n/top.txt\ndocs/\nlib/*.pyc\n**/cache\nabc/**\na/**/b.txt\n*.[oa]\nfile?.md\n"
      "build\n/dist/\nsrc/gen/\n";
  const std::vector<std::string> paths = {
      "LICENSE",   "x/LICENSE",     "top.txt",     "x/top.txt",     "docs/a.md",   "x/docs/b.md",
      "lib/m.pyc", "lib/sub/m.pyc", "x/lib/m.pyc", "cache/c",       "x/y/cache/c", "abc/d",
      "abc/e/f",   "x/abc/d",       "a/b.txt",     "a/x/b.txt",     "a/x/y/b.txt", "q.o",
      "w/q.a",     "q.c",           "file1.md",    "file12.md",     "build/out",   "build2/out",
      "dist/p",    "x/dist/p",      "src/gen/g.c", "src/x/gen/g.c", "keep.py",     "d/e/f/g.py"};
  TempDir dir;
  const fs::path root = dir.file("repo");
  for (const auto& path : paths) {
    writeFile(root / path, "x");
  }
  writeFile(root / ".gitignore", patterns);
  REQUIRE(run("git init -q '" + root.string() + "' 2>/dev/null").exit_code == 0);
  std::string args;
  for (const auto& path : paths) {
    args += " '" + path + "'";
  }
  // check-ignore prints the ignored paths among its arguments (exit 1 when none is ignored).
  const auto result = run("cd '" + root.string() + "' && git check-ignore" + args);
  std::set<std::string> git_ignored;
  std::istringstream lines(result.output);
  for (std::string line; std::getline(lines, line);) {
    git_ignored.insert(line);
  }
  REQUIRE(!git_ignored.empty());
  const auto ignore = pf::PepeIgnore::parse(patterns);
  for (const auto& path : paths) {
    CAPTURE(path);
    CHECK(ignore.matchesFile(path) == (git_ignored.count(path) != 0));
  }
}

TEST_CASE("firmware: applyPepeIgnore removes matching files only, never follows symlinks") {
  TempDir dir;
  const fs::path root = dir.file("tree");
  const fs::path outside = dir.file("outside");
  writeFile(outside / "secret.txt", "do not touch");
  writeFile(root / "main.py", "print(1)");
  writeFile(root / "LICENSE", "AGPL");
  writeFile(root / "docs/a.md", "a");
  writeFile(root / "docs/deep/b.md", "b");
  writeFile(root / "lib/x.py", "x");
  writeFile(root / "lib/x.pyc", "x");
  writeFile(root / ".pepeignore", "LICENSE\ndocs/\n*.pyc\nsecret.txt\nlink_*\n.pepeignore\n");
  fs::create_symlink(outside, root / "outside_dir");               // would expose secret.txt
  fs::create_symlink(outside / "secret.txt", root / "link_file");  // a matching symlink

  const auto removed = pf::applyPepeIgnore(root);
  CHECK(removed == std::vector<std::string>{".pepeignore", "LICENSE", "docs/a.md", "docs/deep/b.md",
                                            "lib/x.pyc", "link_file"});
  CHECK(fs::exists(root / "main.py"));
  CHECK(fs::exists(root / "lib/x.py"));
  CHECK_FALSE(fs::exists(root / "LICENSE"));
  CHECK_FALSE(fs::exists(root / "lib/x.pyc"));
  // Directories stay, even when emptied.
  CHECK(fs::is_directory(root / "docs/deep"));
  CHECK(fs::is_empty(root / "docs/deep"));
  // The symlink itself went; its target did not; the linked directory was not entered.
  CHECK_FALSE(fs::exists(fs::symlink_status(root / "link_file")));
  CHECK(fs::exists(outside / "secret.txt"));
  CHECK(fs::is_symlink(root / "outside_dir"));
}

TEST_CASE(
    "firmware: applyPepeIgnore without a .pepeignore, or with a symlinked one, does nothing") {
  TempDir dir;
  const fs::path root = dir.file("tree");
  writeFile(root / "LICENSE", "x");
  CHECK(pf::applyPepeIgnore(root).empty());
  CHECK(fs::exists(root / "LICENSE"));

  writeFile(dir.file("evil_ignore"), "LICENSE\n");
  fs::create_symlink(dir.file("evil_ignore"), root / ".pepeignore");
  CHECK(pf::applyPepeIgnore(root).empty());
  CHECK(fs::exists(root / "LICENSE"));
}
