// Applies the numbered, forward-only SQL migrations of schemas/sql/ (aesthetics_anchors.md §3
// item 10). Shared by `pepeunit-backend migrate`, startup with BACKEND_AUTO_MIGRATE and the tests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <pqxx/connection_base>
#include <stdexcept>
#include <string>
#include <vector>

namespace pepeunit::store::pg {

/// A migration that cannot be applied: bad file name, duplicate version, an applied file that
/// was edited, a gap filled out of order, or SQL that failed. The message names the file.
class MigrationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One `NNNN_name.sql` file as read from disk.
struct MigrationFile {
  int version = 0;
  std::string file_name;  // "0001_e3_data_model.sql"; recorded as schema_migrations.name
  std::string checksum;   // lowercase hex SHA-256 of the file's bytes
  std::string sql;
};

/// Lowercase hex SHA-256 of `data`.
std::string sha256Hex(const std::string& data);

class Migrator {
 public:
  /// Session advisory-lock key held for the whole run, so instances starting together apply
  /// each migration once (ASCII "pepemigr"; the scheduler election uses a different key).
  static constexpr std::int64_t kAdvisoryLockKey = 0x706570656d696772;

  explicit Migrator(std::filesystem::path dir) : dir_(std::move(dir)) {}

  /// The directory's migrations sorted by version. Every `*.sql` file (any case) must be named
  /// `^[0-9]{4}_[a-z0-9_]+\.sql$` and versions must be distinct; other files are ignored.
  /// Throws MigrationError.
  std::vector<MigrationFile> load() const;

  /// Applies the pending migrations in version order, each in its own transaction together with
  /// its schema_migrations row, and returns the versions it applied (empty when up to date).
  /// Refuses (MigrationError) an applied file whose checksum or name changed and a pending file
  /// older than the newest applied one; versions in the database but not on disk (a newer
  /// release ran) are left alone. A lost connection surfaces as pepeunit::Unavailable.
  std::vector<int> run(pqxx::connection_base& conn) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace pepeunit::store::pg
