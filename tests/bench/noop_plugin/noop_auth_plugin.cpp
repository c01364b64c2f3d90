// The floor of "a plugin is loaded" for the broker benchmarks: a Mosquitto v5 plugin that
// registers the same four events as pepeunit_auth.so and allows everything without looking at
// anything. The broker's own cost of dispatching each check to a plugin shows up against the
// no-plugin broker; what pepeunit_auth.so costs beyond this floor is ours.
// `plugin_opt_idle_thread true` also starts one thread that only waits: a broker process with
// any second thread runs glibc's multi-threaded paths (locked malloc, cancellation points around
// every socket call), which pepeunit_auth.so's fetch and event threads also switch on.
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#define NOOP_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

mosquitto_plugin_id_t* plugin_id = nullptr;

struct IdleThread {
  std::mutex mutex;
  std::condition_variable cv;
  bool stop = false;
  std::thread thread;
};
IdleThread* idle = nullptr;

int allow(int /*event*/, void* /*event_data*/, void* /*userdata*/) {
  return MOSQ_ERR_SUCCESS;
}

constexpr int kEvents[] = {MOSQ_EVT_BASIC_AUTH, MOSQ_EVT_ACL_CHECK, MOSQ_EVT_TICK,
                           MOSQ_EVT_DISCONNECT};

}  // namespace

NOOP_EXPORT int mosquitto_plugin_version(int count, const int* versions) {
  for (int i = 0; i < count; ++i) {
    if (versions[i] == 5) {
      return 5;
    }
  }
  return -1;
}

NOOP_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier, void** /*userdata*/,
                                      mosquitto_opt* options, int option_count) {
  plugin_id = identifier;
  for (int i = 0; i < option_count; ++i) {
    if (std::strcmp(options[i].key, "idle_thread") == 0 &&
        std::strcmp(options[i].value, "true") == 0) {
      idle = new IdleThread;
      idle->thread = std::thread([] {
        std::unique_lock lock(idle->mutex);
        idle->cv.wait(lock, [] { return idle->stop; });
      });
    }
  }
  for (const int event : kEvents) {
    if (mosquitto_callback_register(plugin_id, event, allow, nullptr, nullptr) !=
        MOSQ_ERR_SUCCESS) {
      return MOSQ_ERR_UNKNOWN;
    }
  }
  return MOSQ_ERR_SUCCESS;
}

NOOP_EXPORT int mosquitto_plugin_cleanup(void* /*userdata*/, mosquitto_opt* /*options*/,
                                         int /*option_count*/) {
  for (const int event : kEvents) {
    mosquitto_callback_unregister(plugin_id, event, allow, nullptr);
  }
  if (idle != nullptr) {
    {
      std::lock_guard lock(idle->mutex);
      idle->stop = true;
    }
    idle->cv.notify_all();
    idle->thread.join();
    delete idle;
    idle = nullptr;
  }
  return MOSQ_ERR_SUCCESS;
}
