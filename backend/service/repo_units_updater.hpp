// The seam between repos and units: repo-level actions (update_units_firmware, a manual-mode
// PATCH, bulk update, the hourly scheduler) ask the units use case to bring every
// auto-updating Unit of a repo to the repo's target (spec §8.2) without depending on it.
#pragma once

#include <cstddef>

#include "domain/uuid.hpp"

namespace pepeunit::service {

struct UnitsUpdateSummary {
  std::size_t updated = 0;  // reconciled and sent Update
  std::size_t failed = 0;   // counted and logged; the loop goes on
};

class RepoUnitsUpdater {
 public:
  virtual ~RepoUnitsUpdater() = default;
  /// For each Unit of `repo` with is_auto_update_from_repo_unit: reconcile to the target
  /// (spec §7.6), then send Update. Never throws for a single Unit's failure.
  virtual UnitsUpdateSummary updateAutoUnits(const domain::Uuid& repo) = 0;
};

}  // namespace pepeunit::service
