// SQL for repos. Every value is a bound parameter; the only SQL assembled at run time is the
// list query's WHERE fragments, each a fixed string from this file.
#include "store/pg/pg_repo_store.hpp"

#include <algorithm>
#include <pqxx/pqxx>
#include <string>

#include "common/errors.hpp"
#include "domain/names.hpp"
#include "store/pg/errors.hpp"
#include "store/pg/sql_support.hpp"

namespace pepeunit::store::pg {
namespace {

using domain::Uuid;
using domain::Visibility;

constexpr const char* kColumns =
    "uuid::text, visibility_level, name, "
    "(EXTRACT(EPOCH FROM create_datetime) * 1000000)::bigint, "
    "(EXTRACT(EPOCH FROM last_update_datetime) * 1000000)::bigint, "
    "repo_url, platform, is_public_repository, cipher_credentials_private_repository, "
    "default_branch, is_compilable_repo, releases_data, is_auto_update_repo, default_commit, "
    "is_only_tag_update, creator_uuid::text";

constexpr const char* kInsertRepo =
    "INSERT INTO repos (uuid, visibility_level, name, repo_url, platform, is_public_repository,"
    "  cipher_credentials_private_repository, creator_uuid) "
    "VALUES ($1::uuid, $2, $3, $4, $5, $6::boolean, $7, $8::uuid) RETURNING ";

// The typed foreign-key column is picked by the type; an existing (agent, resource) pair is
// kept as it is (§1.6 automatic grants never fail the entity's creation).
constexpr const char* kInsertGrant =
    "INSERT INTO permissions (agent_type, agent_user_uuid, agent_unit_uuid, resource_type,"
    "  resource_repo_uuid, resource_unit_uuid, resource_unit_node_uuid) "
    "VALUES ($1::text,"
    "  CASE WHEN $1::text = 'User' THEN $2::uuid END,"
    "  CASE WHEN $1::text = 'Unit' THEN $2::uuid END,"
    "  $3::text,"
    "  CASE WHEN $3::text = 'Repo' THEN $4::uuid END,"
    "  CASE WHEN $3::text = 'Unit' THEN $4::uuid END,"
    "  CASE WHEN $3::text = 'UnitNode' THEN $4::uuid END) "
    "ON CONFLICT DO NOTHING";

constexpr const char* kNameTaken =
    "SELECT EXISTS (SELECT 1 FROM repos WHERE name = $1 AND uuid IS DISTINCT FROM $2::uuid)";

constexpr const char* kUpdateSettings =
    "UPDATE repos SET visibility_level = $2, name = $3, is_auto_update_repo = $4::boolean,"
    "  default_branch = $5, default_commit = $6, is_only_tag_update = $7::boolean,"
    "  last_update_datetime = (now() AT TIME ZONE 'UTC') "
    "WHERE uuid = $1::uuid RETURNING ";

constexpr const char* kSetCredentials =
    "UPDATE repos SET cipher_credentials_private_repository = $2,"
    "  last_update_datetime = (now() AT TIME ZONE 'UTC') "
    "WHERE uuid = $1::uuid RETURNING ";

constexpr const char* kUnitVisibilities =
    "SELECT DISTINCT visibility_level FROM units WHERE repo_uuid = $1::uuid";

// FOR UPDATE conflicts with the FOR KEY SHARE lock a concurrent Unit insert takes on the repo
// row through its foreign key, so "no Units" and the DELETE cannot be split by a new Unit.
constexpr const char* kLockRepo = "SELECT 1 FROM repos WHERE uuid = $1::uuid FOR UPDATE";
constexpr const char* kCountUnits = "SELECT count(*) FROM units WHERE repo_uuid = $1::uuid";
constexpr const char* kDeleteRepo = "DELETE FROM repos WHERE uuid = $1::uuid";

constexpr const char* kUnitVersions =
    "SELECT current_commit_version, count(*) FROM units "
    "WHERE repo_uuid = $1::uuid AND current_commit_version IS NOT NULL "
    "GROUP BY current_commit_version ORDER BY count(*) DESC, current_commit_version";

constexpr const char* kTryLock = "SELECT pg_try_advisory_lock($1::bigint)";
constexpr const char* kUnlock = "SELECT pg_advisory_unlock($1::bigint)";

OnConflict nameTakenError() {
  return {ErrorKind::kRepoValidation, "Name is not unique"};
}

const char* nullable(const std::optional<std::string>& value) {
  return value ? value->c_str() : nullptr;
}

Visibility visibilityOf(const pqxx::field& field) {
  const auto level = domain::parseVisibility(field.c_str());
  if (!level) {
    throw Error(ErrorKind::kInternal, "Internal server error",
                std::string("unreadable visibility_level: ") + field.c_str());
  }
  return *level;
}

Repo toRepo(const pqxx::row& row) {
  const auto uuid = Uuid::parse(row[0].c_str());
  if (!uuid) {
    throw Error(ErrorKind::kInternal, "Internal server error",
                std::string("repos row with unreadable uuid: ") + row[0].c_str());
  }
  Repo repo;
  repo.uuid = *uuid;
  repo.visibility_level = visibilityOf(row[1]);
  repo.name = row[2].c_str();
  repo.create_datetime = Timestamp(std::chrono::microseconds(row[3].as<std::int64_t>()));
  repo.last_update_datetime = Timestamp(std::chrono::microseconds(row[4].as<std::int64_t>()));
  repo.repo_url = row[5].c_str();
  repo.platform = row[6].c_str();
  repo.is_public_repository = row[7].as<bool>();
  repo.cipher_credentials = optionalTextOf(row[8]);
  repo.default_branch = optionalTextOf(row[9]);
  repo.is_compilable_repo = row[10].as<bool>();
  repo.releases_data = optionalTextOf(row[11]);
  repo.is_auto_update_repo = row[12].as<bool>();
  repo.default_commit = optionalTextOf(row[13]);
  repo.is_only_tag_update = row[14].as<bool>();
  if (!row[15].is_null()) {
    repo.creator_uuid = Uuid::parse(row[15].c_str());
  }
  return repo;
}

std::optional<Repo> firstRepo(const pqxx::result& rows) {
  if (rows.empty()) {
    return std::nullopt;
  }
  return toRepo(rows[0]);
}

std::string boolText(bool value) {
  return value ? "true" : "false";
}

std::string whereClause(const RepoFilter& filter, Params& params) {
  std::vector<std::string> conditions;
  // The caller's visibility scope (§3.6): levels, then Private rows only where granted.
  conditions.push_back(scopeCondition(filter.scope, params));
  if (!filter.uuids.empty()) {
    conditions.push_back("uuid = ANY(" + params.add(uuidArray(filter.uuids)) + "::uuid[])");
  }
  if (!filter.creators.empty()) {
    conditions.push_back("creator_uuid = ANY(" + params.add(uuidArray(filter.creators)) +
                         "::uuid[])");
  }
  for (const auto& word : filter.search_words) {
    // One pattern parameter, matched against each searchable column.
    const auto p = params.add(domain::likeContainsPattern(word));
    std::string any = "(name ILIKE ";
    any.append(p).append(" ESCAPE '\\' OR repo_url ILIKE ").append(p);
    any.append(" ESCAPE '\\' OR default_branch ILIKE ").append(p).append(" ESCAPE '\\')");
    conditions.push_back(std::move(any));
  }
  if (filter.is_auto_update_repo) {
    conditions.push_back(
        "is_auto_update_repo = " + params.add(boolText(*filter.is_auto_update_repo)) + "::boolean");
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

/// Releases the advisory lock before the connection goes back to the pool; a connection on
/// which the unlock failed is dropped, which ends the session and so releases the lock too.
class PgSyncLease : public SyncLease {
 public:
  explicit PgSyncLease(Pool::Lease lease) : lease_(std::move(lease)) {}
  PgSyncLease(const PgSyncLease&) = delete;
  PgSyncLease& operator=(const PgSyncLease&) = delete;
  ~PgSyncLease() override {
    try {
      pqxx::nontransaction tx(*lease_);
      tx.exec_params(kUnlock, PgRepoStore::kSyncLockKey);
    } catch (const std::exception&) {
      // Dropping the connection ends the session, which releases the lock as well.
      lease_.markBroken();
    }
  }

 private:
  Pool::Lease lease_;
};

}  // namespace

Repo PgRepoStore::insert(const NewRepo& repo, const std::vector<domain::GrantSpec>& grants) {
  static const std::string sql = std::string(kInsertRepo) + kColumns;
  return translateErrors(
      [&] {
        return pool_.withTransaction([&](pqxx::work& tx) {
          auto row = toRepo(tx.exec_params1(
              sql, repo.uuid.toString(), std::string(domain::toString(repo.visibility_level)),
              repo.name, repo.repo_url, repo.platform, boolText(repo.is_public_repository),
              nullable(repo.cipher_credentials), repo.creator.toString()));
          for (const auto& grant : grants) {
            tx.exec_params0(kInsertGrant, std::string(domain::toString(grant.agent_type)),
                            grant.agent.toString(),
                            std::string(domain::toString(grant.resource_type)),
                            grant.resource.toString());
          }
          return row;
        });
      },
      nameTakenError());
}

std::optional<Repo> PgRepoStore::find(const Uuid& uuid) {
  static const std::string sql = std::string("SELECT ") + kColumns + " FROM repos WHERE uuid = $1";
  return translateErrors([&] {
    return pool_.withRead(
        [&](pqxx::nontransaction& tx) { return firstRepo(tx.exec_params(sql, uuid.toString())); });
  });
}

bool PgRepoStore::nameTaken(const std::string& name, const std::optional<Uuid>& except) {
  const std::optional<std::string> except_text =
      except ? std::optional<std::string>(except->toString()) : std::nullopt;
  return translateErrors([&] {
    return pool_.withRead([&](pqxx::nontransaction& tx) {
      return tx.exec_params1(kNameTaken, name, nullable(except_text))[0].as<bool>();
    });
  });
}

RepoPage PgRepoStore::list(const RepoFilter& filter) {
  if (filter.scope.matchesNothing()) {
    return {};
  }
  Params params;
  const std::string where = whereClause(filter, params);
  const std::string count_sql = "SELECT count(*) FROM repos" + where;

  Params page_params = params;
  const char* created = filter.created_newest_first ? "DESC" : "ASC";
  const char* updated = filter.updated_newest_first ? "DESC" : "ASC";
  std::string rows_sql = std::string("SELECT ") + kColumns + " FROM repos" + where +
                         " ORDER BY create_datetime " + created + ", last_update_datetime " +
                         updated + ", uuid " + created + " OFFSET " +
                         page_params.add(std::to_string(filter.offset));
  if (filter.limit) {
    rows_sql += " LIMIT " + page_params.add(std::to_string(*filter.limit));
  }

  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) {
      RepoPage page;
      page.count =
          tx.exec_params1(count_sql, pqxx::prepare::make_dynamic_params(params.values()))[0]
              .as<std::int64_t>();
      const auto rows =
          tx.exec_params(rows_sql, pqxx::prepare::make_dynamic_params(page_params.values()));
      page.rows.reserve(rows.size());
      for (const auto& row : rows) {
        page.rows.push_back(toRepo(row));
      }
      return page;
    });
  });
}

