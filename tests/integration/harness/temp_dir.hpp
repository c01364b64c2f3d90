// A throwaway directory per test run, removed with everything in it when the owner goes away.
#pragma once

#include <filesystem>

namespace pepeunit::testing {

/// `mkdtemp("$TMPDIR/pepeunit-test-XXXXXX")` (or under /tmp), mode 0755 so that the unprivileged
/// users our services run as (postgres) can traverse it. The destructor removes it recursively
/// unless `PEPEUNIT_KEEP_TEST_DIRS=1`, in which case it prints where it left it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;

  const std::filesystem::path& path() const { return path_; }

 private:
  void remove() noexcept;

  std::filesystem::path path_;
};

}  // namespace pepeunit::testing
