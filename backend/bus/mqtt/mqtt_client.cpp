// Paho-based implementation of MqttClient: supervisor loop, re-subscription and TLS setup.
#include "bus/mqtt/mqtt_client.hpp"

#include <mqtt/async_client.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <random>
#include <stdexcept>
#include <vector>

namespace pepeunit::bus::mqtt {

namespace {

constexpr auto kWaitSlice = std::chrono::milliseconds(100);
constexpr auto kSubscribeTimeout = std::chrono::seconds(5);
constexpr auto kDisconnectTimeout = std::chrono::seconds(2);
// A connection that lived this long counts as healthy: losing it restarts the backoff.
constexpr auto kStableConnection = std::chrono::seconds(10);

std::string randomClientId() {
  std::random_device device;
  std::uniform_int_distribution<unsigned> byte(0, 255);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "pepeunit-backend-";
  for (int i = 0; i < 8; ++i) {
    const unsigned value = byte(device);
    id.push_back(kHex[value >> 4]);
    id.push_back(kHex[value & 0xF]);
  }
  return id;
}

}  // namespace

MqttClient::MqttClient(Options options) : options_(std::move(options)) {
  if (options_.host.empty() || options_.port <= 0 || options_.port > 65535) {
    throw std::invalid_argument("MQTT broker host/port are invalid");
  }
  if (options_.client_id.empty()) {
    options_.client_id = randomClientId();
  }
  uri_ = (options_.tls ? "ssl://" : "tcp://") + options_.host + ":" + std::to_string(options_.port);

  auto builder = ::mqtt::connect_options_builder()
                     .clean_session(true)
                     .keep_alive_interval(std::chrono::seconds(std::max(options_.keepalive_s, 1)))
                     .connect_timeout(std::chrono::duration_cast<std::chrono::seconds>(
                         std::max(options_.connect_timeout, std::chrono::milliseconds(1000))))
                     // Our supervisor owns reconnecting: Paho's own only covers a connection
                     // that succeeded once, not a broker that is down at start.
                     .automatic_reconnect(false);
  if (!options_.username.empty()) {
    builder.user_name(options_.username);
    builder.password(options_.password);
  }
  if (options_.tls) {
    auto ssl = ::mqtt::ssl_options_builder()
                   .trust_store(options_.ca_file)
                   .enable_server_cert_auth(true)
                   .verify(true)
                   .error_handler(
                       [](const std::string& message) { spdlog::warn("mqtt: TLS: {}", message); })
                   .finalize();
    builder.ssl(std::move(ssl));
  }
  connect_options_ = std::make_unique<::mqtt::connect_options>(builder.finalize());

  try {
    client_ = std::make_unique<::mqtt::async_client>(uri_, options_.client_id);
  } catch (const ::mqtt::exception& error) {
    throw std::invalid_argument("MQTT client for " + uri_ + ": " + error.what());
  }
  client_->set_connection_lost_handler([this](const std::string& cause) {
    spdlog::warn("mqtt: connection to {} lost{}{}", uri_, cause.empty() ? "" : ": ", cause);
    {
      std::lock_guard lock(mutex_);
      lost_ = true;
    }
    wake_.notify_all();
  });
  client_->set_message_callback([this](const ::mqtt::const_message_ptr& message) {
    onMessage(message->get_topic(), message->to_string());
  });
}

MqttClient::~MqttClient() {
  stop();
}

void MqttClient::setMessageHandler(MessageHandler handler) {
  auto shared = std::make_shared<const MessageHandler>(std::move(handler));
  std::lock_guard lock(mutex_);
  handler_ = std::move(shared);
}

void MqttClient::onMessage(const std::string& topic, const std::string& payload) {
  ++messages_in_;
  std::shared_ptr<const MessageHandler> handler;
  {
    std::lock_guard lock(mutex_);
    handler = handler_;
  }
  if (!handler || !*handler) {
    return;
  }
  // An exception must not unwind into Paho's C thread.
  try {
    (*handler)(topic, payload);
  } catch (const std::exception& error) {
    spdlog::error("mqtt: message handler failed on {}: {}", topic, error.what());
  } catch (...) {
    spdlog::error("mqtt: message handler failed on {}", topic);
  }
}

void MqttClient::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) {
    return;
  }
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void MqttClient::stop() {
  std::thread thread;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    thread = std::move(thread_);
  }
  wake_.notify_all();
  if (thread.joinable()) {
    thread.join();
  }
  if (client_ && client_->is_connected()) {
    try {
      client_->disconnect()->wait_for(kDisconnectTimeout);
      spdlog::info("mqtt: disconnected from {}", uri_);
    } catch (const ::mqtt::exception& error) {
      spdlog::warn("mqtt: disconnect from {}: {}", uri_, error.what());
    }
  }
}

