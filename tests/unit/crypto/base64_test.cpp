// base64 / base64url: RFC 4648 §10 vectors, strictness on malformed input, round trips.
#include "crypto/base64.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

namespace pc = pepeunit::crypto;

namespace {

// RFC 4648 §10.
const std::vector<std::pair<std::string, std::string>>& rfcVectors() {
  static const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  return vectors;
}

std::string allBytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) {
    s.push_back(static_cast<char>(i));
  }
  return s;
}

}  // namespace

TEST_CASE("crypto: base64 RFC 4648 test vectors") {
  for (const auto& vector : rfcVectors()) {
    const std::string& plain = vector.first;
    const std::string& encoded = vector.second;
    CAPTURE(plain);
    CHECK(pc::base64Encode(plain) == encoded);
    const auto decoded = pc::base64Decode(encoded);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == plain);
  }
}

TEST_CASE("crypto: base64url RFC 4648 vectors without padding") {
  for (const auto& vector : rfcVectors()) {
    const std::string& plain = vector.first;
    const std::string& encoded = vector.second;
    std::string unpadded = encoded;
    while (!unpadded.empty() && unpadded.back() == '=') {
      unpadded.pop_back();
    }
    CAPTURE(plain);
    CHECK(pc::base64UrlEncode(plain) == unpadded);
    const auto decoded = pc::base64UrlDecode(unpadded);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == plain);
  }
}

TEST_CASE("crypto: base64 alphabets differ only in the two symbol characters") {
  const std::string bytes = "\xfb\xff\xbf";
  CHECK(pc::base64Encode(bytes) == "+/+/");
  CHECK(pc::base64UrlEncode(bytes) == "-_-_");
  CHECK(pc::base64UrlDecode("-_-_") == bytes);
  CHECK(pc::base64Decode("+/+/") == bytes);
  // Each decoder refuses the other's alphabet.
  CHECK_FALSE(pc::base64Decode("-_-_").has_value());
  CHECK_FALSE(pc::base64UrlDecode("+/+/").has_value());
}

TEST_CASE("crypto: base64 decode rejects malformed input") {
  const std::vector<std::string> bad = {
      "Zg=",          // length not a multiple of 4
      "Zg",           // missing padding
      "Z===",         // three pad characters
      "====",         // only padding
      "Zg==Zg==",     // padding in the middle
      "Z=g=",         // padding before data
      "Zm9v\n",       // whitespace
      "Zm 9",         // inner space
      " Zm9v",        // leading space
      "Zm9v.",        // foreign character
      "Zh==",         // non-canonical: unused bits set (decodes to "f" leniently)
      "Zm9=",         // non-canonical: unused bits set (decodes to "fo" leniently)
      "Zm9\xc3\xa9",  // non-ASCII
  };
  for (const auto& text : bad) {
    CAPTURE(text);
    CHECK_FALSE(pc::base64Decode(text).has_value());
  }
  CHECK_FALSE(pc::base64Decode(std::string("Zm\0v", 4)).has_value());
}

TEST_CASE("crypto: base64url decode rejects malformed input") {
  const std::vector<std::string> bad = {
      "Zg==",  // padding is not used in JWT segments
      "Z",     // impossible length (one leftover character)
      "Zm9vY", "Zm+v", "Zm/v", "Zm9v ", "Zh", "Zm9",
  };
  for (const auto& text : bad) {
    CAPTURE(text);
    CHECK_FALSE(pc::base64UrlDecode(text).has_value());
  }
  CHECK(pc::base64UrlDecode("").value() == "");
}

TEST_CASE("crypto: base64 round trips every byte value at every length remainder") {
  const std::string bytes = allBytes();
  for (size_t len = 0; len <= bytes.size(); len += 37) {
    for (size_t extra = 0; extra < 3 && len + extra <= bytes.size(); ++extra) {
      const std::string slice = bytes.substr(0, len + extra);
      CAPTURE(slice.size());
      CHECK(pc::base64Decode(pc::base64Encode(slice)) == slice);
      CHECK(pc::base64UrlDecode(pc::base64UrlEncode(slice)) == slice);
    }
  }
  CHECK(pc::base64Decode(pc::base64Encode(bytes)) == bytes);
}
