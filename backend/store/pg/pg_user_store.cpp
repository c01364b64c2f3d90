// SQL for users. Every value is a bound parameter; the only SQL assembled at run time is the
// list of WHERE/SET fragments, each a fixed string from this file.
#include "store/pg/pg_user_store.hpp"

#include <pqxx/prepared_statement>
#include <pqxx/result>

#include "common/errors.hpp"
#include "domain/names.hpp"
#include "store/pg/errors.hpp"
#include "store/pg/sql_support.hpp"

namespace pepeunit::store::pg {
namespace {

using domain::Uuid;

constexpr const char* kColumns =
    "uuid::text, role, status, login, telegram_chat_id, hashed_password, cipher_dynamic_salt, "
    "(EXTRACT(EPOCH FROM create_datetime) * 1000000)::bigint";

// Serializes registrations (and any other writer of `users`) for the length of the insert
// transaction, so "is the table empty?" and the insert are one atomic step: two concurrent
// first registrations cannot both become Admin. SHARE ROW EXCLUSIVE conflicts with itself and
// with the ROW EXCLUSIVE lock of INSERT/UPDATE/DELETE, but not with plain reads or the
// FOR KEY SHARE row locks of foreign-key checks. The transaction holds it for one INSERT.
constexpr const char* kLockUsers = "LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE";

constexpr const char* kInsertUser =
    "INSERT INTO users (role, status, login, hashed_password, cipher_dynamic_salt) "
    "VALUES (CASE WHEN EXISTS (SELECT 1 FROM users) THEN 'User' ELSE 'Admin' END, "
    "$1, $2, $3, $4) RETURNING ";

constexpr const char* kSetStatus = "UPDATE users SET status = $2 WHERE uuid = $1";

OnConflict loginTaken() {
  return {ErrorKind::kUserValidation, "Login is not unique"};
}

User toUser(const pqxx::row& row) {
  const auto uuid = Uuid::parse(row[0].c_str());
  const auto role = domain::parseRole(row[1].c_str());
  const auto status = domain::parseUserStatus(row[2].c_str());
  if (!uuid || !role || !status) {
    throw Error(ErrorKind::kInternal, "Internal server error",
                std::string("users row with unreadable uuid/role/status: ") + row[0].c_str());
  }
  User user;
  user.uuid = *uuid;
  user.role = *role;
  user.status = *status;
  user.login = row[3].c_str();
  if (!row[4].is_null()) {
    user.telegram_chat_id = row[4].c_str();
  }
  user.hashed_password = row[5].c_str();
  user.cipher_dynamic_salt = row[6].c_str();
  user.create_datetime = Timestamp(std::chrono::microseconds(row[7].as<std::int64_t>()));
  return user;
}

std::optional<User> firstUser(const pqxx::result& rows) {
  if (rows.empty()) {
    return std::nullopt;
  }
  return toUser(rows[0]);
}

std::string whereClause(const UserFilter& filter, Params& params) {
  std::vector<std::string> conditions;
  if (!filter.uuids.empty()) {
    conditions.push_back("uuid = ANY(" + params.add(arrayLiteral(filter.uuids, [](const Uuid& u) {
      return u.toString();
    })) + "::uuid[])");
  }
  for (const auto& word : filter.search_words) {
    conditions.push_back("login ILIKE " + params.add(domain::likeContainsPattern(word)) +
                         " ESCAPE '\\'");
  }
  if (!filter.roles.empty()) {
    conditions.push_back("role = ANY(" + params.add(arrayLiteral(filter.roles, [](auto r) {
      return std::string(domain::toString(r));
    })) + "::text[])");
  }
  if (!filter.statuses.empty()) {
    conditions.push_back("status = ANY(" + params.add(arrayLiteral(filter.statuses, [](auto s) {
      return std::string(domain::toString(s));
    })) + "::text[])");
  }
  if (conditions.empty()) {
    return {};
  }
  std::string out = " WHERE ";
  for (std::size_t i = 0; i < conditions.size(); ++i) {
    if (i > 0) {
      out += " AND ";
    }
    out += conditions[i];
  }
  return out;
}

}  // namespace

User PgUserStore::insertDecidingRole(const NewUser& user) {
  return translateErrors(
      [&] {
        return pool_.withTransaction([&](pqxx::work& tx) {
          tx.exec0(kLockUsers);
          static const std::string sql = std::string(kInsertUser) + kColumns;
          return toUser(tx.exec_params1(sql, std::string(domain::toString(user.status)), user.login,
                                        user.password.hashed_password,
                                        user.password.cipher_dynamic_salt));
        });
      },
      loginTaken());
}

std::optional<User> PgUserStore::findByUuid(const Uuid& uuid) {
  static const std::string sql = std::string("SELECT ") + kColumns + " FROM users WHERE uuid = $1";
  return pool_.withRead(
      [&](pqxx::nontransaction& tx) { return firstUser(tx.exec_params(sql, uuid.toString())); });
}

std::optional<User> PgUserStore::findByCredentials(std::string_view credentials) {
  // A login wins over another user's telegram_chat_id that happens to be the same text.
  static const std::string sql = std::string("SELECT ") + kColumns +
                                 " FROM users WHERE login = $1 OR telegram_chat_id = $1 "
                                 "ORDER BY (login = $1) DESC LIMIT 1";
  return pool_.withRead([&](pqxx::nontransaction& tx) {
    return firstUser(tx.exec_params(sql, std::string(credentials)));
  });
}

UserPage PgUserStore::list(const UserFilter& filter) {
  Params params;
  const std::string where = whereClause(filter, params);
  const std::string count_sql = "SELECT count(*) FROM users" + where;

  Params page_params = params;
  std::string rows_sql = std::string("SELECT ") + kColumns + " FROM users" + where +
                         (filter.newest_first ? " ORDER BY create_datetime DESC, uuid DESC"
                                              : " ORDER BY create_datetime ASC, uuid ASC") +
                         " OFFSET " + page_params.add(std::to_string(filter.offset));
  if (filter.limit) {
    rows_sql += " LIMIT " + page_params.add(std::to_string(*filter.limit));
  }

  return pool_.withTransaction([&](pqxx::work& tx) {
    UserPage page;
    page.count = tx.exec_params1(count_sql, pqxx::prepare::make_dynamic_params(params.values()))[0]
                     .as<std::int64_t>();
    const auto rows =
        tx.exec_params(rows_sql, pqxx::prepare::make_dynamic_params(page_params.values()));
    page.rows.reserve(rows.size());
    for (const auto& row : rows) {
      page.rows.push_back(toUser(row));
    }
    return page;
  });
}

std::optional<User> PgUserStore::updateLoginAndPassword(
    const Uuid& uuid, const std::optional<std::string>& login,
    const std::optional<PasswordHash>& password) {
  if (!login && !password) {
    return findByUuid(uuid);
  }
  Params params;
  const std::string uuid_param = params.add(uuid.toString());
  std::string set;
  if (login) {
    set += "login = " + params.add(*login);
  }
  if (password) {
    if (!set.empty()) {
      set += ", ";
    }
    set += "hashed_password = " + params.add(password->hashed_password);
    set += ", cipher_dynamic_salt = " + params.add(password->cipher_dynamic_salt);
  }
  const std::string sql =
      "UPDATE users SET " + set + " WHERE uuid = " + uuid_param + " RETURNING " + kColumns;
  return translateErrors(
      [&] {
        return pool_.withTransaction([&](pqxx::work& tx) {
          return firstUser(
              tx.exec_params(sql, pqxx::prepare::make_dynamic_params(params.values())));
        });
      },
      loginTaken());
}

bool PgUserStore::setStatus(const Uuid& uuid, domain::UserStatus status) {
  return pool_.withTransaction([&](pqxx::work& tx) {
    return tx.exec_params(kSetStatus, uuid.toString(), std::string(domain::toString(status)))
               .affected_rows() > 0;
  });
}

}  // namespace pepeunit::store::pg
