// REST routes of users (pepeunit_backend_spec.md §2.1), paths and bodies as in the original:
//   POST  /users                               201 UserRead            (anonymous only)
//   POST  /users/auth                          200 {"token"}           (anonymous only; 429 +
//                                                                      Retry-After when throttled)
//   GET   /users/generate_verification_link/   always an error here (no Telegram bot)
//   PATCH /users/block/{uuid}                  204                     (Admin)
//   PATCH /users/unblock/{uuid}                204                     (Admin)
//   GET   /users/{uuid}                        200 UserRead
//   PATCH /users/{uuid}                        200 UserRead            (updates the CALLER)
//   GET   /users                               200 {"count", "users": [UserRead]}
// UserRead = {uuid, role, status, login, create_datetime}; create_datetime is naive UTC ISO 8601
// as FastAPI printed it ("2026-11-20T23:41:59.123456", no fraction when it is zero).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "http/api.hpp"
#include "service/user_service.hpp"
#include "store/user_store.hpp"

namespace pepeunit::http {

/// Literal paths are registered before the `{uuid}` ones. `max_page` caps `limit`.
void registerUserRoutes(Api& api, service::UserService& users, std::int64_t max_page);

/// "2026-11-20T23:41:59.123456" (fraction omitted when zero), as Python's isoformat().
std::string isoDatetime(store::Timestamp time);

/// The public view of a user; never includes the password hash, salt or telegram_chat_id.
nlohmann::json userRead(const store::User& user);

}  // namespace pepeunit::http
