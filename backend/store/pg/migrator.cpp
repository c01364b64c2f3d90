// Migration runner: scan and validate the directory, take the advisory lock, compare with
// schema_migrations, apply what is pending one transaction per file.
#include "store/pg/migrator.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <iterator>
#include <map>
#include <pqxx/errorhandler>
#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>
#include <regex>

#include "common/errors.hpp"
#include "store/pg/errors.hpp"

namespace pepeunit::store::pg {
namespace {

constexpr const char* kCreateTable = R"sql(
CREATE TABLE IF NOT EXISTS schema_migrations (
  version     integer     PRIMARY KEY,
  name        text        NOT NULL,
  checksum    text        NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
))sql";
constexpr const char* kSelectApplied =
    "SELECT version, name, checksum FROM schema_migrations ORDER BY version";
constexpr const char* kInsertApplied =
    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)";

struct AppliedMigration {
  std::string name;
  std::string checksum;
};

std::string versionText(int version) {
  std::string text = std::to_string(version);
  return std::string(text.size() < 4 ? 4 - text.size() : 0, '0') + text;
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw MigrationError("cannot read migration " + path.string());
  }
  std::string content{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) {
    throw MigrationError("cannot read migration " + path.string());
  }
  return content;
}

// Holds pg_advisory_lock for the lifetime of the object on the given session.
class AdvisoryLock {
 public:
  AdvisoryLock(pqxx::connection_base& conn, std::int64_t key) : conn_(conn), key_(key) {
    pqxx::nontransaction txn(conn_);
    txn.exec_params("SELECT pg_advisory_lock($1)", key_);
  }
  ~AdvisoryLock() {
    try {
      pqxx::nontransaction txn(conn_);
      txn.exec_params("SELECT pg_advisory_unlock($1)", key_);
    } catch (...) {
      // The connection is gone, and with it the session and the lock.
    }
  }
  AdvisoryLock(const AdvisoryLock&) = delete;
  AdvisoryLock& operator=(const AdvisoryLock&) = delete;

 private:
  pqxx::connection_base& conn_;
  std::int64_t key_;
};

std::map<int, AppliedMigration> readApplied(pqxx::connection_base& conn) {
  pqxx::work txn(conn);
  txn.exec(kCreateTable);
  std::map<int, AppliedMigration> applied;
  for (const auto& row : txn.exec(kSelectApplied)) {
    applied.emplace(row[0].as<int>(),
                    AppliedMigration{row[1].as<std::string>(), row[2].as<std::string>()});
  }
  txn.commit();
  return applied;
}

// The rules of a forward-only history, checked before anything is applied.
std::vector<const MigrationFile*> pendingMigrations(
    const std::vector<MigrationFile>& files, const std::map<int, AppliedMigration>& applied) {
  const int newest_applied = applied.empty() ? -1 : applied.rbegin()->first;
  std::vector<const MigrationFile*> pending;
  for (const auto& file : files) {
    const auto it = applied.find(file.version);
    if (it == applied.end()) {
      if (file.version < newest_applied) {
        throw MigrationError("migration " + file.file_name +
                             " is older than the newest applied migration " +
                             applied.rbegin()->second.name + "; give it a number after that one");
      }
      pending.push_back(&file);
      continue;
    }
    if (it->second.checksum != file.checksum) {
      throw MigrationError("migration " + file.file_name +
                           " was edited after it was applied (recorded sha256 " +
                           it->second.checksum + ", file now " + file.checksum +
                           "); migrations are forward-only: restore the file and put the change "
                           "in a new numbered migration");
    }
    if (it->second.name != file.file_name) {
      throw MigrationError("migration " + versionText(file.version) + " was applied as " +
                           it->second.name + " but the file is now named " + file.file_name +
                           "; migrations are forward-only: restore the old name");
    }
  }
  return pending;
}

void apply(pqxx::connection_base& conn, const MigrationFile& file) {
  try {
    pqxx::work txn(conn, "migration_" + versionText(file.version));
    txn.exec(file.sql);
    txn.exec_params(kInsertApplied, file.version, file.file_name, file.checksum);
    txn.commit();
  } catch (const pqxx::broken_connection&) {
    throw;
  } catch (const pqxx::in_doubt_error&) {
    throw;
  } catch (const pqxx::sql_error& e) {
    throw MigrationError("migration " + file.file_name + " failed: " + e.what());
  }
}

}  // namespace

std::string sha256Hex(const std::string& data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(static_cast<std::size_t>(length) * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0x0f]);
  }
  return hex;
}

std::vector<MigrationFile> Migrator::load() const {
  static const std::regex name_pattern("^[0-9]{4}_[a-z0-9_]+\\.sql$");
  std::error_code ec;
  if (!std::filesystem::is_directory(dir_, ec)) {
    throw MigrationError("migrations directory " + dir_.string() + " does not exist");
  }
  std::vector<MigrationFile> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    const std::string name = entry.path().filename().string();
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!lower.ends_with(".sql")) {
      continue;
    }
    if (!std::regex_match(name, name_pattern)) {
      throw MigrationError("bad migration file name " + name + " in " + dir_.string() +
                           ": expected NNNN_name.sql (four digits, '_', then [a-z0-9_])");
    }
    if (!entry.is_regular_file()) {
      throw MigrationError("migration " + name + " in " + dir_.string() + " is not a file");
    }
    MigrationFile file;
    file.version = std::stoi(name.substr(0, 4));
    file.file_name = name;
    file.sql = readFile(entry.path());
    file.checksum = sha256Hex(file.sql);
    files.push_back(std::move(file));
  }
  std::sort(files.begin(), files.end(),
            [](const MigrationFile& a, const MigrationFile& b) { return a.version < b.version; });
  for (std::size_t i = 1; i < files.size(); ++i) {
    if (files[i].version == files[i - 1].version) {
      throw MigrationError("migrations " + files[i - 1].file_name + " and " + files[i].file_name +
                           " share version " + versionText(files[i].version));
    }
  }
  return files;
}

std::vector<int> Migrator::run(pqxx::connection_base& conn) const {
  const std::vector<MigrationFile> files = load();
  // Keeps "relation schema_migrations already exists, skipping" and friends off stderr.
  const pqxx::quiet_errorhandler quiet(conn);
  std::vector<int> applied_now;
  try {
    const AdvisoryLock lock(conn, kAdvisoryLockKey);
    const auto applied = readApplied(conn);
    for (const MigrationFile* file : pendingMigrations(files, applied)) {
      apply(conn, *file);
      applied_now.push_back(file->version);
    }
  } catch (const pqxx::broken_connection& e) {
    throw Unavailable(kUnavailableMessage, std::string("while migrating: ") + e.what());
  } catch (const pqxx::in_doubt_error& e) {
    throw Unavailable(kUnavailableMessage,
                      std::string("migration commit outcome unknown: ") + e.what());
  } catch (const pqxx::sql_error& e) {
    throw MigrationError(std::string("cannot read or lock schema_migrations: ") + e.what());
  }
  return applied_now;
}

}  // namespace pepeunit::store::pg
