// Firmware archives: zip, tar and tgz (several wbits and levels) unpacked by Debian's python3
// (zipfile, tarfile, zlib.decompressobj(wbits)) exactly as devices and the original's tests do;
// the tar headers as MicroPython reads them; hostile trees (symlinks out, FIFO, sparse giant
// file, too many entries); wbits/level validation; env.json/schema.json writing.
#include "firmware/archive.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "unit/cli_support.hpp"

namespace pf = pepeunit::firmware;
namespace fs = std::filesystem;
using pepeunit::Error;
using pepeunit::ErrorKind;
using pepeunit::testing::cli::readFile;
using pepeunit::testing::cli::run;
using pepeunit::testing::cli::TempDir;
using pepeunit::testing::cli::writeFile;

namespace {

constexpr const char* kPython = "/usr/bin/python3";

// Unpacks an archive the way the original's tests and the Python client do and prints what it
// found as JSON: member names (directories with a trailing '/'), file contents in hex, modes.
constexpr const char* kUnpackScript = R"PY(
import io, json, sys, tarfile, zipfile, zlib
path, fmt, wbits = sys.argv[1], sys.argv[2], int(sys.argv[3])
raw = open(path, 'rb').read()
out = {"names": [], "files": {}, "modes": {}}
if fmt == 'zip':
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        assert z.testzip() is None
        for info in z.infolist():
            out["names"].append(info.filename)
            if not info.is_dir():
                out["files"][info.filename] = z.read(info).hex()
else:
    data = raw
    if fmt == 'tgz':
        d = zlib.decompressobj(wbits)
        data = d.decompress(raw) + d.flush()
        assert d.eof and not d.unused_data, "trailing or truncated stream"
    with tarfile.open(fileobj=io.BytesIO(data), mode='r:') as t:
        for m in t.getmembers():
            name = m.name + '/' if m.isdir() else m.name
            out["names"].append(name)
            out["modes"][name] = m.mode
            if m.isreg():
                out["files"][name] = t.extractfile(m).read().hex()
            elif not m.isdir():
                out["files"][name] = "NOT A REGULAR FILE"
print(json.dumps(out))
)PY";

std::string hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// Deterministic incompressible bytes.
std::string noise(std::size_t n) {
  std::string out(n, '\0');
  std::uint32_t x = 2463534242u;
  for (auto& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x & 0xff);
  }
  return out;
}

// The firmware tree used by the round trips: relative path → contents.
std::map<std::string, std::string> sampleFiles() {
  std::string util;
  for (int i = 0; i < 2000; ++i) {
    util += "def f" + std::to_string(i) + "(): return " + std::to_string(i * 7) + "\n";
  }
  return {
      {"main.py", "print('hello')\n"},
      {"exec.sh", "#!/bin/sh\necho hi\n"},
      {"lib/util.py", util},
      {"lib/deep/data.bin", noise(30000)},
      {"spaced name.txt", "spaces are fine\n"},
      {"empty.txt", ""},
  };
}

fs::path makeTree(const TempDir& dir) {
  fs::path root = dir.file("firmware");
  for (const auto& [name, bytes] : sampleFiles()) {
    writeFile(root / name, bytes);
  }
  fs::create_directories(root / "empty");
  fs::permissions(root / "exec.sh",
                  fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                  fs::perm_options::add);
  return root;
}

nlohmann::json unpack(const TempDir& dir, const std::string& archive, const std::string& format,
                      int wbits) {
  const fs::path script = dir.file("unpack.py");
  const fs::path file = dir.file("archive.bin");
  writeFile(script, kUnpackScript);
  writeFile(file, archive);
  const auto result = run(std::string(kPython) + " '" + script.string() + "' '" + file.string() +
                          "' " + format + " " + std::to_string(wbits));
  REQUIRE_MESSAGE(result.exit_code == 0, "python3 could not unpack the " << format << " archive");
  return nlohmann::json::parse(result.output);
}

