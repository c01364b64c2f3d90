// UserService rules over in-memory fakes: registration (first user Admin), role gates, login and
// its throttling on a fake clock, self-update, block/unblock and the Telegram stub. PBKDF2 runs
// with one iteration here; the real count is covered by crypto/password_test.cpp.
#include "service/user_service.hpp"

#include <doctest/doctest.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "crypto/digest.hpp"
#include "fakes/fake_attempt_counter.hpp"
#include "fakes/fake_user_store.hpp"

namespace {

using pepeunit::Error;
using pepeunit::domain::Principal;
using pepeunit::domain::Role;
using pepeunit::domain::toString;
using pepeunit::domain::Uuid;
using pepeunit::service::AuthService;
using pepeunit::service::TooManyAttempts;
using pepeunit::service::UserService;
using pepeunit::testing::FakeAttemptCounter;
using pepeunit::testing::FakeClock;
using pepeunit::testing::FakeUserStore;

constexpr int kMaxFailures = 3;
constexpr std::int64_t kWindow = 60;
constexpr const char* kAddress = "10.0.0.1";
constexpr const char* kPassword = "Secret-pass1";

/// Everything a UserService needs, wired over fakes.
struct Fixture {
  FakeClock clock;
  FakeUserStore store;
  FakeAttemptCounter attempts{clock};
  pepeunit::crypto::SecretBox box{std::string(32, 'k')};
  AuthService auth{"unit-test-secret-key-0123456789", 3600, store, [this] { return clock.now; }};
  UserService users{store,
                    attempts,
                    box,
                    auth,
                    {.static_salt = "static-salt",
                     .login_max_failures = kMaxFailures,
                     .login_throttle_window_s = kWindow,
                     .password_iterations = 1}};

  pepeunit::store::User add(const std::string& login) {
    return users.create(Principal::bot(), login, kPassword);
  }
  Principal as(const pepeunit::store::User& user) {
    return Principal::user(user.uuid, user.role, store.findByUuid(user.uuid)->status);
  }
  std::string login(const std::string& credentials, const std::string& password,
                    const std::string& address = kAddress) {
    return users.login(Principal::bot(), credentials, password, address);
  }
};

/// The `detail` of the Error `f` throws, or "" if it throws nothing.
std::string detailOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.detail();
  }
  return "";
}

constexpr const char* kNotAllowed =
    "1: No Access: The current user role is not in the list of available roles";

}  // namespace

TEST_CASE("users: the first user is Admin, later ones User, all Unverified") {
  Fixture f;
  const auto first = f.add("first_user");
  const auto second = f.add("second.user");
  const auto third = f.add("third-user");
  CHECK(toString(first.role) == "Admin");
  CHECK(toString(second.role) == "User");
  CHECK(toString(third.role) == "User");
  for (const auto& user : f.store.rows()) {
    CHECK(toString(user.status) == "Unverified");
  }
}

TEST_CASE("users: the password is PBKDF2 over an encrypted per-user dynamic salt") {
  Fixture f;
  const auto a = f.add("user_a");
  const auto b = f.add("user_b");
  const auto salt_a = f.box.decrypt(a.cipher_dynamic_salt);
  CHECK(salt_a.size() == 24);  // base64 of 16 bytes
  CHECK(salt_a != f.box.decrypt(b.cipher_dynamic_salt));
  CHECK(a.hashed_password != b.hashed_password);
  CHECK(a.hashed_password ==
        pepeunit::crypto::hashPassword(kPassword, salt_a, "static-salt", /*iterations=*/1));
  CHECK(a.cipher_dynamic_salt.find(salt_a) == std::string::npos);
}

TEST_CASE("users: registration is for anonymous callers only") {
  Fixture f;
  const auto admin = f.add("admin");
  CHECK(detailOf([&] { f.users.create(f.as(admin), "another", kPassword); }) == kNotAllowed);
  CHECK(detailOf([&] {
          f.users.create(
              Principal::unit(Uuid::parse("0f8fad5b-d9cb-469f-a165-70867728950e").value()),
              "another", kPassword);
        }) == "1: No Access: The resource is not available for the current Unit");
  CHECK(f.store.rows().size() == 1);
}

TEST_CASE("users: bad logins and passwords are refused with the user validation error") {
  Fixture f;
  const std::string bad_login = "3: User Validation Error: Login is not correct";
  const std::string bad_password = "3: User Validation Error: Password is not correct";
  const std::vector<std::string> bad_logins = {
      "abc", std::string(21, 'a'), "a b c d", "x'; DROP TABLE users; --", "us%er", "usér1", ""};
  for (const auto& login : bad_logins) {
    CAPTURE(login);
    CHECK(detailOf([&] { f.users.create(Principal::bot(), login, kPassword); }) == bad_login);
  }
  const std::vector<std::string> bad_passwords = {"short1!", std::string(101, 'p'), "has space 123",
                                                  "tab\tpassword1", "pässword123"};
  for (const auto& password : bad_passwords) {
    CAPTURE(password);
    CHECK(detailOf([&] { f.users.create(Principal::bot(), "good_login", password); }) ==
          bad_password);
  }
  CHECK(f.store.rows().empty());
  // The limits themselves are accepted.
  CHECK_NOTHROW(f.users.create(Principal::bot(), "abcd", std::string(8, '!')));
  CHECK_NOTHROW(f.users.create(Principal::bot(), std::string(20, 'z'), std::string(100, 'p')));
}

