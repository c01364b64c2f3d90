// In-memory UserStore (and PrincipalStore over the same rows, so a real AuthService can check
// tokens against it) for service unit tests. Deterministic: uuids and create_datetime come from
// counters, not from randomness or the clock.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/errors.hpp"
#include "store/principal_store.hpp"
#include "store/user_store.hpp"

namespace pepeunit::testing {

class FakeUserStore : public store::UserStore, public store::PrincipalStore {
 public:
  store::User insertDecidingRole(const store::NewUser& user) override {
    if (findByLogin(user.login)) {
      throw Error(ErrorKind::kUserValidation, "Login is not unique");
    }
    store::User row;
    domain::Uuid::Bytes bytes{};
    bytes[15] = static_cast<std::uint8_t>(++inserted_);
    bytes[14] = static_cast<std::uint8_t>(inserted_ >> 8);
    row.uuid = domain::Uuid(bytes);
    row.role = rows_.empty() ? domain::Role::kAdmin : domain::Role::kUser;
    row.status = user.status;
    row.login = user.login;
    row.hashed_password = user.password.hashed_password;
    row.cipher_dynamic_salt = user.password.cipher_dynamic_salt;
    row.create_datetime = store::Timestamp(std::chrono::microseconds(inserted_ * 1000));
    rows_.push_back(row);
    return row;
  }

  std::optional<store::User> findByUuid(const domain::Uuid& uuid) override {
    for (const auto& row : rows_) {
      if (row.uuid == uuid) {
        return row;
      }
    }
    return std::nullopt;
  }

  std::optional<store::User> findByCredentials(std::string_view credentials) override {
    if (auto row = findByLogin(credentials)) {
      return row;
    }
    for (const auto& row : rows_) {
      if (row.telegram_chat_id == credentials) {
        return row;
      }
    }
    return std::nullopt;
  }

  store::UserPage list(const store::UserFilter& filter) override {
    std::vector<store::User> matching;
    for (const auto& row : rows_) {
      if (matches(row, filter)) {
        matching.push_back(row);
      }
    }
    std::sort(matching.begin(), matching.end(), [&](const auto& a, const auto& b) {
      return filter.newest_first ? a.create_datetime > b.create_datetime
                                 : a.create_datetime < b.create_datetime;
    });
    store::UserPage page;
    page.count = static_cast<std::int64_t>(matching.size());
    for (std::int64_t i = filter.offset; i < page.count; ++i) {
      if (filter.limit && static_cast<std::int64_t>(page.rows.size()) >= *filter.limit) {
        break;
      }
      page.rows.push_back(matching[static_cast<std::size_t>(i)]);
    }
    return page;
  }

  std::optional<store::User> updateLoginAndPassword(
      const domain::Uuid& uuid, const std::optional<std::string>& login,
      const std::optional<store::PasswordHash>& password) override {
    ++updates_;
    store::User* row = find(uuid);
    if (row == nullptr) {
      return std::nullopt;
    }
    if (login) {
      const auto other = findByLogin(*login);
      if (other && other->uuid != uuid) {
        throw Error(ErrorKind::kUserValidation, "Login is not unique");
      }
      row->login = *login;
    }
    if (password) {
      row->hashed_password = password->hashed_password;
      row->cipher_dynamic_salt = password->cipher_dynamic_salt;
    }
    return *row;
  }

  bool setStatus(const domain::Uuid& uuid, domain::UserStatus status) override {
    store::User* row = find(uuid);
    if (row == nullptr) {
      return false;
    }
    row->status = status;
    return true;
  }

  std::optional<store::UserAuthFacts> userFacts(const domain::Uuid& user) override {
    const store::User* row = find(user);
    if (row == nullptr) {
      return std::nullopt;
    }
    return store::UserAuthFacts{row->role, row->status};
  }

  bool unitExists(const domain::Uuid&) override { return false; }

  // ---- test helpers ----
  const std::vector<store::User>& rows() const { return rows_; }
  int updateCalls() const { return updates_; }
  void setTelegramChatId(const domain::Uuid& uuid, std::string chat_id) {
    if (store::User* row = find(uuid)) {
      row->telegram_chat_id = std::move(chat_id);
    }
  }

 private:
  store::User* find(const domain::Uuid& uuid) {
    for (auto& row : rows_) {
      if (row.uuid == uuid) {
        return &row;
      }
    }
    return nullptr;
  }

  std::optional<store::User> findByLogin(std::string_view login) const {
    for (const auto& row : rows_) {
      if (row.login == login) {
        return row;
      }
    }
    return std::nullopt;
  }

  static std::string lower(std::string_view text) {
    std::string out(text);
    for (auto& c : out) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
  }

  static bool matches(const store::User& row, const store::UserFilter& filter) {
    if (!filter.uuids.empty() &&
        std::find(filter.uuids.begin(), filter.uuids.end(), row.uuid) == filter.uuids.end()) {
      return false;
    }
    for (const auto& word : filter.search_words) {
      if (lower(row.login).find(lower(word)) == std::string::npos) {
        return false;
      }
    }
    const auto role_listed = [&](domain::Role r) {
      return std::any_of(filter.roles.begin(), filter.roles.end(), [&](auto x) { return x == r; });
    };
    const auto status_listed = [&](domain::UserStatus s) {
      return std::any_of(filter.statuses.begin(), filter.statuses.end(),
                         [&](auto x) { return x == s; });
    };
    if (!filter.roles.empty() && !role_listed(row.role)) {
      return false;
    }
    if (!filter.statuses.empty() && !status_listed(row.status)) {
      return false;
    }
    return true;
  }

  std::vector<store::User> rows_;
  std::int64_t inserted_ = 0;
  int updates_ = 0;
};

}  // namespace pepeunit::testing
