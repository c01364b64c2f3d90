// Persistence of Units (pepeunit_backend_spec.md §1.3, §1.6, §1.9, §2.3, §7.6) as the unit use
// cases see it: the Unit rows, the visibility-scoped list (optionally with each Unit's nodes),
// the node set a Unit gets at creation and at every reconcile (created and deleted together with
// their automatic permissions, in one transaction), the node and edge facts that schema.json is
// built from, and the few Repo columns the unit flow depends on. Implemented over PostgreSQL in
// store/pg/pg_unit_store.*.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domain/access.hpp"
#include "domain/enums.hpp"
#include "domain/reconcile.hpp"
#include "domain/uuid.hpp"
#include "store/unit_node_store.hpp"
#include "store/user_store.hpp"

namespace pepeunit::store {

/// One `units` row.
struct Unit {
  domain::Uuid uuid;
  domain::Visibility visibility_level = domain::Visibility::kPublic;
  std::string name;
  Timestamp create_datetime{};
  Timestamp last_update_datetime{};
  bool is_auto_update_from_repo_unit = true;
  std::optional<std::string> target_firmware_platform;
  std::optional<std::string> repo_branch;
  std::optional<std::string> repo_commit;
  /// JSON text of the last accepted state message (spec §5.4).
  std::optional<std::string> unit_state_dict;
  std::optional<std::string> current_commit_version;
  /// SecretBox ciphertexts; never leave the service layer.
  std::optional<std::string> cipher_env_dict;
  std::optional<std::string> cipher_state_storage;
  std::optional<domain::FirmwareUpdateStatus> firmware_update_status;
  std::optional<std::string> firmware_update_error;
  std::optional<Timestamp> last_firmware_update_datetime;
  /// Nullable in the schema (imported data).
  std::optional<domain::Uuid> creator_uuid;
  std::optional<domain::Uuid> repo_uuid;
};

/// The `repos` columns the unit flow needs (visibility ordering, target version, ownership).
struct UnitRepoFacts {
  domain::Uuid uuid;
  domain::Visibility visibility_level = domain::Visibility::kPublic;
  std::optional<std::string> default_branch;
  std::optional<std::string> default_commit;
  bool is_auto_update_repo = true;
  bool is_only_tag_update = false;
  bool is_compilable_repo = false;
  std::optional<domain::Uuid> creator_uuid;
};

/// The columns a Unit is created with; uuid and timestamps are decided by the store.
struct NewUnit {
  domain::Uuid repo_uuid;
  domain::Uuid creator_uuid;
  domain::Visibility visibility_level = domain::Visibility::kPublic;
  std::string name;
  bool is_auto_update_from_repo_unit = true;
  std::optional<std::string> target_firmware_platform;
  std::optional<std::string> repo_branch;
  std::optional<std::string> repo_commit;
};

/// The user-editable columns after a PATCH (every one written; the service merges the request
/// into the current row first). last_update_datetime becomes now.
struct UnitSettings {
  domain::Visibility visibility_level = domain::Visibility::kPublic;
  std::string name;
  bool is_auto_update_from_repo_unit = true;
  std::optional<std::string> target_firmware_platform;
  std::optional<std::string> repo_branch;
  std::optional<std::string> repo_commit;
};

/// Nodes to create and delete for a Unit (domain::planNodeReconcile), with what the new nodes
/// and their permissions need.
struct NodeChanges {
  std::vector<domain::NodeToCreate> create;
  std::vector<domain::Uuid> remove;
  /// Copied from the Unit (spec §1.4).
  domain::Visibility visibility_level = domain::Visibility::kPublic;
  /// The new nodes' creator_uuid: the Unit's creator.
  std::optional<domain::Uuid> creator_uuid;
  /// Users granted each new node besides the owning Unit (spec §1.6: the acting user; we also
  /// always include the Unit's creator so a Private node stays visible to its owner).
  std::vector<domain::Uuid> granted_users;
};

/// An Output node linked to one of the Unit's Input nodes (schema.json, spec §6.3).
struct LinkedOutput {
  domain::Uuid input_node;
  domain::Uuid output_node;
  std::string output_topic_name;
};

/// `GET /units` filters (§2.3 UnitFilter). Empty vectors mean "no filter on that column".
struct UnitFilter {
  std::vector<domain::Uuid> uuids;
  std::optional<domain::Uuid> creator_uuid;
  std::optional<domain::Uuid> repo_uuid;
  std::vector<domain::Uuid> repos_uuids;
  /// Every word must be a case-insensitive substring of the name, taken literally.
  std::vector<std::string> search_words;
  std::optional<bool> is_auto_update_from_repo_unit;
  /// The caller's `visibility_level[]`; the service turns it into UnitListScopes::units.
  std::vector<domain::Visibility> visibility_levels;
  /// ORDER BY create_datetime, last_update_datetime, name (the original applies all three).
  bool order_create_desc = true;
  bool order_update_desc = true;
  bool order_name_desc = false;
  std::int64_t offset = 0;
  /// nullopt = no limit.
  std::optional<std::int64_t> limit;