// The ustar name field and type flag of every header, read the way MicroPython's tarfile does
// (it ignores the prefix field and PAX records).
struct RawMember {
  std::string name;
  char type;
};

std::vector<RawMember> rawTarMembers(std::string_view tar) {
  std::vector<RawMember> members;
  std::size_t pos = 0;
  while (pos + 512 <= tar.size()) {
    const auto header = tar.substr(pos, 512);
    if (header.find_first_not_of('\0') == std::string_view::npos) {
      break;  // end-of-archive block
    }
    const auto name_field = header.substr(0, 100);
    const std::string name(name_field.substr(0, name_field.find('\0')));
    const std::string size_field(header.substr(124, 12));
    const auto size = std::stoull(size_field, nullptr, 8);
    members.push_back({name, header[156]});
    pos += 512 + (size + 511) / 512 * 512;
  }
  return members;
}

std::string errorMessage(const std::function<void()>& call, ErrorKind expected) {
  try {
    call();
  } catch (const Error& e) {
    CHECK(e.kind() == expected);
    return e.what();
  }
  FAIL("expected an Error");
  return {};
}

}  // namespace

TEST_CASE("firmware: validateWbitsLevel accepts exactly the original's ranges") {
  for (int wbits = -40; wbits <= 40; ++wbits) {
    const bool ok = (wbits >= -15 && wbits <= -9) || (wbits >= 9 && wbits <= 15) ||
                    (wbits >= 25 && wbits <= 31);
    CAPTURE(wbits);
    if (ok) {
      CHECK_NOTHROW(pf::validateWbitsLevel(wbits, 9));
    } else {
      const auto message =
          errorMessage([&] { pf::validateWbitsLevel(wbits, 9); }, ErrorKind::kUnitValidation);
      CHECK(message.find("Wbits " + std::to_string(wbits) + " is not valid") == 0);
    }
  }
  for (int level = -5; level <= 15; ++level) {
    CAPTURE(level);
    if (level >= -1 && level <= 9) {
      CHECK_NOTHROW(pf::validateWbitsLevel(9, level));
    } else {
      CHECK(errorMessage([&] { pf::validateWbitsLevel(9, level); }, ErrorKind::kUnitValidation) ==
            "Level " + std::to_string(level) + " is not valid, allowed: -1..9");
    }
  }
  // The original's own negative test: wbits 35, level 13.
  CHECK_THROWS_AS(pf::validateWbitsLevel(35, 9), Error);
  CHECK_THROWS_AS(pf::validateWbitsLevel(9, 13), Error);
}

TEST_CASE("firmware: archive formats parse and print") {
  // (Compared as strings: doctest cannot print an enum that has a toString overload.)
  for (const char* name : {"zip", "tar", "tgz"}) {
    const auto format = pf::parseArchiveFormat(name);
    REQUIRE(format.has_value());
    CHECK(pf::toString(*format) == name);
  }
  CHECK_FALSE(pf::parseArchiveFormat("gz").has_value());
  CHECK_FALSE(pf::parseArchiveFormat("TGZ").has_value());
  CHECK(pf::toString(pf::ArchiveFormat::kTgz) == "tgz");
}

TEST_CASE("firmware: zlibCompress framing follows wbits like Python's zlib.compressobj") {
  const std::string data(5000, 'x');
  const auto zlib9 = pf::zlibCompress(data, 9, 9);
  // CMF byte: CINFO = wbits - 8, CM = 8 (deflate). 9 → 0x18 (512-byte window), 15 → 0x78.
  CHECK(static_cast<unsigned char>(zlib9[0]) == 0x18);
  CHECK(static_cast<unsigned char>(pf::zlibCompress(data, 15, 9)[0]) == 0x78);
  const auto gzip = pf::zlibCompress(data, 31, 6);
  CHECK(static_cast<unsigned char>(gzip[0]) == 0x1f);
  CHECK(static_cast<unsigned char>(gzip[1]) == 0x8b);
  // Level 0 stores (bigger than the input), level 9 compresses.
  CHECK(pf::zlibCompress(data, -15, 0).size() > data.size());
  CHECK(pf::zlibCompress(data, -15, 9).size() < 100);
  CHECK(pf::zlibCompress("", 9, 9).size() > 0);  // a valid empty stream
  CHECK_THROWS_AS(pf::zlibCompress(data, 8, 9), Error);
}

