// The pure parts of gitsync: the tree entry name guard that keeps checkouts inside their target,
// and RepoMirror's argument checks that need no repository (URL validation happens before any
// disk or network access; a missing mirror is a clear error).
#include "gitsync/repo_mirror.hpp"

#include <doctest/doctest.h>

#include <string>

#include "common/errors.hpp"

namespace pg = pepeunit::gitsync;

TEST_CASE("gitsync: isSafeTreeEntryName") {
  CHECK(pg::isSafeTreeEntryName("main.py"));
  CHECK(pg::isSafeTreeEntryName(".pepeignore"));
  CHECK(pg::isSafeTreeEntryName("..."));
  CHECK(pg::isSafeTreeEntryName("..a"));
  CHECK(pg::isSafeTreeEntryName(".git"));  // skipped by checkout, but not a traversal
  CHECK(pg::isSafeTreeEntryName("-rf"));
  CHECK_FALSE(pg::isSafeTreeEntryName(""));
  CHECK_FALSE(pg::isSafeTreeEntryName("."));
  CHECK_FALSE(pg::isSafeTreeEntryName(".."));
  CHECK_FALSE(pg::isSafeTreeEntryName("a/b"));
  CHECK_FALSE(pg::isSafeTreeEntryName("/etc"));
  CHECK_FALSE(pg::isSafeTreeEntryName("..\\..\\etc"));
  CHECK_FALSE(pg::isSafeTreeEntryName(std::string("a\0b", 3)));
}

TEST_CASE("gitsync: RepoMirror rejects invalid URLs before touching the disk") {
  const auto base = std::filesystem::temp_directory_path() / "pepeunit-unit-gitsync-never-created";
  pg::RepoMirror mirror(base, /*allow_local_repos=*/false);
  const auto uuid = *pepeunit::domain::Uuid::parse("0f8fad5b-d9cb-469f-a165-70867728950e");
  const char* bad[] = {"file:///srv/unit.git", "/srv/unit.git", "ssh://host/unit.git",
                       "https://user:token@example.com/unit.git", "--upload-pack=x"};
  for (const std::string url : bad) {
    CAPTURE(url);
    try {
      mirror.clone(uuid, url, std::nullopt, 1024);
      FAIL("clone accepted an invalid URL");
    } catch (const pepeunit::Error& e) {
      CHECK(e.kind() == pepeunit::ErrorKind::kGitRepoValidation);
    }
    CHECK_THROWS_AS(mirror.fetch(uuid, url, std::nullopt, 1024), pepeunit::Error);
  }
  CHECK_FALSE(std::filesystem::exists(base));
  CHECK_FALSE(mirror.exists(uuid));
  CHECK(mirror.pathOf(uuid) == base / "0f8fad5b-d9cb-469f-a165-70867728950e");
  try {
    (void)mirror.branches(uuid);
    FAIL("branches of a missing mirror");
  } catch (const pepeunit::Error& e) {
    CHECK(e.kind() == pepeunit::ErrorKind::kGitRepoValidation);
    CHECK(std::string(e.what()) == "Local copy of the repository is missing");
  }
  CHECK(mirror.sizeOnDisk(uuid) == 0);
  CHECK_NOTHROW(mirror.remove(uuid));
}