  /// `is_include_output_unit_nodes`: fill UnitListItem::nodes.
  bool include_nodes = false;
  /// With include_nodes: only Units owning an Output node linked to this Input, each with just
  /// those Output nodes (the node type/uuid filters are then ignored, as in the original).
  std::optional<domain::Uuid> unit_node_input_uuid;
  /// With include_nodes: the node types to include (empty = both).
  std::vector<domain::UnitNodeType> unit_node_types;
  /// With include_nodes: only these nodes, and only Units owning at least one of them.
  std::vector<domain::Uuid> unit_node_uuids;
};

/// Visibility of the list: Units by the caller's Unit grants, nodes by its UnitNode grants.
struct UnitListScopes {
  domain::ListScope units;
  domain::ListScope nodes;
};

struct UnitListItem {
  Unit unit;
  /// Filled only when UnitFilter::include_nodes; oldest node first.
  std::vector<UnitNode> nodes;
};

struct UnitPage {
  /// Matching Units before offset/limit.
  std::int64_t count = 0;
  std::vector<UnitListItem> rows;
};

class UnitStore {
 public:
  virtual ~UnitStore() = default;

  virtual std::optional<Unit> find(const domain::Uuid& uuid) = 0;

  /// The uuid of the Unit named `name`, if any (names are unique instance-wide).
  virtual std::optional<domain::Uuid> findUuidByName(const std::string& name) = 0;

  virtual std::optional<UnitRepoFacts> findRepo(const domain::Uuid& repo) = 0;

  /// Inserts the Unit, its automatic permissions (creator → Unit, Unit → itself), the nodes of
  /// `nodes` and their permissions (Unit → node, each granted user → node), all in one
  /// transaction. A taken name throws Error(kUnitValidation, "Name is not unique"); a Repo or
  /// creator that vanished meanwhile, ValidationError("The object does not exist").
  virtual Unit insert(const NewUnit& unit, const NodeChanges& nodes) = 0;

  /// Writes `settings` and last_update_datetime = now, and raises every node of the Unit whose
  /// level is less restrictive than the Unit's new level to that level (§1.9), in one
  /// transaction. nullopt when there is no such Unit; a taken name throws as insert() does.
  virtual std::optional<Unit> update(const domain::Uuid& uuid, const UnitSettings& settings) = 0;

  /// §7.6 steps 4-6 in one transaction: deletes `changes.remove` (edges and permissions
  /// cascade), creates `changes.create` with their permissions, replaces cipher_env_dict when
  /// `new_cipher_env` is set, and touches last_update_datetime. Returns the Unit's nodes after
  /// the change.
  virtual std::vector<UnitNode> reconcile(const domain::Uuid& unit, const NodeChanges& changes,
                                          const std::optional<std::string>& new_cipher_env) = 0;

  /// Deletes the Unit (nodes, edges and permissions cascade); false when there was none.
  virtual bool remove(const domain::Uuid& uuid) = 0;

  /// Deletes every stored log line of the Unit (before a LogSync); how many went.
  virtual std::size_t deleteLogs(const domain::Uuid& unit) = 0;

  /// The Unit's nodes, oldest first.
  virtual std::vector<UnitNode> nodesOf(const domain::Uuid& unit) = 0;

  /// The Output nodes (of any Unit) linked by an edge to an Input node of `unit`.
  virtual std::vector<LinkedOutput> linkedOutputs(const domain::Uuid& unit) = 0;

  /// The Units matching `filter` that `scopes.units` admits, and their nodes that
  /// `scopes.nodes` admits. A scope that matches nothing gives an empty page.
  virtual UnitPage list(const UnitFilter& filter, const UnitListScopes& scopes) = 0;

  /// The Units of `repo` with is_auto_update_from_repo_unit, oldest first.
  virtual std::vector<Unit> autoUpdateUnitsOf(const domain::Uuid& repo) = 0;

  /// cipher_env_dict (NULL when nullopt); false when there is no such Unit.
  virtual bool setCipherEnv(const domain::Uuid& unit, const std::optional<std::string>& cipher) = 0;

  /// cipher_state_storage (NULL when nullopt); false when there is no such Unit.
  virtual bool setCipherStateStorage(const domain::Uuid& unit,
                                     const std::optional<std::string>& cipher) = 0;

  /// The §8.4 step 5 bookkeeping of an Update command; false when there is no such Unit.
  /// `target` is the commit the command carried (units.firmware_update_target, which the state
  /// ingest compares the reported commit_version against); every nullopt writes NULL.
  virtual bool setFirmwareUpdate(const domain::Uuid& unit,
                                 std::optional<domain::FirmwareUpdateStatus> status,
                                 const std::optional<std::string>& error,
                                 std::optional<Timestamp> last_firmware_update_datetime,
                                 const std::optional<std::string>& target) = 0;
};

}  // namespace pepeunit::store
