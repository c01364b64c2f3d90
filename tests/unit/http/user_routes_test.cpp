// The UserRead shape: FastAPI's naive-UTC datetime text and no secret columns.
#include "http/user_routes.hpp"

#include <doctest/doctest.h>

using pepeunit::store::Timestamp;

namespace {

Timestamp at(std::int64_t micros) {
  return Timestamp(std::chrono::microseconds(micros));
}

}  // namespace

TEST_CASE("user routes: create_datetime is printed like Python's isoformat()") {
  // 2026-11-20T23:41:59.123456Z
  constexpr std::int64_t kSeconds = 1795218119;
  CHECK(pepeunit::http::isoDatetime(at(kSeconds * 1000000 + 123456)) ==
        "2026-11-20T23:41:59.123456");
  CHECK(pepeunit::http::isoDatetime(at(kSeconds * 1000000 + 1)) == "2026-11-20T23:41:59.000001");
  // No fraction at all when it is zero.
  CHECK(pepeunit::http::isoDatetime(at(kSeconds * 1000000)) == "2026-11-20T23:41:59");
  CHECK(pepeunit::http::isoDatetime(at(0)) == "1970-01-01T00:00:00");
  CHECK(pepeunit::http::isoDatetime(at(951782400LL * 1000000)) == "2000-02-29T00:00:00");
}

TEST_CASE("user routes: UserRead holds exactly the five public fields") {
  pepeunit::store::User user;
  user.uuid = pepeunit::domain::Uuid::parse("0f8fad5b-d9cb-469f-a165-70867728950e").value();
  user.role = pepeunit::domain::Role::kAdmin;
  user.status = pepeunit::domain::UserStatus::kVerified;
  user.login = "someone";
  user.telegram_chat_id = "12345";
  user.hashed_password = "HASH";
  user.cipher_dynamic_salt = "SALT";
  user.create_datetime = at(0);
  const auto json = pepeunit::http::userRead(user);
  CHECK(json == nlohmann::json{{"uuid", "0f8fad5b-d9cb-469f-a165-70867728950e"},
                               {"role", "Admin"},
                               {"status", "Verified"},
                               {"login", "someone"},
                               {"create_datetime", "1970-01-01T00:00:00"}});
}