std::vector<Repo> PgRepoStore::listAll() {
  static const std::string sql =
      std::string("SELECT ") + kColumns + " FROM repos ORDER BY create_datetime, uuid";
  return translateErrors([&] {
    return pool_.withRead([&](pqxx::nontransaction& tx) {
      std::vector<Repo> repos;
      for (const auto& row : tx.exec(sql)) {
        repos.push_back(toRepo(row));
      }
      return repos;
    });
  });
}

std::optional<Repo> PgRepoStore::updateSettings(const Uuid& uuid, const RepoSettings& settings) {
  static const std::string sql = std::string(kUpdateSettings) + kColumns;
  return translateErrors(
      [&] {
        return pool_.withTransaction([&](pqxx::work& tx) {
          return firstRepo(tx.exec_params(
              sql, uuid.toString(), std::string(domain::toString(settings.visibility_level)),
              settings.name, boolText(settings.is_auto_update_repo),
              nullable(settings.default_branch), nullable(settings.default_commit),
              boolText(settings.is_only_tag_update)));
        });
      },
      nameTakenError());
}

std::optional<Repo> PgRepoStore::setCredentials(const Uuid& uuid,
                                                const std::string& cipher_credentials) {
  static const std::string sql = std::string(kSetCredentials) + kColumns;
  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) {
      return firstRepo(tx.exec_params(sql, uuid.toString(), cipher_credentials));
    });
  });
}

