// The repo scheduler (pepeunit_backend_spec.md §7.2, §8.3; DESIGN §4 "the hourly job really
// fetches"): every BACKEND_REPO_SYNC_INTERVAL seconds, and at once when bulk_update asks, one
// pass over the repos:
//   * auto-update repo: fetch from its remote (credentials decrypted in memory), then bring its
//     auto-update Units to the new target (RepoUnitsUpdater, §8.2). A failed fetch is logged
//     (without secrets) and the Units are still updated from the local clone, as the original
//     did; the pass goes on with the next repo.
//   * any other repo whose clone is missing (e.g. a wiped cache dir): clone it again (§7.2
//     "backend startup" rule, done here so it needs no separate startup step).
// Several backend instances may share one database: a pass runs only while holding the
// PostgreSQL advisory lock (RepoStore::tryLockSync), so exactly one instance runs it; the others
// skip that round.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>

#include "crypto/secret_box.hpp"
#include "gitsync/repo_mirror.hpp"
#include "service/repo_units_updater.hpp"
#include "store/repo_store.hpp"

namespace pepeunit::service {

/// What one pass did.
struct RepoSyncReport {
  /// False when another instance held the lock (nothing was done).
  bool ran = false;
  std::size_t repos = 0;
  std::size_t fetched = 0;
  std::size_t fetch_failed = 0;
  std::size_t restored = 0;
  UnitsUpdateSummary units;
};

struct RepoSchedulerOptions {
  /// BACKEND_REPO_SYNC_INTERVAL.
  std::chrono::seconds interval{3600};
  /// BACKEND_MAX_EXTERNAL_REPO_SIZE in bytes.
  std::uint64_t max_repo_size_bytes = std::uint64_t{50} * 1024 * 1024;
};

class RepoScheduler {
 public:
  RepoScheduler(store::RepoStore& repos, gitsync::RepoMirror& mirror, const crypto::SecretBox& box,
                RepoUnitsUpdater& updater, RepoSchedulerOptions options);
  ~RepoScheduler();
  RepoScheduler(const RepoScheduler&) = delete;
  RepoScheduler& operator=(const RepoScheduler&) = delete;

  /// Starts the thread; its first pass is one interval from now (or at once if requested).
  void start();
  /// Wakes the thread and joins it; a pass in progress stops after the repo it is on.
  /// Idempotent; also called by the destructor.
  void stop();
  /// Asks the thread for a pass as soon as possible (bulk_update); returns at once. Requests
  /// made while a pass runs coalesce into one more pass.
  void requestPass();
  /// One pass on the caller's thread, under the lock. Never throws: a database outage ends the
  /// pass early and is logged.
  RepoSyncReport runOnce();
  /// Passes completed by this instance (for tests and logs).
  std::size_t passesRun() const { return passes_run_.load(); }

 private:
  void loop();
  /// Removes the clone of a repo whose row is gone; true when it did.
  bool removeIfDeleted(const domain::Uuid& uuid);

  store::RepoStore& repos_;
  gitsync::RepoMirror& mirror_;
  const crypto::SecretBox& box_;
  RepoUnitsUpdater& updater_;
  RepoSchedulerOptions options_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool pass_requested_ = false;  // guarded by mutex_
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> passes_run_{0};
  std::thread thread_;
};

}  // namespace pepeunit::service
