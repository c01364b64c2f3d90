// UnitStore over PostgreSQL (schemas/sql/0001: units with UNIQUE(name), units_nodes,
// units_nodes_edges, permissions with UNIQUE(agent_uuid, resource_uuid)); reads the repos table
// directly for the few Repo facts the unit flow needs.
#pragma once

#include "store/pg/pool.hpp"
#include "store/unit_store.hpp"

namespace pepeunit::store::pg {

class PgUnitStore : public UnitStore {
 public:
  explicit PgUnitStore(Pool& pool) : pool_(pool) {}

  std::optional<Unit> find(const domain::Uuid& uuid) override;
  std::optional<domain::Uuid> findUuidByName(const std::string& name) override;
  std::optional<UnitRepoFacts> findRepo(const domain::Uuid& repo) override;
  Unit insert(const NewUnit& unit, const NodeChanges& nodes) override;
  std::optional<Unit> update(const domain::Uuid& uuid, const UnitSettings& settings) override;
  std::vector<UnitNode> reconcile(const domain::Uuid& unit, const NodeChanges& changes,
                                  const std::optional<std::string>& new_cipher_env) override;
  bool remove(const domain::Uuid& uuid) override;
  std::size_t deleteLogs(const domain::Uuid& unit) override;
  std::vector<UnitNode> nodesOf(const domain::Uuid& unit) override;
  std::vector<LinkedOutput> linkedOutputs(const domain::Uuid& unit) override;
  UnitPage list(const UnitFilter& filter, const UnitListScopes& scopes) override;
  std::vector<Unit> autoUpdateUnitsOf(const domain::Uuid& repo) override;
  bool setCipherEnv(const domain::Uuid& unit, const std::optional<std::string>& cipher) override;
  bool setCipherStateStorage(const domain::Uuid& unit,
                             const std::optional<std::string>& cipher) override;
  bool setFirmwareUpdate(const domain::Uuid& unit,
                         std::optional<domain::FirmwareUpdateStatus> status,
                         const std::optional<std::string>& error,
                         std::optional<Timestamp> last_firmware_update_datetime,
                         const std::optional<std::string>& target) override;

 private:
  Pool& pool_;
};

}  // namespace pepeunit::store::pg
