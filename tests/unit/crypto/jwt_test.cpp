// HS256 JWT: exact bytes (header, compact ordered payload), a public vector, agreement with
// PyJWT and `openssl dgst -hmac`, and every rejection path with the right status.
#include "crypto/jwt.hpp"

#include <doctest/doctest.h>

#include <string>

#include "common/errors.hpp"
#include "crypto/base64.hpp"
#include "crypto/digest.hpp"
#include "unit/cli_support.hpp"

namespace pc = pepeunit::crypto;
namespace cli = pepeunit::testing::cli;
using nlohmann::ordered_json;

namespace {

constexpr std::string_view kKey = "super-secret-BACKEND_SECRET_KEY";
constexpr std::int64_t kNow = 1'700'000'000;
constexpr std::string_view kHeaderB64 = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

// A token with an arbitrary header, signed with HMAC-SHA256 regardless of what it claims.
std::string craft(std::string_view header, std::string_view payload, std::string_view key) {
  const std::string input = pc::base64UrlEncode(header) + "." + pc::base64UrlEncode(payload);
  return input + "." + pc::base64UrlEncode(pc::hmacSha256(key, input));
}

ordered_json unitPayload(const std::string& uuid) {
  ordered_json p;
  p["uuid"] = uuid;
  p["type"] = "Unit";
  return p;
}

pc::JwtStatus statusOf(const std::string& token, std::int64_t now = kNow) {
  return pc::verifyJwt(token, kKey, now).status;
}

}  // namespace

TEST_CASE("crypto: JWT unit token bytes are exactly the original's") {
  const std::string uuid = "0d9a4c2e-6c4f-4d8e-9b3a-2f1e5d7c8b6a";
  const std::string token = pc::signJwt(unitPayload(uuid), kKey);
  const auto first_dot = token.find('.');
  const auto last_dot = token.rfind('.');
  CHECK(token.substr(0, first_dot) == kHeaderB64);
  CHECK(pc::base64UrlDecode(token.substr(0, first_dot)) == R"({"alg":"HS256","typ":"JWT"})");
  // Devices look for the literal `"uuid":"` in the decoded payload.
  CHECK(pc::base64UrlDecode(token.substr(first_dot + 1, last_dot - first_dot - 1)) ==
        R"({"uuid":")" + uuid + R"(","type":"Unit"})");
  CHECK(token.find('=') == std::string::npos);

  const pc::JwtResult r = pc::verifyJwt(token, kKey, kNow);
  REQUIRE(r.ok());
  CHECK(r.payload["uuid"] == uuid);
  CHECK(r.payload["type"] == "Unit");
  CHECK(pc::verifyJwt(token, kKey).ok());  // no exp: never expires, whatever the clock says
}

TEST_CASE("crypto: JWT public vector (jwt.io example)") {
  ordered_json p;
  p["sub"] = "1234567890";
  p["name"] = "John Doe";
  p["iat"] = 1516239022;
  const std::string expected =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
      "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
      "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
  CHECK(pc::signJwt(p, "your-256-bit-secret") == expected);
  CHECK(pc::verifyJwt(expected, "your-256-bit-secret", kNow).ok());
}

TEST_CASE("crypto: JWT signature equals openssl dgst -sha256 -hmac over header.payload") {
  const cli::TempDir dir;
  const std::string token = pc::signJwt(unitPayload("u-1"), kKey);
  const std::string input = token.substr(0, token.rfind('.'));
  cli::writeFile(dir.file("input"), input);
  const auto r = cli::run("openssl dgst -sha256 -hmac '" + std::string(kKey) + "' -binary " +
                          dir.file("input"));
  REQUIRE(r.exit_code == 0);
  CHECK(r.output.size() == 32);
  CHECK(pc::base64UrlEncode(r.output) == token.substr(token.rfind('.') + 1));
}

TEST_CASE("crypto: JWT agrees with PyJWT byte for byte, both directions") {
  const cli::TempDir dir;
  cli::writeFile(dir.file("check_jwt.py"), R"PY(
import json, sys, jwt
key = sys.argv[1]
ours = open(sys.argv[2]).read().split('\n')
print(jwt.encode({"uuid": "abc-123", "type": "Unit"}, key, algorithm="HS256"))
print(jwt.encode({"uuid": "abc-123", "type": "User", "exp": 2000000000, "name": "Zoë"}, key,
                 algorithm="HS256"))
for token in ours:
    print(json.dumps(jwt.decode(token, key, algorithms=["HS256"]), sort_keys=True,
                     ensure_ascii=True))
)PY");
  ordered_json user;
  user["uuid"] = "abc-123";
  user["type"] = "User";
  user["exp"] = 2000000000;
  user["name"] = "Zoë";
  const std::string unit_token = pc::signJwt(unitPayload("abc-123"), kKey);
  const std::string user_token = pc::signJwt(user, kKey);
  cli::writeFile(dir.file("ours"), unit_token + "\n" + user_token);
  const auto r = cli::run("/usr/bin/python3 " + dir.file("check_jwt.py") + " '" +
                          std::string(kKey) + "' " + dir.file("ours"));
  REQUIRE(r.exit_code == 0);
  CHECK(r.output ==
        unit_token + "\n" + user_token + "\n" + R"({"type": "Unit", "uuid": "abc-123"})" + "\n" +
            R"({"exp": 2000000000, "name": "Zo\u00eb", "type": "User", "uuid": "abc-123"})" + "\n");
}

