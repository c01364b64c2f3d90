// Password hashing: published PBKDF2-HMAC-SHA256 vectors and byte-for-byte agreement with the
// original's Python formula (hashlib.pbkdf2_hmac + base64.b64encode).
#include "crypto/password.hpp"

#include <doctest/doctest.h>

#include <string>

#include "common/errors.hpp"
#include "crypto/base64.hpp"
#include "crypto/digest.hpp"
#include "unit/cli_support.hpp"

namespace pc = pepeunit::crypto;
namespace cli = pepeunit::testing::cli;

TEST_CASE("crypto: PBKDF2-HMAC-SHA256 RFC 7914 §11 test vector") {
  // P="passwd", S="salt", c=1, dkLen=64.
  CHECK(pc::toHex(pc::pbkdf2HmacSha256("passwd", "salt", 1, 64)) ==
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
}

TEST_CASE("crypto: PBKDF2-HMAC-SHA256 widely published vectors (P=password, S=salt)") {
  CHECK(pc::toHex(pc::pbkdf2HmacSha256("password", "salt", 1, 32)) ==
        "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
  CHECK(pc::toHex(pc::pbkdf2HmacSha256("password", "salt", 2, 32)) ==
        "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43");
  CHECK(pc::toHex(pc::pbkdf2HmacSha256("password", "salt", 4096, 32)) ==
        "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
}

TEST_CASE("crypto: PBKDF2 rejects nonsensical parameters") {
  CHECK_THROWS_AS((void)pc::pbkdf2HmacSha256("p", "s", 0, 32), pepeunit::Error);
  CHECK_THROWS_AS((void)pc::pbkdf2HmacSha256("p", "s", 1, 0), pepeunit::Error);
}

TEST_CASE("crypto: hashPassword matches the original Python formula") {
  // The spec's formula verbatim, including non-ASCII password and static salt.
  const cli::TempDir dir;
  cli::writeFile(dir.file("hash.py"), R"PY(
import base64, hashlib, sys
password, dyn, static = (open(p, encoding='utf-8').read() for p in sys.argv[1:4])
dk = hashlib.pbkdf2_hmac('sha256', password.encode('utf-8'), (dyn + static).encode('utf-8'),
                         100000, dklen=32)
sys.stdout.write(base64.b64encode(dk).decode('utf-8'))
)PY");
  const std::string password = "Pässw0rd with spaces & ünïcode";
  const std::string dyn = pc::newDynamicSalt();
  const std::string static_salt = "static-salt-ÄÖ";
  cli::writeFile(dir.file("p"), password);
  cli::writeFile(dir.file("d"), dyn);
  cli::writeFile(dir.file("s"), static_salt);
  const auto r = cli::run("/usr/bin/python3 " + dir.file("hash.py") + " " + dir.file("p") + " " +
                          dir.file("d") + " " + dir.file("s"));
  REQUIRE(r.exit_code == 0);
  const std::string hash = pc::hashPassword(password, dyn, static_salt);
  CHECK(hash == r.output);
  CHECK(hash.size() == 44);  // base64 of 32 bytes
  CHECK(pc::base64Decode(hash).value().size() == 32);
}

TEST_CASE("crypto: hashPassword concatenates the salts as text and honours iterations") {
  const std::string raw = pc::pbkdf2HmacSha256("pw", "dynstatic", 3, 32);
  CHECK(pc::hashPassword("pw", "dyn", "static", 3) == pc::base64Encode(raw));
  CHECK(pc::hashPassword("pw", "dyn", "static", 3) != pc::hashPassword("pw", "dyn", "static", 4));
}

TEST_CASE("crypto: newDynamicSalt is base64 of 16 fresh random bytes") {
  const std::string a = pc::newDynamicSalt();
  const std::string b = pc::newDynamicSalt();
  CHECK(a.size() == 24);
  CHECK(pc::base64Decode(a).value().size() == 16);
  CHECK(a != b);
}

TEST_CASE("crypto: verifyPassword") {
  const std::string dyn = pc::newDynamicSalt();
  const std::string hash = pc::hashPassword("correct horse", dyn, "pepper", 1000);
  CHECK(pc::verifyPassword("correct horse", dyn, "pepper", hash, 1000));
  CHECK_FALSE(pc::verifyPassword("correct horsf", dyn, "pepper", hash, 1000));
  CHECK_FALSE(pc::verifyPassword("correct horse", pc::newDynamicSalt(), "pepper", hash, 1000));
  CHECK_FALSE(pc::verifyPassword("correct horse", dyn, "salt", hash, 1000));
  CHECK_FALSE(pc::verifyPassword("correct horse", dyn, "pepper", hash.substr(1), 1000));
  CHECK_FALSE(pc::verifyPassword("correct horse", dyn, "pepper", "", 1000));
  // Default iterations are the spec's 100000.
  const std::string full = pc::hashPassword("pw", dyn, "pepper");
  CHECK(full == pc::base64Encode(pc::pbkdf2HmacSha256("pw", dyn + "pepper", 100000, 32)));
  CHECK(pc::verifyPassword("pw", dyn, "pepper", full));
}