TEST_CASE("firmware: zip, tar and tgz round-trip through Debian's python3") {
  if (::access(kPython, X_OK) != 0) {
    MESSAGE("Debian's python3 missing; skipping");
    return;
  }
  TempDir dir;
  const auto root = makeTree(dir);
  const auto files = sampleFiles();

  const std::vector<std::string> tar_names = {
      "./",        "./empty/",         "./empty.txt",         "./exec.sh",
      "./lib/",    "./lib/deep/",      "./lib/deep/data.bin", "./lib/util.py",
      "./main.py", "./spaced name.txt"};

  SUBCASE("zip: plain names at the root, deflated") {
    const auto archive = pf::buildArchive(root, pf::ArchiveFormat::kZip);
    CHECK(archive.substr(0, 4) == std::string("PK\x03\x04", 4));
    const auto got = unpack(dir, archive, "zip", 0);
    CHECK(got["names"].get<std::vector<std::string>>() ==
          std::vector<std::string>{"empty/", "empty.txt", "exec.sh", "lib/", "lib/deep/",
                                   "lib/deep/data.bin", "lib/util.py", "main.py",
                                   "spaced name.txt"});
    for (const auto& file : files) {
      CAPTURE(file.first);
      CHECK(got["files"][file.first] == hex(file.second));
    }
    // Really deflated (the text shrinks, the noise cannot), and no block padding.
    CHECK(archive.size() <
          files.at("lib/deep/data.bin").size() + files.at("lib/util.py").size() / 2);
    CHECK(archive.substr(archive.size() - 22, 4) == std::string("PK\x05\x06", 4));  // EOCD last
  }

  SUBCASE("tar: ./-prefixed names, modes, MicroPython-readable headers") {
    const auto archive = pf::buildArchive(root, pf::ArchiveFormat::kTar);
    const auto got = unpack(dir, archive, "tar", 0);
    CHECK(got["names"].get<std::vector<std::string>>() ==
          std::vector<std::string>{"./", "./empty/", "./empty.txt", "./exec.sh", "./lib/",
                                   "./lib/deep/", "./lib/deep/data.bin", "./lib/util.py",
                                   "./main.py", "./spaced name.txt"});
    for (const auto& file : files) {
      CAPTURE(file.first);
      CHECK(got["files"]["./" + file.first] == hex(file.second));
    }
    CHECK(got["modes"]["./exec.sh"] == 0755);
    CHECK(got["modes"]["./main.py"] == 0644);
    // As MicroPython sees it: plain ustar headers, no PAX records, every name "./"-prefixed
    // (the 2026 client strips name[2:] unconditionally).
    std::vector<std::string> raw_names;
    for (const auto& member : rawTarMembers(archive)) {
      CAPTURE(member.name);
      CHECK(member.name.rfind("./", 0) == 0);
      CHECK((member.type == '0' || member.type == '5'));
      raw_names.push_back(member.name);
    }
    CHECK(raw_names == tar_names);
  }

  SUBCASE("tgz at wbits 9, 15, 31, -15 and levels 0, 9") {
    for (int wbits : {9, 15, 31, -15}) {
      for (int level : {0, 9}) {
        CAPTURE(wbits);
        CAPTURE(level);
        const auto archive = pf::buildArchive(root, pf::ArchiveFormat::kTgz, wbits, level);
        const auto got = unpack(dir, archive, "tgz", wbits);
        CHECK(got["names"].size() == tar_names.size());
        for (const auto& file : files) {
          CAPTURE(file.first);
          CHECK(got["files"]["./" + file.first] == hex(file.second));
        }
      }
    }
    // The default (what every device asks for) is a zlib stream with a 512-byte window.
    const auto archive = pf::buildArchive(root, pf::ArchiveFormat::kTgz);
    CHECK(static_cast<unsigned char>(archive[0]) == 0x18);
  }

  SUBCASE("tgz rejects bad wbits/level with error 7 before touching the tree") {
    CHECK(errorMessage([&] { pf::buildArchive(root, pf::ArchiveFormat::kTgz, 35, 9); },
                       ErrorKind::kUnitValidation)
              .find("Wbits 35 is not valid") == 0);
    CHECK(
        errorMessage([&] { pf::buildArchive(dir.file("missing"), pf::ArchiveFormat::kTgz, 9, 13); },
                     ErrorKind::kUnitValidation) == "Level 13 is not valid, allowed: -1..9");
    // zip and tar ignore wbits/level, as in the original.
    CHECK_NOTHROW(pf::buildArchive(root, pf::ArchiveFormat::kTar, 35, 13));
  }
}

