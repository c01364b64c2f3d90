// Polling with a deadline, and free loopback ports: the two primitives every harness piece uses
// instead of sleeps and fixed ports.
#pragma once

#include <chrono>
#include <functional>

namespace pepeunit::testing {

/// Calls `ready` every `step` until it returns true or `timeout` passes; returns the last result.
bool pollUntil(const std::function<bool()>& ready, std::chrono::milliseconds timeout,
               std::chrono::milliseconds step = std::chrono::milliseconds(20));

/// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, release).
int freePort();

}  // namespace pepeunit::testing
