// Persistence port of the MQTT ingest (service/ingest_service.hpp): the known-node snapshot,
// batched last-value + history writes, unit state with the firmware update status, logs, the
// update-timeout sweep and history housekeeping.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "domain/uuid.hpp"
#include "store/user_store.hpp"

namespace pepeunit::store {

/// One row of units_nodes as the ingest needs it.
struct IngestNode {
  domain::Uuid uuid;
  std::string history_policy = "changes";  ///< off | changes | all
  std::optional<double> history_deadband;
  std::optional<std::string> state;
  Timestamp last_update{};
};

/// A node's new last value (units_nodes.state / last_update_datetime).
struct LastValueWrite {
  domain::Uuid node;
  std::string value;
  Timestamp at{};
};

/// One row of unit_node_values.
struct HistoryWrite {
  domain::Uuid node;
  std::string value;
  std::optional<double> numeric;
  Timestamp at{};
};

/// One row of unit_logs.
struct UnitLogWrite {
  domain::Uuid unit;
  std::string level;  ///< Debug | Info | Warning | Error | Critical
  std::string text;
  Timestamp create_datetime{};
  Timestamp expires_at{};
};

/// The update-tracking columns of a unit (spec §8.5), read under a row lock.
struct UpdateStatusView {
  std::optional<std::string> status;      ///< RequestSent | Error | Success | null
  std::optional<std::string> target;      ///< units.firmware_update_target
  std::optional<Timestamp> requested_at;  ///< last_firmware_update_datetime
};

/// What the status machine decided; the datetime is always cleared with it.
struct UpdateStatusChange {
  std::string status;                ///< Success | Error
  std::optional<std::string> error;  ///< null for Success
};

/// A state message reduced to what is stored (spec §5.4).
struct UnitStateWrite {
  domain::Uuid unit;
  std::string state_json;  ///< the filtered unit_state_dict
  std::optional<std::string> commit_version;
  Timestamp at{};
};

class IngestStore {
 public:
  /// The update status change the `index`-th state of a batch causes, given its unit's locked
  /// update columns.
  using StatusDecider = std::function<std::optional<UpdateStatusChange>(
      std::size_t index, const UpdateStatusView& current)>;

  virtual ~IngestStore() = default;

  /// Every node (uuid, policy, last value). Throws Unavailable when the database is down.
  virtual std::vector<IngestNode> loadNodes() = 0;

  /// One round trip: sets each node's last value unless it already holds it or holds a newer
  /// one (`IS DISTINCT FROM`, `last_update_datetime <= at`), and appends `history`. Nodes that
  /// no longer exist are skipped. Throws Unavailable on a lost connection.
  virtual void writeValues(std::span<const LastValueWrite> last_values,
                           std::span<const HistoryWrite> history) = 0;

  /// Stores a batch of states: locks the update columns of the units that wait for a firmware
  /// update (status RequestSent, the only status a state can move), applies `decide` to their
  /// states in order (a unit's later state sees the change its earlier one made; states of
  /// other units are not decided) and writes each unit's last state with its resulting status,
  /// all units in one statement. A large batch may be written as parallel parts of disjoint
  /// units, each one transaction, so `decide` may run concurrently for different units.
  /// Returns, per state, whether its unit exists.
  virtual std::vector<bool> saveStates(std::span<const UnitStateWrite> states,
                                       const StatusDecider& decide) = 0;

  /// Inserts the logs of units that exist; returns how many rows were stored.
  virtual std::size_t insertLogs(std::span<const UnitLogWrite> logs) = 0;

  /// RequestSent units whose request is older than `cutoff` become Error with `error` (and a
  /// null datetime). Returns how many changed.
  virtual std::size_t expireUpdateRequests(Timestamp cutoff, const std::string& error) = 0;

  /// Partitions ahead, retention, rollups, expired logs (pepeunit_history_maintain).
  virtual void maintainHistory() = 0;
};

}  // namespace pepeunit::store