TEST_CASE("users: login returns a token the auth service accepts; failures name the cause") {
  Fixture f;
  const auto user = f.add("login_user");
  const auto token = f.login("login_user", kPassword);
  const auto principal = f.auth.authenticate(token);
  CHECK(principal.uuid == user.uuid);
  CHECK(toString(principal.role) == "Admin");

  CHECK(detailOf([&] { f.login("login_user", "Wrong-pass1"); }) ==
        "1: No Access: Password hash mismatched");
  CHECK(detailOf([&] { f.login("nobody_here", kPassword); }) ==
        "2: Validation Error: The object does not exist");
  CHECK(detailOf([&] { f.users.login(principal, "login_user", kPassword, kAddress); }) ==
        kNotAllowed);
}

TEST_CASE("users: login also accepts the telegram_chat_id as credentials") {
  Fixture f;
  const auto user = f.add("chat_user");
  f.store.setTelegramChatId(user.uuid, "123456789");
  CHECK(f.auth.authenticate(f.login("123456789", kPassword)).uuid == user.uuid);
}

TEST_CASE("throttling: after N failures a login is refused until its window ends") {
  Fixture f;
  f.add("victim");
  for (int i = 0; i < kMaxFailures; ++i) {
    CHECK(detailOf([&] { f.login("victim", "Wrong-pass1"); }) ==
          "1: No Access: Password hash mismatched");
    f.clock.advance(1);
  }
  // Locked even with the right password; the window opened at the first failure.
  std::int64_t retry_after = 0;
  try {
    f.login("victim", kPassword);
    FAIL("expected TooManyAttempts");
  } catch (const TooManyAttempts& e) {
    retry_after = e.retryAfterSeconds();
    CHECK(e.detail() == "13: Too Many Requests: Too many failed login attempts, retry in " +
                            std::to_string(kWindow - kMaxFailures) + " s");
  }
  CHECK(retry_after == kWindow - kMaxFailures);

  f.clock.advance(retry_after - 1);
  CHECK_THROWS_AS(f.login("victim", kPassword), TooManyAttempts);
  f.clock.advance(1);
  CHECK_NOTHROW(f.login("victim", kPassword));
  CHECK(f.attempts.snapshot().empty());  // a success clears both counters
}

TEST_CASE("throttling: a success resets the failure count") {
  Fixture f;
  f.add("resetter");
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < kMaxFailures - 1; ++i) {
      CHECK_THROWS_AS(f.login("resetter", "Wrong-pass1"), Error);
    }
    CHECK_NOTHROW(f.login("resetter", kPassword));
  }
}

TEST_CASE("throttling: failures are counted per client address across logins too") {
  Fixture f;
  f.add("real_user");
  for (int i = 0; i < kMaxFailures; ++i) {
    CHECK(detailOf([&] { f.login("ghost" + std::to_string(i), kPassword, "10.9.9.9"); }) ==
          "2: Validation Error: The object does not exist");
  }
  CHECK_THROWS_AS(f.login("real_user", kPassword, "10.9.9.9"), TooManyAttempts);
  // Another address is not affected: only the address counter is exhausted.
  CHECK_NOTHROW(f.login("real_user", kPassword, "10.1.1.1"));
}

TEST_CASE("throttling: the counter keys are digests, never the login or the address") {
  Fixture f;
  f.add("secret_name");
  CHECK_THROWS(f.login("secret_name", "Wrong-pass1", "192.0.2.7"));
  const auto keys = f.attempts.snapshot();
  const auto hex = [](const std::string& s) {
    return pepeunit::crypto::toHex(pepeunit::crypto::sha256(s));
  };
  REQUIRE(keys.size() == 2);
  CHECK(keys.count(hex("secret_name")) == 1);
  CHECK(keys.count("addr:" + hex("192.0.2.7")) == 1);
  for (const auto& [key, count] : keys) {
    CHECK(count == 1);
    CHECK(key.find("secret_name") == std::string::npos);
    CHECK(key.find("192.0.2.7") == std::string::npos);
  }
}

TEST_CASE("throttling: an unavailable counter store fails open") {
  Fixture f;
  f.add("open_user");
  f.attempts.down = true;
  const auto level = spdlog::get_level();
  spdlog::set_level(spdlog::level::off);  // the expected outage warnings are not test output
  for (int i = 0; i < kMaxFailures + 2; ++i) {
    CHECK(detailOf([&] { f.login("open_user", "Wrong-pass1"); }) ==
          "1: No Access: Password hash mismatched");
  }
  CHECK_NOTHROW(f.login("open_user", kPassword));
  spdlog::set_level(level);
}

