// pepeunit_auth.so: the Mosquitto 2.0 (plugin API v5) shell over Authorizer. It converts C event
// structs to C++ calls and back, and is the only file that includes Mosquitto headers.
//
// Broker rules it keeps (auth_plugin_anchors.md §0, §1): callbacks return only SUCCESS,
// ACL_DENIED, AUTH or PLUGIN_DEFER (anything else drops connections, on READ even the
// publisher's); no exception crosses into C (every callback catches and denies, with a log line);
// broker helpers (kick, publish, log) are called on the broker thread only. The broker process
// gets no thread from us: fetches and the event subscription run in a helper process
// (helper.hpp says why), whose results the TICK callback applies.
//
// Include order matters for 2.0.11: mosquitto_plugin.h uses types from mosquitto_broker.h
// without including it.
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "authplugin/authorizer.hpp"
#include "authplugin/fetcher.hpp"
#include "authplugin/helper.hpp"
#include "authplugin/invalidator.hpp"
#include "authplugin/options.hpp"
#include "common/errors.hpp"

#define PEPEUNIT_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

using pepeunit::authplugin::Authorizer;
using pepeunit::authplugin::LogLine;
using pepeunit::domain::AclAction;

struct PluginState {
  mosquitto_plugin_id_t* id = nullptr;
  pepeunit::authplugin::PluginOptions options;
  pepeunit::authplugin::EventQueue events;
  std::unique_ptr<pepeunit::authplugin::HelperClient> helper;
  std::unique_ptr<Authorizer> authorizer;
  bool callbacks_registered = false;
};

void logLine(int level, const std::string& text) {
  mosquitto_log_printf(level, "pepeunit_auth: %s", text.c_str());
}

int mosquittoLevel(LogLine::Level level) {
  switch (level) {
    case LogLine::Level::kInfo:
      return MOSQ_LOG_INFO;
    case LogLine::Level::kWarning:
      return MOSQ_LOG_WARNING;
    case LogLine::Level::kError:
      return MOSQ_LOG_ERR;
  }
  return MOSQ_LOG_INFO;
}

int onBasicAuth(int /*event*/, void* event_data, void* userdata) {
  try {
    auto* state = static_cast<PluginState*>(userdata);
    auto* ed = static_cast<mosquitto_evt_basic_auth*>(event_data);
    return state->authorizer->basicAuth(ed->client, ed->username, ed->password) ? MOSQ_ERR_SUCCESS
                                                                                : MOSQ_ERR_AUTH;
  } catch (const std::exception& error) {
    logLine(MOSQ_LOG_ERR, std::string("BASIC_AUTH failed, refusing: ") + error.what());
  } catch (...) {
    logLine(MOSQ_LOG_ERR, "BASIC_AUTH failed, refusing");
  }
  return MOSQ_ERR_AUTH;
}

int onAclCheck(int /*event*/, void* event_data, void* userdata) {
  try {
    auto* state = static_cast<PluginState*>(userdata);
    auto* ed = static_cast<mosquitto_evt_acl_check*>(event_data);
    AclAction action;
    switch (ed->access) {
      case MOSQ_ACL_READ:
        action = AclAction::kRead;
        break;
      case MOSQ_ACL_WRITE:
        action = AclAction::kPublish;
        break;
      case MOSQ_ACL_SUBSCRIBE:
        action = AclAction::kSubscribe;
        break;
      case MOSQ_ACL_UNSUBSCRIBE:
        action = AclAction::kUnsubscribe;
        break;
      default:
        return MOSQ_ERR_ACL_DENIED;
    }
    if (ed->topic == nullptr) {
      return MOSQ_ERR_ACL_DENIED;
    }
    return state->authorizer->aclCheck(ed->client, mosquitto_client_username(ed->client), action,
                                       ed->topic)
               ? MOSQ_ERR_SUCCESS
               : MOSQ_ERR_ACL_DENIED;
  } catch (const std::exception& error) {
    logLine(MOSQ_LOG_ERR, std::string("ACL_CHECK failed, denying: ") + error.what());
  } catch (...) {
    logLine(MOSQ_LOG_ERR, "ACL_CHECK failed, denying");
  }
  return MOSQ_ERR_ACL_DENIED;
}

