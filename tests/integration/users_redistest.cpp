// Users (§2.1) and login throttling over real HTTP against the running backend with real
// PostgreSQL and Redis: every endpoint's success path and the failure paths of issue 3's
// acceptance list, each asserting the status and the exact `detail` text.
//
// Two backends: a shared one for the functional cases (its throttle limit raised so that the
// wrong passwords of one case cannot lock out the next; all requests come from 127.0.0.1), and a
// private one with 3 failures per 2 s window for the throttling case.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cache/redis/redis_client.hpp"
#include "crypto/base64.hpp"
#include "crypto/digest.hpp"
#include "crypto/jwt.hpp"
#include "integration/harness/http_client.hpp"
#include "integration/harness/stack.hpp"
#include "integration/harness/wait.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using pepeunit::testing::HttpClient;
using pepeunit::testing::HttpHeaders;
using pepeunit::testing::HttpResponse;
using pepeunit::testing::Stack;

namespace {

constexpr const char* kApi = "/pepeunit/api/v1";
constexpr const char* kPassword = "Pass-word_123";
constexpr const char* kNotAllowed =
    "1: No Access: The current user role is not in the list of available roles";
constexpr const char* kNoObject = "2: Validation Error: The object does not exist";
constexpr const char* kBadLogin = "3: User Validation Error: Login is not correct";
constexpr const char* kBadPassword = "3: User Validation Error: Password is not correct";
constexpr const char* kBadUuidPath =
    "2: Validation Error: Path parameter 'uuid' is not a valid UUID";

std::int64_t nowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string api(const std::string& path) {
  return kApi + path;
}

/// Percent-encodes everything but RFC 3986 unreserved characters (httplib passes '%' through).
std::string urlEncode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

HttpHeaders auth(const std::string& token) {
  return {{"x-auth-token", token}};
}

std::string sha256Hex(const std::string& text) {
  return pepeunit::crypto::toHex(pepeunit::crypto::sha256(text));
}

/// A registered user: its UserRead as returned by POST /users, and a token from POST /users/auth.
struct Account {
  json read;
  std::string token;
  std::string uuid() const { return read["uuid"].get<std::string>(); }
};

Account registerAndLogin(HttpClient& http, const std::string& login,
                         const std::string& password = kPassword) {
  const auto created = http.post(api("/users"), json{{"login", login}, {"password", password}});
  if (created.status != 201) {
    throw std::runtime_error("POST /users " + login + ": " + std::to_string(created.status) + " " +
                             created.body);
  }
  const auto token =
      http.post(api("/users/auth"), json{{"credentials", login}, {"password", password}});
  if (token.status != 200) {
    throw std::runtime_error("POST /users/auth " + login + ": " + std::to_string(token.status) +
                             " " + token.body);
  }
  return {created.json(), token.json()["token"].get<std::string>()};
}

/// The shared backend. Its first two registrations happen here, before any test case runs, so
/// "the first user is Admin" holds whatever subset of cases is selected.
struct SharedBackend {
  Stack stack{Stack::Options::withEnv({{"BACKEND_LOGIN_MAX_FAILURES", "1000"}})};
  HttpClient http{"127.0.0.1", stack.backend().port()};
  Account admin = registerAndLogin(http, "first_admin");
  Account user = registerAndLogin(http, "second_user");

  std::string secret() const { return stack.backendEnv().at("BACKEND_SECRET_KEY"); }
};

SharedBackend& shared() {
  static SharedBackend instance;
  return instance;
}

std::string signedUserToken(const std::string& uuid, std::int64_t exp, const std::string& key) {
  nlohmann::ordered_json claims;
  claims["uuid"] = uuid;
  claims["type"] = "User";
  claims["exp"] = exp;
  return pepeunit::crypto::signJwt(claims, key);
}

json listUsers(HttpClient& http, const std::string& token, const std::string& query) {
  const auto response = http.get(api("/users") + (query.empty() ? "" : "?" + query), auth(token));
  if (response.status != 200) {
    throw std::runtime_error("GET /users?" + query + ": " + std::to_string(response.status) + " " +
                             response.body);
  }
  return response.json();
}

std::vector<std::string> logins(const json& page) {
  std::vector<std::string> out;
  for (const auto& user : page["users"]) {
    out.push_back(user["login"].get<std::string>());
  }
  return out;
}

}  // namespace

