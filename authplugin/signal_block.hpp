// Blocks every signal in the calling thread for the guard's lifetime, so threads created inside
// it inherit a fully blocked mask: the broker installs its SIGINT/SIGTERM/SIGHUP handlers after
// plugin init and must receive those signals on its own thread (auth_plugin_anchors.md §1.7).
#pragma once

#include <pthread.h>
#include <signal.h>

namespace pepeunit::authplugin {

class BlockAllSignals {
 public:
  BlockAllSignals() {
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old_);
  }
  ~BlockAllSignals() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  BlockAllSignals(const BlockAllSignals&) = delete;
  BlockAllSignals& operator=(const BlockAllSignals&) = delete;

 private:
  sigset_t old_;
};

}  // namespace pepeunit::authplugin
