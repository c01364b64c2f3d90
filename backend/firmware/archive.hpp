// Firmware archives (pepeunit_backend_spec.md §7.7, pepeunit_unit_protocol.md §3.3):
// a prepared directory (repo tree at the target commit minus .pepeignore, plus env.json and
// schema.json) packed as zip, tar or "tgz", in memory, with the files at the archive root.
//
// Layout, chosen to match what the original produced with Python's shutil.make_archive and what
// devices expect:
//  * tar: PAX (libarchive's restricted PAX: a plain ustar header unless a name or size needs an
//    extension), member names prefixed "./" ("./", "./main.py", "./lib/", "./lib/x.py"). The
//    2026 MicroPython client strips the first two characters of every name unconditionally, so
//    the prefix is part of the contract. MicroPython's tarfile reads only the 100-byte ustar name
//    field: keep firmware paths ASCII and under 100 bytes.
//  * zip: deflated, plain names ("main.py", "lib/", "lib/x.py"), no root entry.
//  * tgz: the tar passed through zlib deflate with windowBits = wbits (what Python's
//    zlib.compressobj(level, DEFLATED, wbits) does): 9..15 → zlib stream (the devices' default
//    wbits=9 is a 512-byte window), 25..31 → gzip, -15..-9 → raw deflate.
//
// Safety (DESIGN §5 invariant 4): only regular files and directories are packed; symlinks,
// devices, FIFOs and sockets are skipped, never followed; every packed file is opened with
// O_NOFOLLOW and must resolve inside the root; the total input size and entry count are capped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace pepeunit::firmware {

enum class ArchiveFormat { kZip, kTar, kTgz };

/// "zip", "tar", "tgz" (the path segment of /units/firmware/{format}/{uuid}).
std::optional<ArchiveFormat> parseArchiveFormat(std::string_view text);
std::string_view toString(ArchiveFormat format);

/// The router defaults of /units/firmware/tgz (what every client sends).
inline constexpr int kDefaultWbits = 9;
inline constexpr int kDefaultLevel = 9;

/// wbits ∈ {-15..-9, 9..15, 25..31}, level ∈ {-1..9}; else Error(ErrorKind::kUnitValidation)
/// (error 7) saying which value is wrong and what is allowed.
void validateWbitsLevel(int wbits, int level);

struct ArchiveLimits {
  /// Sum of the sizes of the packed files. Devices have kilobytes to megabytes of flash; a
  /// repo that needs more is hostile or mistaken. Sizes come from stat, so a sparse 200 MB
  /// file is refused before a byte of it is read.
  std::uint64_t max_input_bytes = std::uint64_t{64} << 20;
  /// Files plus directories.
  std::size_t max_entries = 10000;
};

/// Packs the tree under `root_dir`. `wbits`/`level` apply to kTgz only and are validated
/// (error 7) for it. Throws Error(ErrorKind::kGitRepoValidation) when the tree exceeds `limits`,
/// Error(ErrorKind::kInternal) on I/O or library failure (details in internal()).
std::string buildArchive(const std::filesystem::path& root_dir, ArchiveFormat format,
                         int wbits = kDefaultWbits, int level = kDefaultLevel,
                         const ArchiveLimits& limits = {});

/// zlib deflate of `data` with deflateInit2(level, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY),
/// i.e. Python's zlib.compressobj(level, zlib.DEFLATED, wbits).compress(data) + flush().
/// Validates wbits/level like validateWbitsLevel().
std::string zlibCompress(std::string_view data, int wbits, int level);

/// §7.7 step 3: writes `env.json` and `schema.json` into `dir`, each JSON indented by 4 with
/// non-ASCII escaped (Python's json.dumps(indent=4)). A file, or a symlink, of that name from
/// the repo is replaced, never written through; a directory of that name is an
/// Error(ErrorKind::kGitRepoValidation).
void writeUnitFiles(const std::filesystem::path& dir, const nlohmann::ordered_json& env,
                    const nlohmann::ordered_json& schema);

}  // namespace pepeunit::firmware