TEST_CASE("firmware: hostile trees: symlinks and FIFOs are skipped, never followed") {
  TempDir dir;
  const fs::path root = dir.file("firmware");
  const fs::path outside = dir.file("outside");
  writeFile(outside / "secret.txt", "TOP SECRET");
  writeFile(root / "main.py", "ok");
  fs::create_symlink(outside / "secret.txt", root / "leak.txt");
  fs::create_symlink(outside, root / "leak_dir");
  fs::create_symlink("/etc/passwd", root / "passwd");
  fs::create_symlink("main.py", root / "inside_link.py");
  fs::create_symlink("../../..", root / "up");
  REQUIRE(::mkfifo((root / "pipe").c_str(), 0600) == 0);

  for (auto format : {pf::ArchiveFormat::kTar, pf::ArchiveFormat::kZip}) {
    const auto archive = pf::buildArchive(root, format);
    CHECK(archive.find("TOP SECRET") == std::string::npos);
    CHECK(archive.find("root:") == std::string::npos);
    CHECK(archive.find("leak") == std::string::npos);
    CHECK(archive.find("pipe") == std::string::npos);
    CHECK(archive.find("main.py") != std::string::npos);
  }
  std::vector<std::string> names;
  for (const auto& member : rawTarMembers(pf::buildArchive(root, pf::ArchiveFormat::kTar))) {
    names.push_back(member.name);
  }
  CHECK(names == std::vector<std::string>{"./", "./main.py"});
}

TEST_CASE("firmware: size and entry limits give a clear error") {
  TempDir dir;
  const fs::path root = dir.file("firmware");
  writeFile(root / "main.py", "0123456789");  // 10 bytes

  SUBCASE("a sparse 200 MB file is refused without being read") {
    writeFile(root / "huge.bin", "");
    fs::resize_file(root / "huge.bin", std::uintmax_t{200} << 20);
    const auto message = errorMessage([&] { pf::buildArchive(root, pf::ArchiveFormat::kTgz); },
                                      ErrorKind::kGitRepoValidation);
    CHECK(message.find("The firmware is too large") == 0);
    CHECK(message.find(std::to_string(std::uint64_t{64} << 20)) != std::string::npos);
    CHECK(message.find("huge.bin") != std::string::npos);
  }

  SUBCASE("the byte limit is inclusive") {
    pf::ArchiveLimits limits;
    limits.max_input_bytes = 10;
    CHECK_NOTHROW(pf::buildArchive(root, pf::ArchiveFormat::kTar, 9, 9, limits));
    writeFile(root / "one_more", "x");
    CHECK(errorMessage([&] { pf::buildArchive(root, pf::ArchiveFormat::kTar, 9, 9, limits); },
                       ErrorKind::kGitRepoValidation)
              .find("too large") != std::string::npos);
  }

  SUBCASE("too many entries") {
    pf::ArchiveLimits limits;
    limits.max_entries = 3;
    writeFile(root / "a", "");
    writeFile(root / "b", "");
    CHECK_NOTHROW(pf::buildArchive(root, pf::ArchiveFormat::kZip, 9, 9, limits));
    writeFile(root / "c", "");
    CHECK(errorMessage([&] { pf::buildArchive(root, pf::ArchiveFormat::kZip, 9, 9, limits); },
                       ErrorKind::kGitRepoValidation) ==
          "The firmware has too many files: more than 3");
  }

  SUBCASE("the root must be a real directory") {
    fs::create_symlink(root, dir.file("root_link"));
    CHECK(errorMessage([&] { pf::buildArchive(dir.file("root_link"), pf::ArchiveFormat::kTar); },
                       ErrorKind::kInternal)
              .find("not a directory") != std::string::npos);
    CHECK_THROWS_AS(pf::buildArchive(dir.file("missing"), pf::ArchiveFormat::kTar), Error);
  }
}

