// PgIngestStore::saveStates against a real PostgreSQL: batches large enough to be written as two
// parallel halves keep every unit's last state, run the update status machine only for units
// waiting for an update (RequestSent), in arrival order, and report unknown units.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <chrono>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "domain/uuid.hpp"
#include "integration/harness/stack.hpp"
#include "store/pg/pg_ingest_store.hpp"
#include "store/pg/pool.hpp"

namespace {

using pepeunit::domain::Uuid;
using pepeunit::store::UnitStateWrite;
using pepeunit::store::UpdateStatusChange;
using pepeunit::store::UpdateStatusView;

pepeunit::testing::Stack& stack() {
  static pepeunit::testing::Stack instance;  // the backend migrates the schema
  return instance;
}

}  // namespace

TEST_CASE("saveStates: a large batch, parallel halves, status machine, unknown units") {
  constexpr int kUnits = 600;  // above the parallel threshold (256)
  std::vector<std::string> units;
  {
    pqxx::connection c(stack().pg().url());
    pqxx::work tx(c);
    const auto user = tx.exec1(
                            "INSERT INTO users (role, status, login, hashed_password, "
                            "cipher_dynamic_salt) VALUES ('User','Verified','st','x','x') "
                            "RETURNING uuid::text")[0]
                          .as<std::string>();
    const auto repo = tx.exec_params1(
                            "INSERT INTO repos (name, repo_url, creator_uuid) VALUES "
                            "('st', 'https://e.com/r.git', $1) RETURNING uuid::text",
                            user)[0]
                          .as<std::string>();
    for (const auto& row :
         tx.exec_params("INSERT INTO units (name, creator_uuid, repo_uuid) SELECT 'st' || i, $1, "
                        "$2 FROM generate_series(1, $3) i ORDER BY i RETURNING uuid::text",
                        user, repo, kUnits)) {
      units.push_back(row[0].as<std::string>());
    }
    // Every 3rd unit waits for commit "new"; every 6th has already failed.
    for (int i = 0; i < kUnits; i += 3) {
      tx.exec_params(
          "UPDATE units SET firmware_update_status = $2, firmware_update_target = 'new', "
          "last_firmware_update_datetime = now() AT TIME ZONE 'UTC' WHERE uuid = $1",
          units[static_cast<std::size_t>(i)], i % 6 == 0 ? "Error" : "RequestSent");
    }
    tx.commit();
  }

  const auto now =
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  std::vector<UnitStateWrite> states;
  for (int i = 0; i < kUnits; ++i) {
    const auto uuid = *Uuid::parse(units[static_cast<std::size_t>(i)]);
    // Two states per unit: "old" then "new"; the second one must win and complete the update.
    states.push_back({uuid, R"({"n": 1})", std::string("old"), now});
    states.push_back({uuid, R"({"n": 2})", std::string("new"), now + std::chrono::seconds(1)});
  }
  const auto ghost = *Uuid::parse("0f8fad5b-d9cb-469f-a165-70867728950e");
  states.push_back({ghost, "{}", std::nullopt, now});

  pepeunit::store::pg::Pool pool(stack().pg().url(), 2);
  pepeunit::store::pg::PgIngestStore store(pool);
  std::mutex mutex;
  std::vector<std::size_t> decided;
  const auto found = store.saveStates(states, [&](std::size_t i, const UpdateStatusView& view) {
    {
      std::lock_guard lock(mutex);
      decided.push_back(i);
    }
    CHECK(view.status == "RequestSent");
    if (states[i].commit_version == view.target)
      return std::optional<UpdateStatusChange>(UpdateStatusChange{"Success", std::nullopt});
    return std::optional<UpdateStatusChange>();
  });

  REQUIRE(found.size() == states.size());
  for (std::size_t i = 0; i + 1 < states.size(); ++i)
    CHECK(found[i]);
  CHECK_FALSE(found.back());
  // Only the waiting units (every 3rd but not every 6th: 100 units) were decided, both states.
  CHECK(decided.size() == 200);

  pqxx::connection c(stack().pg().url());
  pqxx::nontransaction tx(c);
  int success = 0, error = 0, none = 0;
  for (int i = 0; i < kUnits; ++i) {
    const auto row = tx.exec_params1(
        "SELECT unit_state_dict, current_commit_version, firmware_update_status, "
        "last_firmware_update_datetime IS NULL FROM units WHERE uuid = $1",
        units[static_cast<std::size_t>(i)]);
    CHECK(row[0].as<std::string>() == R"({"n": 2})");
    CHECK(row[1].as<std::string>() == "new");
    const std::string status = row[2].is_null() ? "" : row[2].c_str();
    if (status == "Success") {
      ++success;
      CHECK(row[3].as<bool>());  // the request datetime is cleared with the status
    } else if (status == "Error") {
      ++error;
    } else {
      ++none;
    }
  }
  CHECK(success == 100);
  CHECK(error == 100);
  CHECK(none == 400);
}
