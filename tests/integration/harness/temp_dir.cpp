// TempDir: mkdtemp + chmod on creation, recursive removal on destruction.
#include "integration/harness/temp_dir.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace pepeunit::testing {
namespace {

bool keepTestDirs() {
  const char* keep = std::getenv("PEPEUNIT_KEEP_TEST_DIRS");
  return keep != nullptr && std::string(keep) == "1";
}

}  // namespace

TempDir::TempDir() {
  const char* tmpdir = std::getenv("TMPDIR");
  const std::filesystem::path base = (tmpdir != nullptr && *tmpdir != '\0') ? tmpdir : "/tmp";
  std::string templ = (base / "pepeunit-test-XXXXXX").string();
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp(" + templ + ")");
  }
  path_ = buf.data();
  // mkdtemp makes it 0700; services running as other users need to reach their subfolders.
  if (::chmod(path_.c_str(), 0755) != 0) {
    const int err = errno;
    remove();
    throw std::system_error(err, std::generic_category(), "chmod(" + path_.string() + ")");
  }
}

TempDir::~TempDir() {
  remove();
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    remove();
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

void TempDir::remove() noexcept {
  if (path_.empty()) {
    return;
  }
  if (keepTestDirs()) {
    std::cerr << "PEPEUNIT_KEEP_TEST_DIRS=1: keeping " << path_ << '\n';
  } else {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    if (ec) {
      std::cerr << "cannot remove " << path_ << ": " << ec.message() << '\n';
    }
  }
  path_.clear();
}

}  // namespace pepeunit::testing