TEST_CASE("firmware: writeUnitFiles writes indented JSON and never writes through a symlink") {
  TempDir dir;
  const fs::path root = dir.file("firmware");
  fs::create_directories(root);
  const fs::path victim = dir.file("victim.txt");
  writeFile(victim, "original");
  fs::create_symlink(victim, root / "env.json");  // a hostile repo's env.json
  writeFile(root / "schema.json", "stale");

  const auto env = nlohmann::ordered_json::parse(R"({"B": 1, "A": "temp\u00b0", "C": [1, 2]})");
  const auto schema =
      nlohmann::ordered_json::parse(R"({"input_topic": {}, "output_topic": {"x": ["d/u"]}})");
  pf::writeUnitFiles(root, env, schema);

  CHECK(readFile(victim) == "original");
  CHECK_FALSE(fs::is_symlink(root / "env.json"));
  CHECK(readFile(root / "env.json") ==
        "{\n    \"B\": 1,\n    \"A\": \"temp\\u00b0\",\n    \"C\": [\n        1,\n        2\n"
        "    ]\n}");
  CHECK(readFile(root / "schema.json") ==
        "{\n    \"input_topic\": {},\n    \"output_topic\": {\n        \"x\": [\n"
        "            \"d/u\"\n        ]\n    }\n}");

  // Python's json.dumps(indent=4) writes the same text.
  if (::access(kPython, X_OK) == 0) {
    const fs::path script = dir.file("dump.py");
    writeFile(script,
              "import json\nprint(json.dumps(json.loads('{\"B\": 1, \"A\": \"temp\\\\u00b0\", "
              "\"C\": [1, 2]}'), indent=4), end='')\n");
    CHECK(run(std::string(kPython) + " '" + script.string() + "'").output ==
          readFile(root / "env.json"));
  }

  fs::remove(root / "schema.json");
  fs::create_directories(root / "schema.json");
  CHECK(errorMessage([&] { pf::writeUnitFiles(root, env, schema); }, ErrorKind::kGitRepoValidation)
            .find("directory named schema.json") != std::string::npos);
}

TEST_CASE("firmware: UTF-8 names survive; names that are not UTF-8 are a clear error") {
  if (::access(kPython, X_OK) != 0) {
    MESSAGE("Debian's python3 missing; skipping");
    return;
  }
  TempDir dir;
  const fs::path root = dir.file("firmware");
  writeFile(root / "temp\xc2\xb0.py", "deg");
  const auto zip = unpack(dir, pf::buildArchive(root, pf::ArchiveFormat::kZip), "zip", 0);
  CHECK(zip["files"]["temp\xc2\xb0.py"] == hex("deg"));
  const auto tar = unpack(dir, pf::buildArchive(root, pf::ArchiveFormat::kTar), "tar", 0);
  CHECK(tar["files"]["./temp\xc2\xb0.py"] == hex("deg"));

  writeFile(root / "sub/bad\xff.py", "x");
  for (auto format : {pf::ArchiveFormat::kZip, pf::ArchiveFormat::kTar, pf::ArchiveFormat::kTgz}) {
    CHECK(errorMessage([&] { pf::buildArchive(root, format); }, ErrorKind::kGitRepoValidation) ==
          "The firmware has a file name that is not valid UTF-8: 'sub/bad?.py'");
  }
}