void MqttClient::run() {
  using Clock = std::chrono::steady_clock;
  auto delay = options_.reconnect_min;
  std::optional<Clock::time_point> connected_since;
  int failures = 0;
  const auto pause = [this](std::chrono::milliseconds how_long) {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, how_long, [this] { return stopping_; });
  };
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) {
        return;
      }
      lost_ = false;
    }
    if (client_->is_connected()) {
      // Sleep until Paho reports the loss (or stop). The periodic wake-up re-checks
      // is_connected() in case the loss was reported before lost_ was cleared above.
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_ || lost_; });
      continue;
    }
    if (connected_since) {
      // Lost a connection. Only one that lasted restarts the backoff: a broker that drops us
      // right after CONNACK (duplicate client id, auth change) must not see a tight loop.
      if (Clock::now() - *connected_since >= kStableConnection) {
        delay = options_.reconnect_min;
      }
      connected_since.reset();
      pause(delay);
      delay = std::min(delay * 2, options_.reconnect_max);
      continue;
    }
    std::string error;
    if (connectOnce(error)) {
      connected_since = Clock::now();
      if (connects_++ > 0) {
        ++reconnects_;
      }
      spdlog::info("mqtt: connected to {} as {}", uri_, options_.client_id);
      failures = 0;
      resubscribeAll();
      continue;
    }
    // One line per outage at warn; the retries that follow are debug.
    if (failures++ == 0) {
      spdlog::warn("mqtt: cannot connect to {}: {} (retrying with backoff)", uri_, error);
    } else {
      spdlog::debug("mqtt: connect to {} failed again: {}", uri_, error);
    }
    pause(delay);
    delay = std::min(delay * 2, options_.reconnect_max);
  }
}

bool MqttClient::connectOnce(std::string& error) {
  try {
    auto token = client_->connect(*connect_options_);
    // Bounded by the connect timeout; stop() waits for the attempt to settle rather than
    // destroying the client under an in-flight connect.
    while (!token->wait_for(kWaitSlice)) {
    }
    return true;
  } catch (const ::mqtt::exception& failure) {
    error = failure.what();
    return client_->is_connected();
  }
}

void MqttClient::resubscribeAll() {
  std::vector<std::pair<std::string, int>> filters;
  {
    std::lock_guard lock(mutex_);
    filters.assign(filters_.begin(), filters_.end());
  }
  std::vector<std::pair<std::string, ::mqtt::token_ptr>> pending;
  for (const auto& [filter, qos] : filters) {
    try {
      pending.emplace_back(filter, client_->subscribe(filter, qos));
    } catch (const ::mqtt::exception& error) {
      spdlog::warn("mqtt: subscribe {}: {}", filter, error.what());
    }
  }
  for (const auto& [filter, token] : pending) {
    try {
      if (!token->wait_for(kSubscribeTimeout)) {
        spdlog::warn("mqtt: subscribe {}: no SUBACK within {} s", filter,
                     kSubscribeTimeout.count());
      }
    } catch (const ::mqtt::exception& error) {
      spdlog::warn("mqtt: subscribe {}: {}", filter, error.what());
    }
  }
  if (!filters.empty()) {
    spdlog::info("mqtt: subscribed {} filter(s)", filters.size());
  }
}

void MqttClient::subscribe(const std::string& filter, int qos) {
  {
    std::lock_guard lock(mutex_);
    filters_[filter] = qos;
  }
  // Checked after remembering: if the supervisor's snapshot missed this filter, the connect it
  // followed has already completed, so this check sees it and subscribes here.
  if (client_->is_connected()) {
    try {
      client_->subscribe(filter, qos);
    } catch (const ::mqtt::exception& error) {
      spdlog::warn("mqtt: subscribe {}: {}", filter, error.what());
    }
  }
}

void MqttClient::unsubscribe(const std::string& filter) {
  {
    std::lock_guard lock(mutex_);
    filters_.erase(filter);
  }
  if (client_->is_connected()) {
    try {
      client_->unsubscribe(filter);
    } catch (const ::mqtt::exception& error) {
      spdlog::warn("mqtt: unsubscribe {}: {}", filter, error.what());
    }
  }
}

bool MqttClient::publish(std::string_view topic, std::string_view payload, int qos, bool retain) {
  if (!client_->is_connected()) {
    return false;
  }
  try {
    client_->publish(
        ::mqtt::make_message(std::string(topic), payload.data(), payload.size(), qos, retain));
    ++messages_out_;
    return true;
  } catch (const ::mqtt::exception& error) {
    spdlog::debug("mqtt: publish to {} refused: {}", topic, error.what());
    return false;
  }
}

bool MqttClient::connected() const {
  return client_->is_connected();
}

MqttClient::Stats MqttClient::stats() const {
  return Stats{messages_in_.load(), messages_out_.load(), reconnects_.load()};
}

}  // namespace pepeunit::bus::mqtt