int onTick(int /*event*/, void* /*event_data*/, void* userdata) {
  try {
    auto* state = static_cast<PluginState*>(userdata);
    // Copy out first: a kick fires DISCONNECT (and maybe ACL re-checks) back into the authorizer.
    auto out = state->authorizer->tick();
    for (const auto& line : out.logs) {
      logLine(mosquittoLevel(line.level), line.text);
    }
    for (const auto& line : state->helper->takeLogs()) {
      logLine(MOSQ_LOG_WARNING, line);
    }
    for (const auto& username : out.kick_usernames) {
      mosquitto_kick_client_by_username(username.c_str(), false);
    }
    for (const auto& [topic, payload] : out.metrics) {
      mosquitto_broker_publish_copy(nullptr, topic.c_str(), static_cast<int>(payload.size()),
                                    payload.data(), 0, true, nullptr);
    }
  } catch (const std::exception& error) {
    logLine(MOSQ_LOG_ERR, std::string("TICK failed: ") + error.what());
  } catch (...) {
    logLine(MOSQ_LOG_ERR, "TICK failed");
  }
  return MOSQ_ERR_SUCCESS;
}

int onDisconnect(int /*event*/, void* event_data, void* userdata) {
  try {
    auto* state = static_cast<PluginState*>(userdata);
    auto* ed = static_cast<mosquitto_evt_disconnect*>(event_data);
    state->authorizer->disconnect(ed->client);
  } catch (const std::exception& error) {
    logLine(MOSQ_LOG_ERR, std::string("DISCONNECT failed: ") + error.what());
  } catch (...) {
    logLine(MOSQ_LOG_ERR, "DISCONNECT failed");
  }
  return MOSQ_ERR_SUCCESS;
}

struct Registration {
  int event;
  MOSQ_FUNC_generic_callback callback;
};
constexpr Registration kCallbacks[] = {
    {MOSQ_EVT_BASIC_AUTH, onBasicAuth},
    {MOSQ_EVT_ACL_CHECK, onAclCheck},
    {MOSQ_EVT_TICK, onTick},
    {MOSQ_EVT_DISCONNECT, onDisconnect},
};

void unregisterAll(PluginState& state) {
  for (const auto& registration : kCallbacks) {
    mosquitto_callback_unregister(state.id, registration.event, registration.callback, nullptr);
  }
  state.callbacks_registered = false;
}

