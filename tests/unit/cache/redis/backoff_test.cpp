// Backoff: the reconnect schedule that keeps a dead Redis from costing anything per call.
#include "cache/redis/backoff.hpp"

#include <doctest/doctest.h>

namespace redis = pepeunit::cache::redis;
using std::chrono::milliseconds;

TEST_CASE("Backoff doubles from min to max and resets on success") {
  redis::Backoff backoff(milliseconds(50), milliseconds(400));
  const auto t0 = redis::Backoff::Clock::time_point{} + std::chrono::hours(1);

  CHECK(backoff.ready(t0));
  CHECK(backoff.failures() == 0);

  backoff.failure(t0);
  CHECK(backoff.delay() == milliseconds(50));
  CHECK_FALSE(backoff.ready(t0 + milliseconds(49)));
  CHECK(backoff.ready(t0 + milliseconds(50)));

  const auto t1 = t0 + milliseconds(50);
  backoff.failure(t1);
  CHECK(backoff.delay() == milliseconds(100));
  CHECK_FALSE(backoff.ready(t1 + milliseconds(99)));
  CHECK(backoff.ready(t1 + milliseconds(100)));

  backoff.failure(t1);
  CHECK(backoff.delay() == milliseconds(200));
  backoff.failure(t1);
  CHECK(backoff.delay() == milliseconds(400));
  backoff.failure(t1);
  CHECK(backoff.delay() == milliseconds(400));  // capped
  CHECK(backoff.failures() == 5);

  backoff.success();
  CHECK(backoff.failures() == 0);
  CHECK(backoff.ready(t1));
  backoff.failure(t1);
  CHECK(backoff.delay() == milliseconds(50));
}

TEST_CASE("Backoff never lets max drop below min") {
  redis::Backoff backoff(milliseconds(100), milliseconds(10));
  const auto t0 = redis::Backoff::Clock::time_point{} + std::chrono::hours(1);
  backoff.failure(t0);
  backoff.failure(t0);
  CHECK(backoff.delay() == milliseconds(100));
}
