// Stack: construction order is start order; members' destructors stop in reverse.
#include "integration/harness/stack.hpp"

namespace pepeunit::testing {

Stack::Stack() : Stack(Options{}) {}

Stack::Stack(Options options)
    : pg_(dir_.path() / "pg"),
      redis_(dir_.path() / "redis"),
      mqtt_(dir_.path() / "mqtt", std::move(options.mqtt)),
      backend_(dir_.path() / "backend") {
  std::filesystem::create_directories(dir_.path() / "repos");
  redis_.start();
  mqtt_.start();
  pg_.start();
  backend_env_ = BackendProcess::baseEnv(pg_, redis_, mqtt_, 0, dir_.path() / "repos");
  for (auto& [key, value] : options.backend_env_overrides) {
    backend_env_[key] = value;
  }
  if (options.start_backend) {
    startBackend();
  }
}

// Explicit so teardown order is visible: backend first (it holds connections to the others).
Stack::~Stack() {
  backend_.stop();
  mqtt_.stop();
  redis_.stop();
  pg_.stop();
}

void Stack::startBackend() {
  backend_.start(backend_env_);
  backend_.waitReady();
}

}  // namespace pepeunit::testing
