// MqttProbe: libmosquitto callbacks record the broker's answers under one mutex.
#include "integration/harness/mqtt_probe.hpp"

#include <chrono>
#include <stdexcept>

namespace pepeunit::testing {
namespace {

constexpr auto kAnswerTimeout = std::chrono::seconds(10);

/// libmosquitto needs one process-wide init before the first client.
void initLibrary() {
  static const int rc = mosquitto_lib_init();
  if (rc != MOSQ_ERR_SUCCESS) {
    throw std::runtime_error("mosquitto_lib_init failed");
  }
}

}  // namespace

MqttProbe::MqttProbe(int port, std::optional<std::string> username)
    : port_(port), username_(std::move(username)) {
  initLibrary();
  static std::atomic<int> next_id{0};
  const std::string id = "it-probe-" + std::to_string(next_id++);
  mosq_ = mosquitto_new(id.c_str(), true, this);
  if (mosq_ == nullptr) {
    throw std::runtime_error("mosquitto_new failed");
  }
  mosquitto_connect_callback_set(mosq_, &MqttProbe::onConnect);
  mosquitto_disconnect_callback_set(mosq_, &MqttProbe::onDisconnect);
  mosquitto_subscribe_callback_set(mosq_, &MqttProbe::onSubscribe);
  mosquitto_message_callback_set(mosq_, &MqttProbe::onMessage);
  if (username_) {
    mosquitto_username_pw_set(mosq_, username_->c_str(), "");  // Pepeunit: empty password
  }
}

MqttProbe::~MqttProbe() {
  if (started_) {
    mosquitto_disconnect(mosq_);
    mosquitto_loop_stop(mosq_, false);
  }
  mosquitto_destroy(mosq_);
}

int MqttProbe::connect() {
  if (mosquitto_connect(mosq_, "127.0.0.1", port_, 30) != MOSQ_ERR_SUCCESS) {
    return -1;
  }
  started_ = mosquitto_loop_start(mosq_) == MOSQ_ERR_SUCCESS;
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, kAnswerTimeout, [this] { return connack_.has_value(); });
  return connack_.value_or(-1);
}

int MqttProbe::subscribe(const std::string& filter, int qos) {
  int mid = 0;
  if (mosquitto_subscribe(mosq_, &mid, filter.c_str(), qos) != MOSQ_ERR_SUCCESS) {
    return -1;
  }
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, kAnswerTimeout, [&] { return granted_.contains(mid); });
  return granted_.contains(mid) ? granted_[mid] : -1;
}

bool MqttProbe::publish(const std::string& topic, const std::string& payload, int qos) {
  return mosquitto_publish(mosq_, nullptr, topic.c_str(), static_cast<int>(payload.size()),
                           payload.data(), qos, false) == MOSQ_ERR_SUCCESS;
}

bool MqttProbe::received(const std::string& topic, const std::string& payload) {
  std::lock_guard lock(mutex_);
  for (const auto& [t, p] : messages_) {
    if (t == topic && p == payload) {
      return true;
    }
  }
  return false;
}

int MqttProbe::count(const std::string& topic) {
  std::lock_guard lock(mutex_);
  int n = 0;
  for (const auto& message : messages_) {
    n += message.first == topic ? 1 : 0;
  }
  return n;
}

std::optional<std::string> MqttProbe::last(const std::string& topic) {
  std::lock_guard lock(mutex_);
  for (auto it = messages_.rbegin(); it != messages_.rend(); ++it) {
    if (it->first == topic) {
      return it->second;
    }
  }
  return std::nullopt;
}

void MqttProbe::onConnect(mosquitto* m, void* self, int rc) {
  auto* probe = static_cast<MqttProbe*>(self);
  {
    std::lock_guard lock(probe->mutex_);
    probe->connack_ = rc;
  }
  probe->cv_.notify_all();
  if (rc != 0) {
    mosquitto_disconnect(m);  // refused: no automatic reconnects
  }
}

void MqttProbe::onDisconnect(mosquitto* m, void* self, int rc) {
  auto* probe = static_cast<MqttProbe*>(self);
  if (rc != 0 && probe->connack_ == 0) {
    probe->lost_ = true;
    mosquitto_disconnect(m);  // stay down, so the test sees exactly one session
  }
  probe->cv_.notify_all();
}

void MqttProbe::onSubscribe(mosquitto*, void* self, int mid, int count, const int* granted) {
  auto* probe = static_cast<MqttProbe*>(self);
  {
    std::lock_guard lock(probe->mutex_);
    probe->granted_[mid] = count > 0 ? granted[0] : -1;
  }
  probe->cv_.notify_all();
}

void MqttProbe::onMessage(mosquitto*, void* self, const mosquitto_message* message) {
  auto* probe = static_cast<MqttProbe*>(self);
  std::lock_guard lock(probe->mutex_);
  probe->messages_.emplace_back(message->topic,
                                std::string(static_cast<const char*>(message->payload),
                                            static_cast<std::size_t>(message->payloadlen)));
}

}  // namespace pepeunit::testing
