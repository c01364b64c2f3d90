// The metrics gate: every role and Units pass; only a Blocked user is refused.
#include "service/metrics_service.hpp"

#include "common/errors.hpp"

namespace pepeunit::service {

store::InstanceCounters MetricsService::counters(const domain::Principal& caller) {
  using domain::Role;
  if (!domain::roleAllowed(caller, {Role::kBot, Role::kUser, Role::kAdmin},
                           /*unit_allowed=*/true)) {
    throw NoAccess("User is Blocked");
  }
  return store_.counters();
}

}  // namespace pepeunit::service