TEST_CASE("users: the first user is Admin, the second User; UserRead has the original shape") {
  auto& env = shared();
  const auto& admin = env.admin.read;
  const auto& user = env.user.read;
  CHECK(admin["role"] == "Admin");
  CHECK(user["role"] == "User");
  for (const auto* read : {&admin, &user}) {
    CHECK(read->size() == 5);
    CHECK((*read)["status"] == "Unverified");
    CHECK(std::regex_match(
        (*read)["uuid"].get<std::string>(),
        std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")));
    CHECK(std::regex_match((*read)["create_datetime"].get<std::string>(),
                           std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?)")));
  }
  CHECK(admin["login"] == "first_admin");
  CHECK(user["login"] == "second_user");

  // GET /users/{uuid} returns the same UserRead, to Users and Admins alike.
  const auto got = env.http.get(api("/users/" + env.admin.uuid()), auth(env.user.token));
  REQUIRE(got.status == 200);
  CHECK(got.json() == admin);
  const auto got_user = env.http.get(api("/users/" + env.user.uuid()), auth(env.admin.token));
  REQUIRE(got_user.status == 200);
  CHECK(got_user.json() == user);
}

TEST_CASE("users: registration refuses duplicates, bad names and passwords, and token holders") {
  auto& env = shared();
  auto& http = env.http;
  const auto create = [&](const json& body, const HttpHeaders& headers = {}) {
    return http.post(api("/users"), body, headers);
  };

  const auto duplicate = create({{"login", "second_user"}, {"password", kPassword}});
  CHECK(duplicate.status == 422);
  CHECK(detail(duplicate) == "3: User Validation Error: Login is not unique");

  // Length and charset, SQL metacharacters included: rejected literally, never an SQL error.
  const std::vector<std::string> bad_logins = {
      "abc",     std::string(21, 'n'), "with space",  "o'neil",   "x'; DROP TABLE users; --",
      "50%_off", "semi;colon",         "back\\slash", "dq\"uote", "кириллица",
      ""};
  for (const auto& login : bad_logins) {
    CAPTURE(login);
    const auto response = create({{"login", login}, {"password", kPassword}});
    CHECK(response.status == 422);
    CHECK(detail(response) == kBadLogin);
  }
  const std::vector<std::string> bad_passwords = {"Short-1", std::string(101, 'p'), "has a space 1",
                                                  "päss-word-1", "tab\tpassword"};
  for (const auto& password : bad_passwords) {
    CAPTURE(password);
    const auto response = create({{"login", "valid_login"}, {"password", password}});
    CHECK(response.status == 422);
    CHECK(detail(response) == kBadPassword);
  }
  // The limits themselves are fine; punctuation is allowed in passwords.
  CHECK(create({{"login", "abcd"}, {"password", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"}}).status ==
        201);
  CHECK(create({{"login", std::string(20, 'z')}, {"password", std::string(100, 'p')}}).status ==
        201);

  const auto missing = create({{"login", "no_password"}});
  CHECK(missing.status == 422);
  CHECK(detail(missing) == "2: Validation Error: Field 'password' is required");
  const auto wrong_type = create({{"login", 12345}, {"password", kPassword}});
  CHECK(wrong_type.status == 422);
  CHECK(detail(wrong_type) == "2: Validation Error: Field 'login' must be a string, got number");

  const auto with_token =
      create({{"login", "token_holder"}, {"password", kPassword}}, auth(env.user.token));
  CHECK(with_token.status == 403);
  CHECK(detail(with_token) == kNotAllowed);

  // Nothing of the above reached the table as an SQL fragment: it is intact and queryable.
  const auto page = listUsers(http, env.admin.token, "search_string=" + urlEncode("o'neil"));
  CHECK(page["count"] == 0);
  CHECK(listUsers(http, env.admin.token, "")["count"].get<int>() >= 4);
}

TEST_CASE("users: login by login or refused with the original's messages") {
  auto& env = shared();
  auto& http = env.http;
  const auto login = [&](const std::string& credentials, const std::string& password,
                         const HttpHeaders& headers = {}) {
    return http.post(api("/users/auth"), json{{"credentials", credentials}, {"password", password}},
                     headers);
  };

  const auto ok = login("second_user", kPassword);
  REQUIRE(ok.status == 200);
  const auto body = ok.json();
  CHECK(body.size() == 1);
  const auto token = body["token"].get<std::string>();
  const auto me = http.get(api("/users/" + env.user.uuid()), auth(token));
  CHECK(me.status == 200);

  const auto wrong = login("second_user", "Wrong-pass-1");
  CHECK(wrong.status == 403);
  CHECK(detail(wrong) == "1: No Access: Password hash mismatched");

  const auto unknown = login("nobody_at_all", kPassword);
  CHECK(unknown.status == 422);
  CHECK(detail(unknown) == kNoObject);

  const auto with_token = login("second_user", kPassword, auth(env.user.token));
  CHECK(with_token.status == 403);
  CHECK(detail(with_token) == kNotAllowed);
}

TEST_CASE("users: forged, unsigned, expired and orphan tokens are refused") {
  auto& env = shared();
  auto& http = env.http;
  const auto path = api("/users/" + env.admin.uuid());
  const auto future = nowUnix() + 3600;

  // Sanity: a token we sign ourselves with the stack's key is accepted.
  CHECK(http.get(path, auth(signedUserToken(env.admin.uuid(), future, env.secret()))).status ==
        200);

  const auto other_key =
      http.get(path, auth(signedUserToken(env.admin.uuid(), future, "another-secret-key-0123456")));
  CHECK(other_key.status == 403);
  CHECK(detail(other_key) == "1: No Access: Token is invalid");

  const auto header = pepeunit::crypto::base64UrlEncode(R"({"alg":"none","typ":"JWT"})");
  const auto payload = pepeunit::crypto::base64UrlEncode(
      json{{"uuid", env.admin.uuid()}, {"type", "User"}, {"exp", future}}.dump());
  const auto none = http.get(path, auth(header + "." + payload + "."));
  CHECK(none.status == 403);
  CHECK(detail(none) == "1: No Access: Token is invalid");

  const auto expired =
      http.get(path, auth(signedUserToken(env.admin.uuid(), nowUnix() - 60, env.secret())));
  CHECK(expired.status == 403);
  CHECK(detail(expired) == "1: No Access: Token expired");

  const auto garbage = http.get(path, auth("not.a.jwt"));
  CHECK(garbage.status == 403);
  CHECK(detail(garbage) == "1: No Access: Token is invalid");

  const auto orphan = http.get(
      path, auth(signedUserToken("0f8fad5b-d9cb-469f-a165-70867728950e", future, env.secret())));
  CHECK(orphan.status == 403);
  CHECK(detail(orphan) == "1: No Access: User not found");
}

TEST_CASE("users: GET /users/{uuid} needs a user, a UUID and an existing row") {
  auto& env = shared();
  auto& http = env.http;
  const auto bot = http.get(api("/users/" + env.admin.uuid()));
  CHECK(bot.status == 403);
  CHECK(detail(bot) == kNotAllowed);

  const auto not_uuid = http.get(api("/users/not-a-uuid"), auth(env.user.token));
  CHECK(not_uuid.status == 422);
  CHECK(detail(not_uuid) == kBadUuidPath);
  const auto injected = http.get(api("/users/" + urlEncode("1' OR '1'='1")), auth(env.user.token));
  CHECK(injected.status == 422);
  CHECK(detail(injected) == kBadUuidPath);

  const auto missing =
      http.get(api("/users/0f8fad5b-d9cb-469f-a165-70867728950e"), auth(env.user.token));
  CHECK(missing.status == 422);
  CHECK(detail(missing) == kNoObject);
}

TEST_CASE("users: PATCH /users/{uuid} updates the caller, whatever the path says") {
  auto& env = shared();
  auto& http = env.http;
  auto self = registerAndLogin(http, "patch_me");

  // The path names the Admin, but the caller is the one renamed (as in the original E3).
  const auto renamed = http.patch(api("/users/" + env.admin.uuid()), json{{"login", "patched_me"}},
                                  auth(self.token));
  REQUIRE(renamed.status == 200);
  CHECK(renamed.json()["uuid"] == self.uuid());
  CHECK(renamed.json()["login"] == "patched_me");
  CHECK(renamed.json()["create_datetime"] == self.read["create_datetime"]);
  CHECK(http.get(api("/users/" + env.admin.uuid()), auth(self.token)).json()["login"] ==
        "first_admin");

  const auto taken =
      http.patch(api("/users/" + self.uuid()), json{{"login", "first_admin"}}, auth(self.token));
  CHECK(taken.status == 422);
  CHECK(detail(taken) == "3: User Validation Error: Login is not unique");
  const auto bad_login =
      http.patch(api("/users/" + self.uuid()), json{{"login", "no way"}}, auth(self.token));
  CHECK(bad_login.status == 422);
  CHECK(detail(bad_login) == kBadLogin);
  const auto bad_password =
      http.patch(api("/users/" + self.uuid()), json{{"password", "short"}}, auth(self.token));
  CHECK(bad_password.status == 422);
  CHECK(detail(bad_password) == kBadPassword);

  const auto new_password = http.patch(api("/users/" + self.uuid()),
                                       json{{"password", "Brand-new-pass-2"}}, auth(self.token));
  CHECK(new_password.status == 200);
  CHECK(http.post(api("/users/auth"),
                  json{{"credentials", "patched_me"}, {"password", "Brand-new-pass-2"}})
            .status == 200);
  const auto old_password =
      http.post(api("/users/auth"), json{{"credentials", "patched_me"}, {"password", kPassword}});
  CHECK(old_password.status == 403);
  CHECK(detail(old_password) == "1: No Access: Password hash mismatched");

  const auto not_uuid = http.patch(api("/users/nope"), json{{"login", "zzzz"}}, auth(self.token));
  CHECK(not_uuid.status == 422);
  CHECK(detail(not_uuid) == kBadUuidPath);
  const auto bot = http.patch(api("/users/" + self.uuid()), json{{"login", "bot_rename"}});
  CHECK(bot.status == 403);
  CHECK(detail(bot) == kNotAllowed);
}

TEST_CASE("users: only an Admin blocks and unblocks; a Blocked user's token is refused") {
  auto& env = shared();
  auto& http = env.http;
  auto blockee = registerAndLogin(http, "blockee");
  const auto blockee_path = api("/users/" + blockee.uuid());

  const auto by_user = http.patch(api("/users/block/" + blockee.uuid()), "", auth(env.user.token));
  CHECK(by_user.status == 403);
  CHECK(detail(by_user) == kNotAllowed);
  const auto by_bot = http.patch(api("/users/block/" + blockee.uuid()), "");
  CHECK(by_bot.status == 403);
  CHECK(detail(by_bot) == kNotAllowed);
  CHECK(http.get(blockee_path, auth(blockee.token)).status == 200);

  const auto blocked = http.patch(api("/users/block/" + blockee.uuid()), "", auth(env.admin.token));
  CHECK(blocked.status == 204);
  CHECK(blocked.body.empty());
  CHECK(http.get(blockee_path, auth(env.admin.token)).json()["status"] == "Blocked");

  for (const auto& path : {blockee_path, api("/users"), api("/users/" + env.admin.uuid())}) {
    CAPTURE(path);
    const auto refused = http.get(path, auth(blockee.token));
    CHECK(refused.status == 403);
    CHECK(detail(refused) == "1: No Access: User is Blocked");
  }
  // A fresh token does not help either.
  const auto fresh =
      http.post(api("/users/auth"), json{{"credentials", "blockee"}, {"password", kPassword}});
  REQUIRE(fresh.status == 200);
  CHECK(detail(http.get(blockee_path, auth(fresh.json()["token"].get<std::string>()))) ==
        "1: No Access: User is Blocked");

  const auto unblock_by_user =
      http.patch(api("/users/unblock/" + blockee.uuid()), "", auth(env.user.token));
  CHECK(unblock_by_user.status == 403);
  CHECK(detail(unblock_by_user) == kNotAllowed);
  const auto unblocked =
      http.patch(api("/users/unblock/" + blockee.uuid()), "", auth(env.admin.token));
  CHECK(unblocked.status == 204);
  const auto after = http.get(blockee_path, auth(blockee.token));
  REQUIRE(after.status == 200);
  CHECK(after.json()["status"] == "Unverified");

  const auto missing = http.patch(api("/users/block/0f8fad5b-d9cb-469f-a165-70867728950e"), "",
                                  auth(env.admin.token));
  CHECK(missing.status == 422);
  CHECK(detail(missing) == kNoObject);
  const auto not_uuid = http.patch(api("/users/unblock/12345"), "", auth(env.admin.token));
  CHECK(not_uuid.status == 422);
  CHECK(detail(not_uuid) == kBadUuidPath);
}

TEST_CASE("users: list filters AND the search words, filter role/status/uuids and page") {
  auto& env = shared();
  auto& http = env.http;
  const auto a = registerAndLogin(http, "lst_red_apple");
  const auto b = registerAndLogin(http, "lst_red_berry");
  const auto c = registerAndLogin(http, "lst_green_apple");
  const auto& token = env.user.token;

  const auto red = listUsers(http, token, "search_string=" + urlEncode("lst red"));
  CHECK(red["count"] == 2);
  const auto red_logins = logins(red);
  CHECK(std::set<std::string>{"lst_red_apple", "lst_red_berry"} ==
        std::set<std::string>(red_logins.begin(), red_logins.end()));
  const auto apple = listUsers(http, token, "search_string=" + urlEncode("  APPLE\tLST "));
  CHECK(apple["count"] == 2);
  const auto red_apple = listUsers(http, token, "search_string=" + urlEncode("apple red"));
  CHECK(logins(red_apple) == std::vector<std::string>{"lst_red_apple"});

  // Creation order, both ways (desc is the default).
  const auto asc = listUsers(http, token, "search_string=lst&order_by_create_date=asc");
  CHECK(logins(asc) ==
        std::vector<std::string>{"lst_red_apple", "lst_red_berry", "lst_green_apple"});
  const auto desc = listUsers(http, token, "search_string=lst");
  CHECK(logins(desc) ==
        std::vector<std::string>{"lst_green_apple", "lst_red_berry", "lst_red_apple"});

  // Paging: count is the total before offset/limit.
  const auto first_two =
      listUsers(http, token, "search_string=lst&order_by_create_date=asc&limit=2");
  CHECK(first_two["count"] == 3);
  CHECK(logins(first_two) == std::vector<std::string>{"lst_red_apple", "lst_red_berry"});
  const auto rest =
      listUsers(http, token, "search_string=lst&order_by_create_date=asc&offset=2&limit=2");
  CHECK(rest["count"] == 3);
  CHECK(logins(rest) == std::vector<std::string>{"lst_green_apple"});
  const auto none = listUsers(http, token, "search_string=lst&limit=0");
  CHECK(none["count"] == 3);
  CHECK(none["users"].empty());

  // Roles: exactly one Admin; repeated keys form a list.
  const auto admins = listUsers(http, token, "role=Admin");
  CHECK(admins["count"] == 1);
  CHECK(logins(admins) == std::vector<std::string>{"first_admin"});
  const auto lst_users = listUsers(http, token, "role=User&search_string=lst");
  CHECK(lst_users["count"] == 3);
  const auto everyone = listUsers(http, token, "");
  CHECK(listUsers(http, token, "role=User&role=Admin")["count"] == everyone["count"]);

  const auto by_uuid = listUsers(
      http, token, "uuids=" + a.uuid() + "&uuids=" + c.uuid() + "&order_by_create_date=asc");
  CHECK(logins(by_uuid) == std::vector<std::string>{"lst_red_apple", "lst_green_apple"});

  REQUIRE(http.patch(api("/users/block/" + b.uuid()), "", auth(env.admin.token)).status == 204);
  const auto blocked = listUsers(http, token, "status=Blocked&search_string=lst");
  CHECK(logins(blocked) == std::vector<std::string>{"lst_red_berry"});
  const auto unverified = listUsers(http, token, "status=Unverified&search_string=lst");
  CHECK(unverified["count"] == 2);
  REQUIRE(http.patch(api("/users/unblock/" + b.uuid()), "", auth(env.admin.token)).status == 204);

  const auto bad_role = http.get(api("/users?role=King"), auth(token));
  CHECK(bad_role.status == 422);
  CHECK(detail(bad_role) ==
        "2: Validation Error: Query parameter 'role' has an unknown value 'King'");
  const auto bad_uuid = http.get(api("/users?uuids=xyz"), auth(token));
  CHECK(bad_uuid.status == 422);
  CHECK(detail(bad_uuid) ==
        "2: Validation Error: Query parameter 'uuids' has a value that is not a valid UUID");
  const auto bad_order = http.get(api("/users?order_by_create_date=up"), auth(token));
  CHECK(bad_order.status == 422);
  CHECK(detail(bad_order) ==
        "2: Validation Error: Query parameter 'order_by_create_date' must be asc or desc");
  const auto bot = http.get(api("/users"));
  CHECK(bot.status == 403);
  CHECK(detail(bot) == kNotAllowed);
}

TEST_CASE("users: SQL and LIKE metacharacters in search_string match literally") {
  auto& env = shared();
  auto& http = env.http;
  registerAndLogin(http, "plainname");
  const auto& token = env.user.token;

  const auto everyone = listUsers(http, token, "");
  int with_underscore = 0;
  for (const auto& login : logins(everyone)) {
    if (login.find('_') != std::string::npos) {
      ++with_underscore;
    }
  }
  REQUIRE(with_underscore > 0);
  REQUIRE(with_underscore < everyone["count"].get<int>());  // "plainname" has none

  CHECK(listUsers(http, token, "search_string=" + urlEncode("_"))["count"] == with_underscore);
  const std::vector<std::string> metacharacters = {
      "%", "%%", "\\", "'; DROP TABLE users; --", "' OR 1=1 --", "\"users\"", "a%e", "p_a"};
  for (const auto& text : metacharacters) {
    CAPTURE(text);
    const auto response = http.get(api("/users?search_string=" + urlEncode(text)), auth(token));
    CHECK(response.status == 200);
    CHECK(response.json()["count"] == 0);
  }
  // Still there, every row of it.
  CHECK(listUsers(http, token, "")["count"] == everyone["count"]);
}

TEST_CASE("users: malformed JSON, wrong body shapes and oversized bodies") {
  auto& env = shared();
  auto& http = env.http;

  const auto malformed = http.post(api("/users"), std::string(R"({"login": "x",)"));
  CHECK(malformed.status == 422);
  CHECK(detail(malformed) == "9: JSON Decode Error: Request body is not valid JSON");
  const auto array = http.post(api("/users/auth"), std::string("[1, 2]"));
  CHECK(array.status == 422);
  CHECK(detail(array) == "9: JSON Decode Error: Request body must be a JSON object");
  const auto patch_malformed =
      http.patch(api("/users/" + env.user.uuid()), std::string("{nope"), auth(env.user.token));
  CHECK(patch_malformed.status == 422);
  CHECK(detail(patch_malformed) == "9: JSON Decode Error: Request body is not valid JSON");

  const std::string huge = json{
      {"login", std::string(std::size_t{2} * 1024 * 1024, 'a')},
      {"password", kPassword}}.dump();
  const auto too_large = http.post(api("/users"), huge);
  CHECK(too_large.status == 413);
  CHECK(detail(too_large) == "14: Payload Too Large: Request body is too large");
  // The server is fine afterwards.
  CHECK(http.get(api("/users/" + env.user.uuid()), auth(env.user.token)).status == 200);
}

TEST_CASE("users: the verification link says Telegram is not configured") {
  auto& env = shared();
  auto& http = env.http;
  const auto link = http.get(api("/users/generate_verification_link/"), auth(env.user.token));
  CHECK(link.status == 422);
  CHECK(detail(link) ==
        "2: Validation Error: Telegram verification is not configured on this instance");
  const auto bot = http.get(api("/users/generate_verification_link/"));
  CHECK(bot.status == 403);
  CHECK(detail(bot) == kNotAllowed);
}

TEST_CASE("users: concurrent first registrations make exactly one Admin") {
  constexpr int kClients = 8;
  Stack stack;
  std::vector<std::string> roles(kClients);
  std::vector<std::thread> threads;
  threads.reserve(kClients);
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      HttpClient http("127.0.0.1", stack.backend().port());
      const auto created = http.post(
          api("/users"), json{{"login", "racer_" + std::to_string(i)}, {"password", kPassword}});
      roles[i] = created.status == 201 ? created.json()["role"].get<std::string>()
                                       : "HTTP " + std::to_string(created.status);
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  CHECK(std::count(roles.begin(), roles.end(), "Admin") == 1);
  CHECK(std::count(roles.begin(), roles.end(), "User") == kClients - 1);
}

TEST_CASE("throttling: N wrong passwords give 429 + Retry-After until the window passes") {
  constexpr int kMax = 3;
  constexpr int kWindow = 2;
  Stack stack(
      Stack::Options::withEnv({{"BACKEND_LOGIN_MAX_FAILURES", std::to_string(kMax)},
                               {"BACKEND_LOGIN_THROTTLE_WINDOW", std::to_string(kWindow)}}));
  HttpClient http("127.0.0.1", stack.backend().port());
  registerAndLogin(http, "throttled");
  registerAndLogin(http, "bystander");

  const auto redis_url = pepeunit::cache::redis::parseRedisUrl(stack.redis().url());
  REQUIRE(redis_url);
  pepeunit::cache::redis::RedisClient redis(*redis_url, 1000ms);
  const auto counter_keys = [&] {
    std::set<std::string> keys;
    for (const auto& key : redis.command({"KEYS", "pepeunit:login:fail:*"}).elements) {
      keys.insert(key.str);
    }
    return keys;
  };
  const auto login = [&](const std::string& credentials, const std::string& password) {
    return http.post(api("/users/auth"),
                     json{{"credentials", credentials}, {"password", password}});
  };
  const auto expect_locked = [&](const HttpResponse& response) {
    CHECK(response.status == 429);
    const auto retry_after = response.header("Retry-After");
    REQUIRE(std::regex_match(retry_after, std::regex("[0-9]+")));
    const int seconds = std::stoi(retry_after);
    CHECK(seconds >= 1);
    CHECK(seconds <= kWindow);
    CHECK(detail(response) ==
          "13: Too Many Requests: Too many failed login attempts, retry in " + retry_after + " s");
  };
  const auto wait_until_unlocked = [&](const std::string& credentials) {
    std::vector<int> seen;
    const bool ok = pepeunit::testing::pollUntil(
        [&] {
          const int status = login(credentials, kPassword).status;
          seen.push_back(status);
          return status == 200;
        },
        10s, 100ms);
    CHECK(ok);
    for (const int status : seen) {
      CHECK((status == 429 || status == 200));
    }
  };

  SUBCASE("per login (and per address), then the right password works and resets") {
    for (int i = 0; i < kMax; ++i) {
      const auto wrong = login("throttled", "Wrong-pass-1");
      CHECK(wrong.status == 403);
      CHECK(detail(wrong) == "1: No Access: Password hash mismatched");
    }
    expect_locked(login("throttled", kPassword));
    // All requests come from 127.0.0.1, whose counter is exhausted too.
    expect_locked(login("bystander", kPassword));

    // Keys are digests: neither the login nor the address appears in Redis.
    const auto keys = counter_keys();
    CHECK(keys == std::set<std::string>{"pepeunit:login:fail:" + sha256Hex("throttled"),
                                        "pepeunit:login:fail:addr:" + sha256Hex("127.0.0.1")});
    for (const auto& key : keys) {
      CHECK(key.find("throttled") == std::string::npos);
      CHECK(key.find("127.0.0.1") == std::string::npos);
      const auto ttl = redis.command({"PTTL", key});
      CHECK(ttl.integer > 0);
      CHECK(ttl.integer <= kWindow * 1000);
    }

    wait_until_unlocked("throttled");
    CHECK(counter_keys().empty());  // the success cleared both counters

    // Below the limit a success resets the count: twice N-1 failures never lock.
    for (int round = 0; round < 2; ++round) {
      for (int i = 0; i < kMax - 1; ++i) {
        CHECK(login("throttled", "Wrong-pass-1").status == 403);
      }
      CHECK(login("throttled", kPassword).status == 200);
    }
  }

  SUBCASE("unknown logins count against the address") {
    for (int i = 0; i < kMax; ++i) {
      const auto unknown = login("ghost_" + std::to_string(i), kPassword);
      CHECK(unknown.status == 422);
      CHECK(detail(unknown) == kNoObject);
    }
    expect_locked(login("bystander", kPassword));
    wait_until_unlocked("bystander");
  }

  SUBCASE("Redis down: throttling fails open, logins keep working") {
    stack.redis().stop();
    for (int i = 0; i < kMax + 2; ++i) {
      const auto wrong = login("throttled", "Wrong-pass-1");
      CHECK(wrong.status == 403);
      CHECK(detail(wrong) == "1: No Access: Password hash mismatched");
    }
    CHECK(login("throttled", kPassword).status == 200);
    stack.redis().start();
  }
}
