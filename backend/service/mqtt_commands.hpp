// The MQTT side of the command and node-value seams (pepeunit_backend_spec.md §8.4, §5.2):
// MqttCommandSender turns a UnitCommand into its `D/input_base_topic/<unit>/<name>` message (only
// when the Unit's schema_example.json at its target declares that topic) and keeps the firmware
// update bookkeeping of Update; MqttNodeValuePublisher puts a value set through the API on the
// node's topic. Both depend on an injected publish function, not on the MQTT adapter, so the
// service layer stays free of bus code (main wires MqttClient::publish in).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "domain/schema_file.hpp"
#include "service/command_sender.hpp"
#include "service/node_value_publisher.hpp"
#include "store/unit_store.hpp"

namespace pepeunit::service {

/// Publishes one message at QoS 0 without retain; false when it was not queued.
using PublishFunction = std::function<bool(std::string topic, std::string payload)>;

/// What a command needs about its Unit (§8.4 step 1).
struct CommandTarget {
  std::string commit;            ///< the target commit (NEW_COMMIT_VERSION of Update)
  domain::SchemaExample schema;  ///< schema_example.json at that commit
};

/// nullopt when the Unit is gone; may throw when the target cannot be computed.
using CommandTargetLookup = std::function<std::optional<CommandTarget>(const domain::Uuid&)>;

/// `input_base_topic` name of a command, e.g. "update/pepeunit".
std::string_view commandTopicName(UnitCommand command);
/// The JSON payload of a command; `commit` is used by kUpdate only (NEW_COMMIT_VERSION for the
/// 2024 generation, PU_COMMIT_VERSION for the 2026 one: both carried, same value).
std::string commandPayload(UnitCommand command, const std::string& commit);

class MqttCommandSender : public CommandSender {
 public:
  using Clock = std::function<store::Timestamp()>;

  /// `domain` is BACKEND_DOMAIN (the first topic level). `units` records the Update bookkeeping.
  MqttCommandSender(std::string domain, PublishFunction publish, store::UnitStore& units,
                    Clock clock);

  /// The target lookup lives in UnitService, which itself needs this sender: main constructs the
  /// sender first and sets the lookup once UnitService exists. Until then send() returns false.
  void setTargetLookup(CommandTargetLookup lookup);

  /// §8.4: silently false when the Unit is gone, its target cannot be computed or its schema
  /// does not declare the command's topic. For kUpdate, a published command sets RequestSent
  /// (now, no error, target = the commit) and a refused one sets Error with a message.
  bool send(const domain::Uuid& unit, UnitCommand command) override;

 private:
  std::string domain_;
  PublishFunction publish_;
  store::UnitStore& units_;
  Clock clock_;
  mutable std::mutex mutex_;  // guards lookup_
  CommandTargetLookup lookup_;
};

class MqttNodeValuePublisher : public NodeValuePublisher {
 public:
  MqttNodeValuePublisher(std::string domain, PublishFunction publish)
      : domain_(std::move(domain)), publish_(std::move(publish)) {}

  /// The raw value to `D/<node>` (plus `/pepeunit` when `pepeunit_suffix`).
  bool publish(const domain::Uuid& node, bool pepeunit_suffix, const std::string& value) override;

 private:
  std::string domain_;
  PublishFunction publish_;
};

}  // namespace pepeunit::service