std::vector<Visibility> PgRepoStore::unitVisibilities(const Uuid& uuid) {
  return translateErrors([&] {
    return pool_.withRead([&](pqxx::nontransaction& tx) {
      std::vector<Visibility> levels;
      for (const auto& row : tx.exec_params(kUnitVisibilities, uuid.toString())) {
        levels.push_back(visibilityOf(row[0]));
      }
      return levels;
    });
  });
}

RepoDeleteResult PgRepoStore::remove(const Uuid& uuid) {
  return translateErrors([&] {
    return pool_.withTransaction([&](pqxx::work& tx) {
      if (tx.exec_params(kLockRepo, uuid.toString()).empty()) {
        return RepoDeleteResult{RepoDeleteOutcome::kNotFound, 0};
      }
      const auto units = tx.exec_params1(kCountUnits, uuid.toString())[0].as<std::int64_t>();
      if (units > 0) {
        return RepoDeleteResult{RepoDeleteOutcome::kHasUnits, units};
      }
      tx.exec_params0(kDeleteRepo, uuid.toString());
      return RepoDeleteResult{RepoDeleteOutcome::kDeleted, 0};
    });
  });
}

std::vector<RepoVersionCount> PgRepoStore::unitVersions(const Uuid& uuid) {
  return translateErrors([&] {
    return pool_.withRead([&](pqxx::nontransaction& tx) {
      std::vector<RepoVersionCount> versions;
      for (const auto& row : tx.exec_params(kUnitVersions, uuid.toString())) {
        versions.push_back({row[0].c_str(), row[1].as<std::int64_t>()});
      }
      return versions;
    });
  });
}

std::unique_ptr<SyncLease> PgRepoStore::tryLockSync() {
  auto lease = pool_.acquire();
  bool locked = false;
  try {
    pqxx::nontransaction tx(*lease);
    locked = tx.exec_params1(kTryLock, kSyncLockKey)[0].as<bool>();
  } catch (const pqxx::broken_connection& e) {
    lease.markBroken();
    throw Unavailable(kUnavailableMessage, pool_.scrub(e.what()));
  }
  if (!locked) {
    return nullptr;
  }
  return std::make_unique<PgSyncLease>(std::move(lease));
}

}  // namespace pepeunit::store::pg
