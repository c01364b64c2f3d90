// CSPRNG helpers: sizes, alphabets and that consecutive draws differ.
#include "crypto/random.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "crypto/base64.hpp"

namespace pc = pepeunit::crypto;

TEST_CASE("crypto: randomBytes sizes and freshness") {
  CHECK(pc::randomBytes(0).empty());
  CHECK(pc::randomBytes(1).size() == 1);
  CHECK(pc::randomBytes(100000).size() == 100000);
  CHECK(pc::randomBytes(32) != pc::randomBytes(32));
}

TEST_CASE("crypto: randomToken is unpadded base64url of n bytes") {
  const std::string token = pc::randomToken(32);
  CHECK(token.size() == 43);
  CHECK(token.find_first_of("+/=") == std::string::npos);
  CHECK(pc::base64UrlDecode(token).value().size() == 32);
  CHECK(pc::randomToken(32) != token);
}

TEST_CASE("crypto: randomAlphanumeric uses exactly [A-Za-z0-9]") {
  CHECK(pc::randomAlphanumeric(0).empty());
  const std::string code = pc::randomAlphanumeric(8);
  CHECK(code.size() == 8);
  const std::string many = pc::randomAlphanumeric(20000);
  CHECK(many.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") ==
        std::string::npos);
  // 20000 draws over 62 symbols: every symbol shows up (a miss has probability ~1e-138).
  CHECK(std::set<char>(many.begin(), many.end()).size() == 62);
}
