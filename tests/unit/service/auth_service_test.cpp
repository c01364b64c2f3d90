// Token validation order and messages (spec §3.1), against an in-memory principal store.
#include "service/auth_service.hpp"

#include <doctest/doctest.h>

#include "common/errors.hpp"
#include "crypto/base64.hpp"
#include "crypto/jwt.hpp"
#include "fakes/fake_principal_store.hpp"

using pepeunit::Error;
using pepeunit::domain::Role;
using pepeunit::domain::UserStatus;
using pepeunit::domain::Uuid;
using pepeunit::service::AuthService;

namespace {

constexpr const char* kSecret = "unit-test-secret-0123456789abcdef";
constexpr std::int64_t kNow = 1'800'000'000;

std::string failure(const AuthService& auth, const std::string& token) {
  try {
    auth.authenticate(token);
  } catch (const Error& e) {
    return e.detail();
  }
  return "accepted";
}

}  // namespace

TEST_CASE("auth: tokens map to callers with the original's messages") {
  pepeunit::fakes::FakePrincipalStore store;
  const auto admin = *Uuid::parse("11111111-1111-4111-8111-111111111111");
  const auto blocked = *Uuid::parse("22222222-2222-4222-8222-222222222222");
  const auto unit = *Uuid::parse("33333333-3333-4333-8333-333333333333");
  const auto ghost = *Uuid::parse("44444444-4444-4444-8444-444444444444");
  store.users[admin] = {Role::kAdmin, UserStatus::kVerified};
  store.users[blocked] = {Role::kUser, UserStatus::kBlocked};
  store.units.insert(unit);
  std::int64_t now = kNow;
  AuthService auth(kSecret, 3600, store, [&] { return now; });

  CHECK(auth.authenticate(std::nullopt).isBot());

  const auto principal = auth.authenticate(auth.issueUserToken(admin));
  CHECK(principal.isAdmin());
  CHECK(principal.uuid == admin);

  const auto unit_token = auth.issueUnitToken(unit);
  CHECK(auth.authenticate(unit_token).isUnit());
  // Devices read the uuid literally from the compact payload.
  const auto payload =
      unit_token.substr(unit_token.find('.') + 1, unit_token.rfind('.') - unit_token.find('.') - 1);
  CHECK(*pepeunit::crypto::base64UrlDecode(payload) ==
        R"({"uuid":"33333333-3333-4333-8333-333333333333","type":"Unit"})");
  CHECK(auth.issueUnitToken(unit) == unit_token);  // deterministic

  CHECK(failure(auth, auth.issueUserToken(blocked)) == "1: No Access: User is Blocked");
  CHECK(failure(auth, auth.issueUserToken(ghost)) == "1: No Access: User not found");
  CHECK(failure(auth, auth.issueUnitToken(ghost)) == "1: No Access: Agent not found");
  CHECK(failure(auth, "garbage") == "1: No Access: Token is invalid");
  CHECK(failure(auth, "") == "1: No Access: Token is invalid");

  AuthService other("another-secret-key-0123456789abcd", 3600, store, [&] { return now; });
  CHECK(failure(auth, other.issueUserToken(admin)) == "1: No Access: Token is invalid");

  const auto token = auth.issueUserToken(admin);
  now += 3601;
  CHECK(failure(auth, token) == "1: No Access: Token expired");
}

TEST_CASE("auth: tokens without a usable type or uuid are invalid") {
  pepeunit::fakes::FakePrincipalStore store;
  AuthService auth(kSecret, 3600, store, [] { return kNow; });
  using J = nlohmann::ordered_json;
  const J backend = {{"domain", "d"}, {"type", "Backend"}, {"exp", kNow + 100}};
  const J no_type = {{"uuid", "11111111-1111-4111-8111-111111111111"}};
  const J bad_uuid = {{"uuid", "not-a-uuid"}, {"type", "User"}};
  const J numeric_uuid = {{"uuid", 5}, {"type", "Unit"}};
  for (const auto& claims : {backend, no_type, bad_uuid, numeric_uuid}) {
    CAPTURE(claims.dump());
    CHECK(failure(auth, pepeunit::crypto::signJwt(claims, kSecret)) ==
          "1: No Access: Token is invalid");
  }
  // alg "none" with an empty signature.
  const std::string none = pepeunit::crypto::base64UrlEncode(R"({"alg":"none","typ":"JWT"})") +
                           "." + pepeunit::crypto::base64UrlEncode(no_type.dump()) + ".";
  CHECK(failure(auth, none) == "1: No Access: Token is invalid");
}

TEST_CASE("auth: subject facts are remembered briefly and forgotten on demand") {
  pepeunit::fakes::FakePrincipalStore store;
  const auto user = *Uuid::parse("55555555-5555-4555-8555-555555555555");
  const auto unit = *Uuid::parse("66666666-6666-4666-8666-666666666666");
  store.users[user] = {Role::kUser, UserStatus::kVerified};
  store.units.insert(unit);
  std::int64_t now = kNow;
  AuthService auth(kSecret, 3600, store, [&] { return now; });
  const auto user_token = auth.issueUserToken(user);
  const auto unit_token = auth.issueUnitToken(unit);
  REQUIRE(auth.authenticate(user_token).isUser());
  REQUIRE(auth.authenticate(unit_token).isUnit());

  // Blocked and deleted in the store behind the service's back: remembered for a moment...
  store.users[user].status = UserStatus::kBlocked;
  store.units.erase(unit);
  CHECK(auth.authenticate(user_token).isUser());
  CHECK(auth.authenticate(unit_token).isUnit());
  // ...until the remembered facts expire,
  now += 2;
  CHECK(failure(auth, user_token) == "1: No Access: User is Blocked");
  CHECK(failure(auth, unit_token) == "1: No Access: Agent not found");

  // ...or at once when the change goes through the service that made it.
  store.users[user].status = UserStatus::kVerified;
  REQUIRE(auth.authenticate(user_token).isUser());
  store.users[user].status = UserStatus::kBlocked;
  auth.forget(user);
  CHECK(failure(auth, user_token) == "1: No Access: User is Blocked");

  // A forged token never benefits from what was remembered about its subject.
  store.users[user].status = UserStatus::kVerified;
  REQUIRE(auth.authenticate(user_token).isUser());
  AuthService other("another-secret-key-0123456789abcd", 3600, store, [&] { return now; });
  CHECK(failure(auth, other.issueUserToken(user)) == "1: No Access: Token is invalid");
}
