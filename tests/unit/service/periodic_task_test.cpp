// PeriodicTask: runs its function repeatedly on its own thread and stops at once when asked.
#include "service/periodic_task.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

using pepeunit::service::PeriodicTask;
using std::chrono::milliseconds;

TEST_CASE("PeriodicTask: runs every period until stopped, and stop does not wait a period") {
  std::atomic<int> runs{0};
  PeriodicTask task(milliseconds(5), [&runs] { ++runs; });
  task.start();
  task.start();  // idempotent
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (runs.load() < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  CHECK(runs.load() >= 3);

  PeriodicTask slow(std::chrono::hours(1), [] {});
  slow.start();
  const auto before = std::chrono::steady_clock::now();
  slow.stop();
  CHECK(std::chrono::steady_clock::now() - before < std::chrono::seconds(10));
  task.stop();
  const int after_stop = runs.load();
  task.stop();  // idempotent
  CHECK(runs.load() == after_stop);
}