TEST_CASE("users: get and list are for Users and Admins") {
  Fixture f;
  const auto admin = f.add("admin_one");
  const auto user = f.add("user_two");
  CHECK(f.users.get(f.as(user), admin.uuid).login == "admin_one");
  CHECK(f.users.get(f.as(admin), user.uuid).login == "user_two");
  CHECK(detailOf([&] { f.users.get(Principal::bot(), admin.uuid); }) == kNotAllowed);
  CHECK(detailOf([&] { f.users.list(Principal::bot(), {}); }) == kNotAllowed);
  CHECK(detailOf([&] { f.users.get(Principal::unit(user.uuid), admin.uuid); }) ==
        "1: No Access: The resource is not available for the current Unit");
  CHECK(detailOf([&] { f.users.get(f.as(user), Uuid()); }) ==
        "2: Validation Error: The object does not exist");

  pepeunit::store::UserFilter filter;
  filter.roles = {Role::kUser};
  const auto page = f.users.list(f.as(admin), filter);
  CHECK(page.count == 1);
  REQUIRE(page.rows.size() == 1);
  CHECK(page.rows[0].uuid == user.uuid);
}

TEST_CASE("users: update changes the caller only; empty fields are left alone") {
  Fixture f;
  const auto admin = f.add("admin_x");
  const auto user = f.add("user_x");

  const auto renamed = f.users.update(f.as(user), std::string("user_y"), std::nullopt);
  CHECK(renamed.uuid == user.uuid);
  CHECK(renamed.login == "user_y");
  CHECK(f.store.findByUuid(admin.uuid)->login == "admin_x");

  const auto before = *f.store.findByUuid(user.uuid);
  const auto same = f.users.update(f.as(user), std::string(""), std::string(""));
  CHECK(same.login == "user_y");
  CHECK(same.hashed_password == before.hashed_password);

  f.users.update(f.as(user), std::nullopt, std::string("New-pass-42"));
  CHECK_NOTHROW(f.login("user_y", "New-pass-42"));
  CHECK_THROWS(f.login("user_y", kPassword));

  CHECK(detailOf([&] { f.users.update(f.as(user), std::string("admin_x"), std::nullopt); }) ==
        "3: User Validation Error: Login is not unique");
  CHECK(detailOf([&] { f.users.update(f.as(user), std::string("no"), std::nullopt); }) ==
        "3: User Validation Error: Login is not correct");
  CHECK(detailOf([&] { f.users.update(f.as(user), std::nullopt, std::string("short")); }) ==
        "3: User Validation Error: Password is not correct");
  CHECK(detailOf([&] { f.users.update(Principal::bot(), std::string("botname"), std::nullopt); }) ==
        kNotAllowed);
}

TEST_CASE("users: only Admins block and unblock; a Blocked user's token stops working") {
  Fixture f;
  const auto admin = f.add("the_admin");
  const auto user = f.add("the_user");
  const auto other = f.add("the_other");
  const auto user_token = f.login("the_user", kPassword);

  CHECK(detailOf([&] { f.users.block(f.as(user), other.uuid); }) == kNotAllowed);
  CHECK(detailOf([&] { f.users.unblock(f.as(user), other.uuid); }) == kNotAllowed);
  CHECK(toString(f.store.findByUuid(other.uuid)->status) == "Unverified");

  f.users.block(f.as(admin), user.uuid);
  CHECK(toString(f.store.findByUuid(user.uuid)->status) == "Blocked");
  CHECK(detailOf([&] { f.auth.authenticate(user_token); }) == "1: No Access: User is Blocked");

  f.users.unblock(f.as(admin), user.uuid);
  CHECK(toString(f.store.findByUuid(user.uuid)->status) == "Unverified");
  CHECK(f.auth.authenticate(user_token).uuid == user.uuid);

  // A linked Telegram chat means the user was verified: unblock restores Verified.
  f.store.setTelegramChatId(other.uuid, "42");
  f.users.block(f.as(admin), other.uuid);
  f.users.unblock(f.as(admin), other.uuid);
  CHECK(toString(f.store.findByUuid(other.uuid)->status) == "Verified");

  CHECK(detailOf([&] { f.users.block(f.as(admin), Uuid()); }) ==
        "2: Validation Error: The object does not exist");
}

TEST_CASE("users: the verification link explains that Telegram is not configured") {
  Fixture f;
  const auto user = f.add("tg_user");
  CHECK(detailOf([&] { f.users.verificationLink(f.as(user)); }) ==
        "2: Validation Error: Telegram verification is not configured on this instance");
  CHECK(detailOf([&] { f.users.verificationLink(Principal::bot()); }) == kNotAllowed);
}
