// MQTT commands and node values (see mqtt_commands.hpp).
#include "service/mqtt_commands.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <utility>

namespace pepeunit::service {

namespace {

constexpr const char* kPublishFailed = "Update Error: the command could not be published to MQTT";

}  // namespace

std::string_view commandTopicName(UnitCommand command) {
  switch (command) {
    case UnitCommand::kUpdate:
      return "update/pepeunit";
    case UnitCommand::kEnvUpdate:
      return "env_update/pepeunit";
    case UnitCommand::kSchemaUpdate:
      return "schema_update/pepeunit";
    case UnitCommand::kLogSync:
      return "log_sync/pepeunit";
  }
  return "update/pepeunit";
}

std::string commandPayload(UnitCommand command, const std::string& commit) {
  nlohmann::ordered_json payload;
  payload["COMMAND"] = std::string(toString(command));
  if (command == UnitCommand::kUpdate) {
    payload["NEW_COMMIT_VERSION"] = commit;
    payload["PU_COMMIT_VERSION"] = commit;
  }
  return payload.dump();
}

MqttCommandSender::MqttCommandSender(std::string domain, PublishFunction publish,
                                     store::UnitStore& units, Clock clock)
    : domain_(std::move(domain)),
      publish_(std::move(publish)),
      units_(units),
      clock_(std::move(clock)) {}

void MqttCommandSender::setTargetLookup(CommandTargetLookup lookup) {
  std::lock_guard lock(mutex_);
  lookup_ = std::move(lookup);
}

bool MqttCommandSender::send(const domain::Uuid& unit, UnitCommand command) {
  CommandTargetLookup lookup;
  {
    std::lock_guard lock(mutex_);
    lookup = lookup_;
  }
  if (!lookup) {
    spdlog::warn("command {} to unit {} not sent: no target lookup wired", toString(command),
                 unit.toString());
    return false;
  }
  std::optional<CommandTarget> target;
  try {
    target = lookup(unit);
  } catch (const std::exception& e) {
    // The use case already succeeded (e.g. a PATCH was saved); a repo without a usable target
    // only means there is nothing to send, as in the original.
    spdlog::warn("command {} to unit {} not sent: {}", toString(command), unit.toString(),
                 e.what());
    return false;
  }
  if (!target) {
    return false;
  }
  const auto name = commandTopicName(command);
  if (!target->schema.declares(domain::kInputBaseTopic, name)) {
    spdlog::debug("command {} to unit {} not sent: {} is not declared", toString(command),
                  unit.toString(), name);
    return false;
  }
  const auto topic = domain::baseTopic(domain_, domain::kInputBaseTopic, unit, name);
  const bool published = publish_(topic, commandPayload(command, target->commit));
  if (command == UnitCommand::kUpdate) {
    try {
      if (published) {
        units_.setFirmwareUpdate(unit, domain::FirmwareUpdateStatus::kRequestSent, std::nullopt,
                                 clock_(), target->commit);
      } else {
        units_.setFirmwareUpdate(unit, domain::FirmwareUpdateStatus::kError,
                                 std::string(kPublishFailed), std::nullopt, target->commit);
      }
    } catch (const std::exception& e) {
      spdlog::warn("command Update to unit {}: status not saved: {}", unit.toString(), e.what());
    }
  }
  if (!published) {
    spdlog::warn("command {} to unit {} not published (MQTT unavailable)", toString(command),
                 unit.toString());
  }
  return published;
}

bool MqttNodeValuePublisher::publish(const domain::Uuid& node, bool pepeunit_suffix,
                                     const std::string& value) {
  std::string topic = domain_ + "/" + node.toString();
  if (pepeunit_suffix) {
    topic += domain::kPepeunitSuffix;
  }
  return publish_(std::move(topic), value);
}

}  // namespace pepeunit::service