TEST_CASE("crypto: JWT exp: future ok, now or past expired, malformed invalid") {
  ordered_json p = unitPayload("u");
  p["exp"] = kNow + 1;
  const std::string token = pc::signJwt(p, kKey);
  CHECK(statusOf(token, kNow) == pc::JwtStatus::kOk);
  CHECK(statusOf(token, kNow + 1) == pc::JwtStatus::kExpired);  // PyJWT: exp <= now
  CHECK(statusOf(token, kNow + 100) == pc::JwtStatus::kExpired);
  CHECK(pc::verifyJwt(token, kKey, kNow + 100).payload.is_null());

  // An expired token with a bad signature is "invalid", not "expired".
  CHECK(pc::verifyJwt(token, "other key", kNow + 100).status == pc::JwtStatus::kInvalid);

  p["exp"] = static_cast<double>(kNow) + 10.5;
  CHECK(statusOf(pc::signJwt(p, kKey)) == pc::JwtStatus::kOk);
  p["exp"] = std::to_string(kNow + 10);
  CHECK(statusOf(pc::signJwt(p, kKey)) == pc::JwtStatus::kInvalid);
  p["exp"] = nullptr;
  CHECK(statusOf(pc::signJwt(p, kKey)) == pc::JwtStatus::kInvalid);
  p["exp"] = 18446744073709551615ULL;
  CHECK(statusOf(pc::signJwt(p, kKey)) == pc::JwtStatus::kOk);

  ordered_json n = unitPayload("u");
  n["nbf"] = kNow + 60;
  CHECK(statusOf(pc::signJwt(n, kKey)) == pc::JwtStatus::kInvalid);
  n["nbf"] = kNow;
  CHECK(statusOf(pc::signJwt(n, kKey)) == pc::JwtStatus::kOk);
}

TEST_CASE("crypto: JWT rejects other algorithms and bad headers") {
  const std::string payload = R"({"uuid":"u","type":"Unit"})";
  // Sanity: the crafting helper produces valid tokens with the right header.
  CHECK(statusOf(craft(R"({"alg":"HS256","typ":"JWT"})", payload, kKey)) == pc::JwtStatus::kOk);
  CHECK(statusOf(craft(R"({"alg":"HS256"})", payload, kKey)) == pc::JwtStatus::kOk);

  const std::string none_input =
      pc::base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." + pc::base64UrlEncode(payload);
  CHECK(statusOf(none_input + ".") == pc::JwtStatus::kInvalid);
  CHECK(statusOf(none_input) == pc::JwtStatus::kInvalid);
  for (const char* header :
       {R"({"alg":"none","typ":"JWT"})", R"({"alg":"HS512","typ":"JWT"})", R"({"alg":"HS384"})",
        R"({"alg":"RS256"})", R"({"alg":"hs256"})", R"({"typ":"JWT"})", R"({"alg":null})",
        R"({"alg":["HS256"]})", R"({"alg":"HS256","crit":["exp"]})", R"(["HS256"])", R"("HS256")",
        "not json", ""}) {
    CAPTURE(header);
    CHECK(statusOf(craft(header, payload, kKey)) == pc::JwtStatus::kInvalid);
  }
}

TEST_CASE("crypto: JWT rejects altered payload, wrong key and malformed tokens") {
  const std::string token = pc::signJwt(unitPayload("victim"), kKey);
  const auto d1 = token.find('.');
  const auto d2 = token.rfind('.');
  const std::string header = token.substr(0, d1);
  const std::string signature = token.substr(d2 + 1);

  const std::string forged_payload = pc::base64UrlEncode(R"({"uuid":"attacker","type":"Unit"})");
  CHECK(statusOf(header + "." + forged_payload + "." + signature) == pc::JwtStatus::kInvalid);
  CHECK(pc::verifyJwt(token, "wrong key", kNow).status == pc::JwtStatus::kInvalid);
  CHECK(pc::verifyJwt(token, "", kNow).status == pc::JwtStatus::kInvalid);

  std::string flipped = token;
  flipped[d2 + 5] = flipped[d2 + 5] == 'A' ? 'B' : 'A';
  CHECK(statusOf(flipped) == pc::JwtStatus::kInvalid);

  // Non-object payloads are refused even when correctly signed.
  CHECK(statusOf(craft(R"({"alg":"HS256","typ":"JWT"})", "[1,2]", kKey)) ==
        pc::JwtStatus::kInvalid);
  CHECK(statusOf(craft(R"({"alg":"HS256","typ":"JWT"})", "{broken", kKey)) ==
        pc::JwtStatus::kInvalid);

  for (const std::string& bad :
       {std::string(), std::string("."), std::string(".."), std::string("a.b"), token + ".",
        token + ".x", "." + token, token.substr(0, token.size() - 1), token + "=",
        header + "." + token.substr(d1 + 1, d2 - d1 - 1) + "." + signature.substr(0, 20),
        header + "." + token.substr(d1 + 1, d2 - d1 - 1) + "." +
            pc::base64Encode(pc::base64UrlDecode(signature).value()),
        " " + token, token + " "}) {
    CAPTURE(bad);
    CHECK(statusOf(bad) == pc::JwtStatus::kInvalid);
  }
}

TEST_CASE("crypto: JWT empty key still signs and verifies consistently; non-object refused") {
  const std::string token = pc::signJwt(unitPayload("u"), "");
  CHECK(pc::verifyJwt(token, "", kNow).ok());
  CHECK_FALSE(pc::verifyJwt(token, kKey, kNow).ok());
  CHECK_THROWS_AS((void)pc::signJwt(ordered_json::array({1, 2}), kKey), pepeunit::Error);
}
