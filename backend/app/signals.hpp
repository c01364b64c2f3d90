// Graceful stop: SIGINT/SIGTERM are blocked in every thread and awaited by the main thread, so
// shutdown runs in ordinary code rather than inside a signal handler.
#pragma once

namespace pepeunit::app {

class ShutdownSignal {
 public:
  /// Must be constructed before any thread starts so the blocked mask is inherited.
  ShutdownSignal();
  /// Blocks until SIGINT or SIGTERM arrives; returns the signal number.
  int wait();
};

}  // namespace pepeunit::app
