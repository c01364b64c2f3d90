// AccessEvents that only remembers what the use cases announced, in order, as readable strings
// ("grant <uuid>", "revoke <uuid>", "deleted <uuid>", "all").
#pragma once

#include <string>
#include <vector>

#include "service/access_events.hpp"

namespace pepeunit::testing {

class RecordingAccessEvents : public service::AccessEvents {
 public:
  void accessChanged(const domain::Uuid& unit, cache::AclChangeKind kind) override {
    const char* name = kind == cache::AclChangeKind::kGrant    ? "grant"
                       : kind == cache::AclChangeKind::kRevoke ? "revoke"
                                                               : "deleted";
    calls.push_back(std::string(name) + " " + unit.toString());
  }
  void everythingChanged() override { calls.emplace_back("all"); }

  std::vector<std::string> calls;
};

}  // namespace pepeunit::testing
