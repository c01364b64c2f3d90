// Pure decisions of the MQTT ingest (spec §5.3, §5.4, §8.5; unit protocol §2.4): which topics
// it consumes, which payloads it accepts, when a value reaches the last-value column and the
// history, how a state message is reduced, when a state is too early, how the firmware update
// status advances, and how a 2026 log message is read. No I/O, so all of it is unit-tested.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "domain/uuid.hpp"
#include "store/ingest_store.hpp"

namespace pepeunit::service::ingest {

/// Why a message was not (fully) stored; each reason has its own counter.
enum class DropReason : std::uint8_t {
  kOversize,          ///< payload longer than MQTT_MAX_PAYLOAD_SIZE
  kInvalidUtf8,       ///< not UTF-8 text (or contains NUL, which PostgreSQL text cannot hold)
  kBadTopic,          ///< not `D/<uuid>/pepeunit` or `D/<dest>/<uuid>/<name>/pepeunit`
  kWrongDomain,       ///< first level is not our BACKEND_DOMAIN
  kWrongDestination,  ///< 5 levels but not output_base_topic state/log
  kOwnCommand,        ///< input_base_topic: our own commands coming back
  kUnknownNode,       ///< value for a node uuid we do not know
  kBadState,          ///< state payload not a JSON object
  kStateTooEarly,     ///< state sooner than the state interval after the last accepted one
  kUnknownUnit,       ///< state or log for a unit that does not exist
  kBadLog,            ///< log payload (or one of its entries) unreadable
  kQueueOverflow,     ///< writer queue full: the oldest queued item was dropped
  kWriteFailed,       ///< the database rejected a batch (not an outage: those are retried)
  kCount_
};
inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::kCount_);
std::string_view dropReasonName(DropReason reason);

struct ValueTopic {
  domain::Uuid node;
};
struct StateTopic {
  domain::Uuid unit;
};
struct LogTopic {
  domain::Uuid unit;
};
using IngestTopic = std::variant<DropReason, ValueTopic, StateTopic, LogTopic>;

/// Classifies a topic received on `D/+/pepeunit` or `D/+/+/+/pepeunit`.
IngestTopic parseIngestTopic(std::string_view topic, std::string_view domain);

/// Well-formed UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF) without NUL bytes.
bool isStorableText(std::string_view text);

/// The whole payload as a finite decimal number ("21.5", "-3", "1e3"); nullopt otherwise
/// (surrounding spaces, "nan", "inf", hex, trailing text).
std::optional<double> parseNumeric(std::string_view text);

enum class HistoryPolicy : std::uint8_t { kOff, kChanges, kAll };
std::optional<HistoryPolicy> parseHistoryPolicy(std::string_view text);

/// The per-node memory of the last-value filter.
struct NodeMemory {
  HistoryPolicy policy = HistoryPolicy::kChanges;
  std::optional<double> deadband;
  std::optional<std::string> last_value;       ///< what we believe units_nodes.state holds
  store::Timestamp last_at{};                  ///< when that value arrived
  std::optional<double> last_history_numeric;  ///< numeric value of the last history row
};

struct ValueDecision {
  bool update_last = false;    ///< the value differs from the remembered last value
  bool write_history = false;  ///< a history row is due under the node's policy
};

/// Applies one received value to `memory` and says what to write: the last value only on a
/// change; history never (off), on every message (all), or on a change that, for numbers with a
/// deadband, moved at least `deadband` away from the last recorded number (changes).
ValueDecision decideValue(NodeMemory& memory, std::string_view value, std::optional<double> numeric,
                          store::Timestamp at);

/// A state payload reduced to the reserved keys (spec §5.4): ifconfig/statvfs lists (else []),
/// millis/mem_free/mem_alloc/freq floats (else null), commit_version (always present, the
/// reported version) and pu_commit_version (when the device sent it).
struct FilteredState {
  std::string json;
  std::optional<std::string> version;  ///< pu_commit_version if a string, else commit_version
};
/// nullopt when the payload is not a JSON object.
std::optional<FilteredState> filterState(std::string_view payload);

/// Per-unit rate limit for states (unit protocol §2.4, 2025 behaviour): a state sooner than
/// `interval - tolerance` after the last accepted one is dropped, where tolerance is a tenth of
/// the interval capped at 1 s (devices drift a little). A state reporting a different version
/// than the last accepted one always passes: that is how an update completes right after the
/// device reboots, which is exactly when it sends a state early.
class StateThrottle {
 public:
  explicit StateThrottle(std::chrono::milliseconds interval) : interval_(interval) {}
  bool admit(const domain::Uuid& unit, const std::optional<std::string>& version,
             store::Timestamp now);
  std::size_t size() const { return last_.size(); }

 private:
  struct Entry {
    store::Timestamp at{};
    std::optional<std::string> version;
  };
  std::chrono::milliseconds interval_;
  std::unordered_map<domain::Uuid, Entry> last_;
};

/// `"11: Update Error: Device firmware update time is twice as fast as {N}s times"`.
std::string updateTimeoutError(std::int64_t interval_s);

/// Spec §8.5 on one state: RequestSent and the reported version equals the commit the Update
/// carried → Success; else RequestSent for longer than 2 × interval → Error. Otherwise no
/// change.
std::optional<store::UpdateStatusChange> advanceUpdateStatus(
    const store::UpdateStatusView& current, const std::optional<std::string>& reported,
    store::Timestamp now, std::chrono::seconds interval);

/// A `log/pepeunit` payload: one object or an array of objects with `level` (any case of
/// Debug/Info/Warning/Error/Critical), `text` (or `message`, the 2024 client's key) and an
/// optional `create_datetime` (ISO-8601 or epoch milliseconds; absent: `now` + i seconds, to
/// keep an array's order). Extra keys are ignored; unreadable entries are skipped and counted
/// in `skipped`. nullopt when the payload is not JSON or not an object/array.
struct ParsedLog {
  std::string level;
  std::string text;
  store::Timestamp create_datetime{};
};
struct ParsedLogs {
  std::vector<ParsedLog> entries;
  std::size_t skipped = 0;
};
std::optional<ParsedLogs> parseLogs(std::string_view payload, store::Timestamp now);

/// "2024-05-01T12:00:00", optional fraction, optional "Z" or ±HH:MM (naive = UTC).
std::optional<store::Timestamp> parseIsoTimestamp(std::string_view text);

}  // namespace pepeunit::service::ingest
