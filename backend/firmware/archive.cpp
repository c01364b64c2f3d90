// Firmware archive building over libarchive (zip, PAX tar) and zlib (the "tgz" deflate stream).
#include "firmware/archive.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>
#include <vector>

#include "common/errors.hpp"

namespace pepeunit::firmware {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void internalError(std::string_view what, const std::string& detail) {
  throw Error(ErrorKind::kInternal, "Cannot build the firmware archive: " + std::string(what),
              detail);
}

struct ArchiveWriteDeleter {
  void operator()(archive* a) const noexcept { archive_write_free(a); }
};
using ArchiveWritePtr = std::unique_ptr<archive, ArchiveWriteDeleter>;

struct ArchiveEntryDeleter {
  void operator()(archive_entry* e) const noexcept { archive_entry_free(e); }
};
using ArchiveEntryPtr = std::unique_ptr<archive_entry, ArchiveEntryDeleter>;

/// A file descriptor closed on scope exit.
class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

/// A deflate stream ended on scope exit.
class Deflater {
 public:
  Deflater(int wbits, int level) {
    if (deflateInit2(&stream_, level, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      internalError("zlib init failed", "deflateInit2(wbits=" + std::to_string(wbits) +
                                            ", level=" + std::to_string(level) + ") failed");
    }
  }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
  ~Deflater() { deflateEnd(&stream_); }
  z_stream* get() { return &stream_; }

 private:
  z_stream stream_{};
};

/// One thing to pack, discovered before anything is written so limits fail fast.
struct Entry {
  fs::path path;         // absolute, inside root
  std::string relative;  // '/'-separated, no leading "./", directories without trailing '/'
  bool directory = false;
  std::uint64_t size = 0;
  mode_t mode = 0;
  std::int64_t mtime = 0;
};

// Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool isValidUtf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      extra = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      extra = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) {
      return false;
    }
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xc0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((extra == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (extra == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

// A printable excerpt of a hostile file name for error messages.
std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 80)) {
    out += (c >= ' ' && c <= '~') ? c : '?';
  }
  return out;
}

bool isInside(const fs::path& root, const fs::path& path) {
  auto r = root.begin();
  auto p = path.begin();
  for (; r != root.end(); ++r, ++p) {
    if (p == path.end() || *r != *p) {
      return false;
    }
  }
  return true;
}

class TreeScanner {
 public:
  TreeScanner(fs::path root, const ArchiveLimits& limits)
      : root_(std::move(root)), limits_(limits) {}

  std::vector<Entry> scan() {
    scanDir(root_, "");
    return std::move(entries_);
  }

 private:
  void scanDir(const fs::path& dir, const std::string& prefix) {
    std::error_code ec;
    std::vector<fs::path> children;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      children.push_back(it->path());
    }
    if (ec) {
      internalError("cannot list a directory", dir.string() + ": " + ec.message());
    }
    // Byte order of names, like Python's sorted(os.listdir()): reproducible archives.
    std::sort(children.begin(), children.end(), [](const fs::path& a, const fs::path& b) {
      return a.filename().native() < b.filename().native();
    });
    for (const auto& child : children) {
      struct stat st {};
      if (::lstat(child.c_str(), &st) != 0) {
        internalError("cannot stat a file", child.string() + ": " + std::strerror(errno));
      }
      const std::string relative = prefix + child.filename().native();
      // Names go into zip headers flagged UTF-8 and onto devices' file systems: a name that is
      // not UTF-8 would make the whole zip unreadable for Python's zipfile.
      if (!isValidUtf8(child.filename().native())) {
        throw Error(
            ErrorKind::kGitRepoValidation,
            "The firmware has a file name that is not valid UTF-8: '" + printable(relative) + "'");
      }
      if (S_ISDIR(st.st_mode)) {
        add(Entry{child, relative, true, 0, st.st_mode, st.st_mtim.tv_sec});
        scanDir(child, relative + "/");
      } else if (S_ISREG(st.st_mode)) {
        total_bytes_ += static_cast<std::uint64_t>(st.st_size);
        if (total_bytes_ > limits_.max_input_bytes) {
          throw Error(ErrorKind::kGitRepoValidation,
                      "The firmware is too large: its files exceed " +
                          std::to_string(limits_.max_input_bytes) + " bytes (at '" + relative +
                          "')");
        }
        add(Entry{child, relative, false, static_cast<std::uint64_t>(st.st_size), st.st_mode,
                  st.st_mtim.tv_sec});
      }
      // Symlinks, FIFOs, sockets and devices are never packed nor followed.
    }
  }

  void add(Entry entry) {
    if (entries_.size() >= limits_.max_entries) {
      throw Error(ErrorKind::kGitRepoValidation, "The firmware has too many files: more than " +
                                                     std::to_string(limits_.max_entries));
    }
    entries_.push_back(std::move(entry));
  }