std::unique_ptr<PluginState> build(mosquitto_plugin_id_t* id, mosquitto_opt* options,
                                   int option_count) {
  namespace ap = pepeunit::authplugin;
  std::vector<std::pair<std::string, std::string>> pairs;
  pairs.reserve(static_cast<std::size_t>(std::max(option_count, 0)));
  for (int i = 0; i < option_count; ++i) {
    pairs.emplace_back(options[i].key ? options[i].key : "",
                       options[i].value ? options[i].value : "");
  }
  auto state = std::make_unique<PluginState>();
  state->id = id;
  state->options = ap::parseOptions(pairs);
  const auto& opts = state->options;
  std::string jwt_key = ap::readSecretFile(opts.jwt_key_file, "plugin_opt_jwt_key_file");
  const std::string token =
      ap::readSecretFile(opts.backend_token_file, "plugin_opt_backend_token_file");

  std::optional<pepeunit::cache::redis::RedisUrl> redis_url;
  if (!opts.redis_url.empty()) {
    redis_url = pepeunit::cache::redis::parseRedisUrl(opts.redis_url);
    if (!redis_url) {
      throw pepeunit::ConfigError("plugin_opt_redis_url", "cannot be parsed");
    }
  }

  ap::HelperConfig helper;
  helper.fetch.workers = opts.fetch_workers;
  helper.fetch.max_queued = opts.max_queued_fetches;
  helper.fetch.resolve.redis_prefix = opts.redis_prefix;
  helper.fetch.resolve.default_stale_ttl = std::chrono::seconds(opts.stale_ttl_s);
  if (redis_url) {
    helper.fetch.make_l2 = [url = *redis_url, timeout = opts.redis_timeout] {
      return ap::makeRedisL2Store(url, timeout);
    };
  }
  helper.fetch.make_backend =
      [http = ap::HttpBackendOptions{opts.backend_url, token, opts.backend_ca_file,
                                     opts.backend_connect_timeout, opts.backend_timeout}] {
        return ap::makeHttpBackendApi(http);
      };
  helper.redis = redis_url;
  helper.events_channel = opts.events_channel;
  helper.redis_timeout = opts.redis_timeout;
  // Forked on first use (a CONNECT or a TICK), i.e. after the broker dropped its privileges.
  state->helper = std::make_unique<ap::HelperClient>(
      [helper = std::move(helper)] { return ap::spawnHelper(helper); }, state->events,
      [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
      });
  state->authorizer =
      std::make_unique<Authorizer>(opts, std::move(jwt_key), *state->helper, state->events);
  if (!redis_url) {
    logLine(MOSQ_LOG_WARNING,
            "no plugin_opt_redis_url: no shared cache and no invalidation events; revocations "
            "apply only when rules expire (ttl)");
  }
  return state;
}

}  // namespace

PEPEUNIT_PLUGIN_EXPORT int mosquitto_plugin_version(int supported_version_count,
                                                    const int* supported_versions) {
  for (int i = 0; i < supported_version_count; ++i) {
    if (supported_versions[i] == 5) {
      return 5;
    }
  }
  return -1;
}

PEPEUNIT_PLUGIN_EXPORT int mosquitto_plugin_init(mosquitto_plugin_id_t* identifier, void** userdata,
                                                 struct mosquitto_opt* options, int option_count) {
  std::unique_ptr<PluginState> state;
  try {
    state = build(identifier, options, option_count);
    for (const auto& registration : kCallbacks) {
      const int rc = mosquitto_callback_register(identifier, registration.event,
                                                 registration.callback, nullptr, state.get());
      if (rc != MOSQ_ERR_SUCCESS) {
        state->callbacks_registered = true;  // unregister whatever did get registered
        unregisterAll(*state);
        logLine(MOSQ_LOG_ERR, "cannot register callback for event " +
                                  std::to_string(registration.event) + " (rc " +
                                  std::to_string(rc) + ")");
        return MOSQ_ERR_UNKNOWN;
      }
    }
    state->callbacks_registered = true;
    logLine(MOSQ_LOG_INFO, "ready (domain " + state->options.domain + ", backend " +
                               state->options.backend_url + ")");
    *userdata = state.release();
    return MOSQ_ERR_SUCCESS;
  } catch (const std::exception& error) {
    logLine(MOSQ_LOG_ERR, std::string("cannot start: ") + error.what());
  } catch (...) {
    logLine(MOSQ_LOG_ERR, "cannot start");
  }
  return MOSQ_ERR_UNKNOWN;  // non-zero from init stops the broker (fail closed)
}

PEPEUNIT_PLUGIN_EXPORT int mosquitto_plugin_cleanup(void* userdata,
                                                    struct mosquitto_opt* /*options*/,
                                                    int /*option_count*/) {
  std::unique_ptr<PluginState> state(static_cast<PluginState*>(userdata));
  try {
    if (state && state->callbacks_registered) {
      unregisterAll(*state);
    }
    state.reset();  // closes the helper's socket and reaps it
  } catch (...) {
    logLine(MOSQ_LOG_ERR, "cleanup failed");
  }
  return MOSQ_ERR_SUCCESS;
}
