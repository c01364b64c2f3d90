// GET /metrics/ (spec §2.7): the five instance counters, for everyone (Bot, User, Admin, Unit).
#pragma once

#include "domain/access.hpp"
#include "store/metrics_store.hpp"

namespace pepeunit::service {

class MetricsService {
 public:
  explicit MetricsService(store::MetricsStore& store) : store_(store) {}

  /// Anyone but a Blocked user (403 "User is Blocked").
  store::InstanceCounters counters(const domain::Principal& caller);

 private:
  store::MetricsStore& store_;
};

}  // namespace pepeunit::service
