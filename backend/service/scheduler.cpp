// The repo scheduler thread and its pass; see scheduler.hpp.
#include "service/scheduler.hpp"

#include <spdlog/spdlog.h>

#include <exception>

#include "common/errors.hpp"
#include "service/repo_service.hpp"

namespace pepeunit::service {

RepoScheduler::RepoScheduler(store::RepoStore& repos, gitsync::RepoMirror& mirror,
                             const crypto::SecretBox& box, RepoUnitsUpdater& updater,
                             RepoSchedulerOptions options)
    : repos_(repos), mirror_(mirror), box_(box), updater_(updater), options_(options) {}

RepoScheduler::~RepoScheduler() {
  stop();
}

void RepoScheduler::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) {
    return;
  }
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void RepoScheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void RepoScheduler::requestPass() {
  {
    std::lock_guard lock(mutex_);
    pass_requested_ = true;
  }
  wake_.notify_all();
}

void RepoScheduler::loop() {
  spdlog::info("repo scheduler: a pass every {} s", options_.interval.count());
  std::unique_lock lock(mutex_);
  auto next = std::chrono::steady_clock::now() + options_.interval;
  while (!stopping_) {
    wake_.wait_until(lock, next, [this] { return stopping_ || pass_requested_; });
    if (stopping_) {
      break;
    }
    pass_requested_ = false;
    lock.unlock();
    runOnce();
    lock.lock();
    next = std::chrono::steady_clock::now() + options_.interval;
  }
}

bool RepoScheduler::removeIfDeleted(const domain::Uuid& uuid) {
  // A DELETE that ran while we fetched removed its clone before ours was written (fetch clones
  // a missing mirror): drop the orphan.
  if (repos_.find(uuid)) {
    return false;
  }
  mirror_.remove(uuid);
  spdlog::info("repo sync: repo {} was deleted during the pass, local copy removed",
               uuid.toString());
  return true;
}

RepoSyncReport RepoScheduler::runOnce() {
  RepoSyncReport report;
  try {
    const auto lease = repos_.tryLockSync();
    if (!lease) {
      spdlog::debug("repo sync: another backend instance holds the lock, skipping this pass");
      return report;
    }
    report.ran = true;
    for (const auto& listed : repos_.listAll()) {
      if (stopping_) {
        spdlog::info("repo sync: stopping, pass cut short");
        break;
      }
      // Re-read the row: a pass can take long, and the URL, credentials or mode may have
      // changed (or the repo been deleted) since the list was taken.
      const auto current = repos_.find(listed.uuid);
      if (!current) {
        continue;
      }
      const auto& repo = *current;
      ++report.repos;
      const auto uuid = repo.uuid.toString();
      if (!repo.is_auto_update_repo) {
        if (mirror_.exists(repo.uuid)) {
          continue;
        }
        try {
          mirror_.clone(repo.uuid, repo.repo_url, repoCredentials(box_, repo),
                        options_.max_repo_size_bytes);
          ++report.restored;
          spdlog::info("repo sync: repo {}: missing local copy cloned again", uuid);
          removeIfDeleted(repo.uuid);
        } catch (const Error& e) {
          // what() is the public text: gitsync scrubs credentials out of libgit2 messages.
          spdlog::warn("repo sync: repo {}: cannot restore the local copy: {}", uuid, e.what());
        }
        continue;
      }
      try {
        mirror_.fetch(repo.uuid, repo.repo_url, repoCredentials(box_, repo),
                      options_.max_repo_size_bytes);
        ++report.fetched;
        if (removeIfDeleted(repo.uuid)) {
          continue;
        }
      } catch (const Error& e) {
        ++report.fetch_failed;
        spdlog::warn("repo sync: repo {}: fetch failed: {}", uuid, e.what());
      }
      try {
        const auto units = updater_.updateAutoUnits(repo.uuid);
        report.units.updated += units.updated;
        report.units.failed += units.failed;
      } catch (const std::exception& e) {
        spdlog::error("repo sync: repo {}: updating its units failed: {}", uuid, e.what());
      }
    }
  } catch (const std::exception& e) {
    spdlog::error("repo sync: pass aborted: {}", e.what());
  }
  if (report.ran) {
    ++passes_run_;
    spdlog::info(
        "repo sync: {} repo(s), fetched {}, fetch failed {}, restored {}; units updated {}, "
        "failed {}",
        report.repos, report.fetched, report.fetch_failed, report.restored, report.units.updated,
        report.units.failed);
  }
  return report;
}

}  // namespace pepeunit::service
