// Commands to units (spec §8.4): the use cases decide *when* a unit gets Update, EnvUpdate,
// SchemaUpdate or LogSync; an adapter decides *how* (MQTT in bus/mqtt). Until that adapter is
// wired, a recording implementation keeps the use cases testable.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "domain/uuid.hpp"

namespace pepeunit::service {

enum class UnitCommand { kUpdate, kEnvUpdate, kSchemaUpdate, kLogSync };

std::string_view toString(UnitCommand command);

class CommandSender {
 public:
  virtual ~CommandSender() = default;
  /// Sends `command` to the unit if its schema declares the matching input base topic.
  /// Returns false when it was not sent (topic not declared, broker unreachable).
  virtual bool send(const domain::Uuid& unit, UnitCommand command) = 0;
};

/// Remembers what would have been sent; used until the MQTT adapter exists and in tests.
class RecordingCommandSender : public CommandSender {
 public:
  struct Sent {
    domain::Uuid unit;
    UnitCommand command;
  };
  bool send(const domain::Uuid& unit, UnitCommand command) override {
    std::lock_guard lock(mutex_);
    sent_.push_back({unit, command});
    return true;
  }
  std::vector<Sent> sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Sent> sent_;
};

}  // namespace pepeunit::service