  fs::path root_;
  const ArchiveLimits& limits_;
  std::vector<Entry> entries_;
  std::uint64_t total_bytes_ = 0;
};

// libarchive's write callback: appends the block to the std::string behind `client`.
la_ssize_t appendToString(archive* /*a*/, void* client, const void* buffer, size_t length) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

void check(archive* a, int rc, std::string_view what) {
  if (rc < ARCHIVE_WARN) {
    const char* message = archive_error_string(a);
    internalError(what, message != nullptr ? message : "libarchive error");
  }
}

// Streams one regular file into the archive; the file must still be the regular file inside
// root that was scanned.
void writeFileData(archive* a, const Entry& entry, const fs::path& canonical_root) {
  std::error_code ec;
  const auto resolved = fs::canonical(entry.path, ec);
  if (ec || !isInside(canonical_root, resolved)) {
    internalError("a file left the firmware tree", entry.path.string());
  }
  UniqueFd fd(::open(entry.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) {
    internalError("cannot open a file", entry.path.string() + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) ||
      static_cast<std::uint64_t>(st.st_size) != entry.size) {
    internalError("a file changed while packing", entry.path.string());
  }
  std::vector<char> buffer(std::size_t{64} * 1024);
  std::uint64_t left = entry.size;
  while (left > 0) {
    const auto want = static_cast<size_t>(std::min<std::uint64_t>(left, buffer.size()));
    const ssize_t n = ::read(fd.get(), buffer.data(), want);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      internalError("a file changed while packing", entry.path.string());
    }
    if (archive_write_data(a, buffer.data(), static_cast<size_t>(n)) < 0) {
      check(a, ARCHIVE_FATAL, "writing file data failed");
    }
    left -= static_cast<std::uint64_t>(n);
  }
}

std::string packWithLibarchive(const fs::path& root, const std::vector<Entry>& entries,
                               ArchiveFormat format) {
  ArchiveWritePtr a(archive_write_new());
  if (!a) {
    internalError("libarchive init failed", "archive_write_new returned null");
  }
  const bool zip = format == ArchiveFormat::kZip;
  if (zip) {
    check(a.get(), archive_write_set_format_zip(a.get()), "zip format");
    check(a.get(), archive_write_set_options(a.get(), "zip:compression=deflate"), "zip options");
    // Names are UTF-8 (checked while scanning) and flagged so in the zip headers.
    check(a.get(), archive_write_set_options(a.get(), "zip:hdrcharset=UTF-8"), "zip charset");
    // No block padding after a zip's central directory (tar keeps the 10240-byte records that
    // Python's tarfile also writes).
    check(a.get(), archive_write_set_bytes_in_last_block(a.get(), 1), "zip blocking");
  } else {
    check(a.get(), archive_write_set_format_pax_restricted(a.get()), "tar format");
  }
  check(a.get(), archive_write_add_filter_none(a.get()), "filter");
  std::string out;
  check(a.get(), archive_write_open(a.get(), &out, nullptr, appendToString, nullptr), "open");

  std::error_code ec;
  const auto canonical_root = fs::canonical(root, ec);
  if (ec) {
    internalError("cannot resolve the firmware root", root.string() + ": " + ec.message());
  }

  auto write_entry = [&](const std::string& name, const Entry* source) {
    ArchiveEntryPtr entry(archive_entry_new());
    // zip: UTF-8 names with the header flag. tar: the raw bytes (libarchive's PAX writer
    // dereferences a null locale name for non-ASCII UTF-8-only names in the "C" locale).
    if (zip) {
      archive_entry_set_pathname_utf8(entry.get(), name.c_str());
    } else {
      archive_entry_set_pathname(entry.get(), name.c_str());
    }
    const bool directory = source == nullptr || source->directory;
    archive_entry_set_filetype(entry.get(), directory ? AE_IFDIR : AE_IFREG);
    // Permissions: rwx for directories, keep the executable bit of scripts, nothing else.
    const bool executable = source != nullptr && (source->mode & S_IXUSR) != 0;
    archive_entry_set_perm(entry.get(), directory || executable ? 0755 : 0644);
    archive_entry_set_size(entry.get(), directory ? 0 : static_cast<la_int64_t>(source->size));
    archive_entry_set_mtime(entry.get(), source != nullptr ? source->mtime : 0, 0);
    archive_entry_set_uid(entry.get(), 0);
    archive_entry_set_gid(entry.get(), 0);
    check(a.get(), archive_write_header(a.get(), entry.get()), "writing an entry header failed");
    if (!directory) {
      writeFileData(a.get(), *source, canonical_root);
    }
    check(a.get(), archive_write_finish_entry(a.get()), "finishing an entry failed");
  };

  if (!zip) {
    // shutil.make_archive(..., "tar", root) adds the root itself as "./" first.
    struct stat st {};
    Entry root_entry{root, "", true, 0, 0755, 0};
    if (::stat(root.c_str(), &st) == 0) {
      root_entry.mtime = st.st_mtim.tv_sec;
    }
    write_entry("./", &root_entry);
  }
  for (const auto& entry : entries) {
    std::string name = (zip ? "" : "./") + entry.relative;
    if (entry.directory) {
      name += '/';
    }
    write_entry(name, &entry);
  }
  check(a.get(), archive_write_close(a.get()), "closing the archive failed");
  return out;
}

}  // namespace

