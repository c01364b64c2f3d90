// Publishing a value to a UnitNode's topic (spec §2.5 set_state_input, §5.2): the node use
// cases decide *what* to publish, an adapter decides *how* (MQTT in bus/mqtt, wired by the MQTT
// issue). Until that adapter exists, a recording implementation keeps the use cases testable.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "domain/uuid.hpp"

namespace pepeunit::service {

class NodeValuePublisher {
 public:
  virtual ~NodeValuePublisher() = default;
  /// Publishes `value` to `<domain>/<node>`, plus `/pepeunit` when `pepeunit_suffix` (the node's
  /// topic_name ends with `/pepeunit`). Returns false when it was not published (broker
  /// unreachable, payload refused).
  virtual bool publish(const domain::Uuid& node, bool pepeunit_suffix,
                       const std::string& value) = 0;
};

/// Remembers what would have been published; used until the MQTT adapter exists and in tests.
class RecordingNodeValuePublisher : public NodeValuePublisher {
 public:
  struct Published {
    domain::Uuid node;
    bool pepeunit_suffix = false;
    std::string value;
  };
  bool publish(const domain::Uuid& node, bool pepeunit_suffix, const std::string& value) override {
    std::lock_guard lock(mutex_);
    published_.push_back({node, pepeunit_suffix, value});
    return true;
  }
  std::vector<Published> published() const {
    std::lock_guard lock(mutex_);
    return published_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<Published> published_;
};

}  // namespace pepeunit::service