std::optional<ArchiveFormat> parseArchiveFormat(std::string_view text) {
  if (text == "zip") {
    return ArchiveFormat::kZip;
  }
  if (text == "tar") {
    return ArchiveFormat::kTar;
  }
  if (text == "tgz") {
    return ArchiveFormat::kTgz;
  }
  return std::nullopt;
}

std::string_view toString(ArchiveFormat format) {
  switch (format) {
    case ArchiveFormat::kZip:
      return "zip";
    case ArchiveFormat::kTar:
      return "tar";
    case ArchiveFormat::kTgz:
      return "tgz";
  }
  return "tar";
}

void validateWbitsLevel(int wbits, int level) {
  const bool wbits_ok =
      (wbits >= -15 && wbits <= -9) || (wbits >= 9 && wbits <= 15) || (wbits >= 25 && wbits <= 31);
  if (!wbits_ok) {
    throw Error(ErrorKind::kUnitValidation,
                "Wbits " + std::to_string(wbits) +
                    " is not valid, allowed: -15..-9 (raw deflate), 9..15 (zlib), 25..31 (gzip)");
  }
  if (level < -1 || level > 9) {
    throw Error(ErrorKind::kUnitValidation,
                "Level " + std::to_string(level) + " is not valid, allowed: -1..9");
  }
}

std::string zlibCompress(std::string_view data, int wbits, int level) {
  validateWbitsLevel(wbits, level);
  Deflater deflater(wbits, level);
  z_stream* z = deflater.get();
  std::string out;
  out.reserve(data.size() / 2 + 64);
  const auto* next = reinterpret_cast<const Bytef*>(data.data());
  std::size_t left = data.size();
  constexpr std::size_t kChunk = 1 << 30;  // avail_in is a uInt
  char buffer[64 * 1024];
  int rc = Z_OK;
  do {
    const std::size_t take = std::min(left, kChunk);
    z->next_in = const_cast<Bytef*>(next);  // zlib's API is not const-correct
    z->avail_in = static_cast<uInt>(take);
    const int flush = take == left ? Z_FINISH : Z_NO_FLUSH;
    do {
      z->next_out = reinterpret_cast<Bytef*>(buffer);
      z->avail_out = sizeof buffer;
      rc = deflate(z, flush);
      if (rc == Z_STREAM_ERROR) {
        internalError("zlib deflate failed", "deflate returned Z_STREAM_ERROR");
      }
      out.append(buffer, sizeof buffer - z->avail_out);
    } while (z->avail_out == 0);
    next += take;
    left -= take;
  } while (left > 0);
  if (rc != Z_STREAM_END) {
    internalError("zlib deflate failed", "deflate did not reach the end of the stream");
  }
  return out;
}

std::string buildArchive(const fs::path& root_dir, ArchiveFormat format, int wbits, int level,
                         const ArchiveLimits& limits) {
  if (format == ArchiveFormat::kTgz) {
    validateWbitsLevel(wbits, level);
  }
  struct stat st {};
  if (::lstat(root_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    internalError("the firmware root is not a directory", root_dir.string());
  }
  const auto entries = TreeScanner(root_dir, limits).scan();
  std::string tar_or_zip = packWithLibarchive(root_dir, entries, format);
  if (format == ArchiveFormat::kTgz) {
    return zlibCompress(tar_or_zip, wbits, level);
  }
  return tar_or_zip;
}

void writeUnitFiles(const fs::path& dir, const nlohmann::ordered_json& env,
                    const nlohmann::ordered_json& schema) {
  auto write_one = [&dir](const char* name, const nlohmann::ordered_json& document) {
    const fs::path path = dir / name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        throw Error(ErrorKind::kGitRepoValidation,
                    std::string("The repo holds a directory named ") + name +
                        ", which the backend generates");
      }
      // Remove the repo's own file or symlink: opening it could write outside the tree.
      if (::unlink(path.c_str()) != 0) {
        internalError("cannot replace a generated file",
                      path.string() + ": " + std::strerror(errno));
      }
    }
    const std::string text = document.dump(4, ' ', /*ensure_ascii=*/true);
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (fd.get() < 0) {
      internalError("cannot write a generated file", path.string() + ": " + std::strerror(errno));
    }
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        internalError("cannot write a generated file", path.string() + ": " + std::strerror(errno));
      }
      done += static_cast<std::size_t>(n);
    }
  };
  write_one("env.json", env);
  write_one("schema.json", schema);
}

}  // namespace pepeunit::firmware
