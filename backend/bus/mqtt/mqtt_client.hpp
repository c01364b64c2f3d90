// The backend's MQTT connection: a Paho async_client kept connected by a supervisor thread that
// reconnects with backoff and re-subscribes every remembered filter after each (re)connect.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace mqtt {
class async_client;
class connect_options;
}  // namespace mqtt

namespace pepeunit::bus::mqtt {

/// Thread-safe wrapper around one MQTT 3.1.1 clean-session connection.
///
/// `start()` never throws when the broker is down: the supervisor keeps trying (backoff from
/// `reconnect_min` doubling to `reconnect_max`) and wakes at once when Paho reports the
/// connection lost. Because the session is clean, the broker forgets subscriptions on every
/// disconnect, so `subscribe()` remembers each filter and the supervisor subscribes them again
/// after every successful connect.
class MqttClient {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 1883;
    bool tls = false;
    std::string ca_file;    ///< trust store for `tls`; the server certificate is verified
    std::string client_id;  ///< empty: a random "pepeunit-backend-<hex>" id
    std::string username;   ///< never logged
    std::string password;   ///< never logged
    int keepalive_s = 60;
    std::chrono::milliseconds reconnect_min{250};
    std::chrono::milliseconds reconnect_max{10000};
    std::chrono::milliseconds connect_timeout{5000};
  };

  /// Called on a Paho thread for every message, one at a time: keep it short and non-blocking
  /// (hand work to a queue), since Paho does not read further messages until it returns.
  using MessageHandler = std::function<void(std::string topic, std::string payload)>;

  struct Stats {
    std::uint64_t messages_in = 0;
    std::uint64_t messages_out = 0;
    std::uint64_t reconnects = 0;  ///< successful connects after the first one
  };

  /// Throws std::invalid_argument when the options cannot form a client (bad host/port).
  explicit MqttClient(Options options);
  ~MqttClient();
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  /// Replaces the handler; safe at any time (messages already being delivered finish with the
  /// old one).
  void setMessageHandler(MessageHandler handler);

  /// Starts the supervisor thread and returns at once; connecting happens in the background.
  void start();
  /// Stops reconnecting and disconnects cleanly. Idempotent; the destructor calls it.
  void stop();

  /// Remembers `filter` and subscribes now if connected (otherwise on the next connect).
  /// Subscribing again with the same filter just updates its QoS.
  void subscribe(const std::string& filter, int qos);
  /// Forgets `filter` and unsubscribes now if connected.
  void unsubscribe(const std::string& filter);

  /// Queues a message for sending. False (never a throw) when not connected or Paho refuses it.
  bool publish(std::string_view topic, std::string_view payload, int qos = 0, bool retain = false);

  bool connected() const;
  Stats stats() const;

 private:
  void run();
  /// One connect attempt; true when connected, else the reason in `error`. Waits at most about
  /// `connect_timeout`.
  bool connectOnce(std::string& error);
  void resubscribeAll();
  void onMessage(const std::string& topic, const std::string& payload);

  Options options_;
  std::string uri_;
  std::unique_ptr<::mqtt::connect_options> connect_options_;

  mutable std::mutex mutex_;  // guards filters_, handler_, thread_, wake_ flags
  std::condition_variable wake_;
  bool stopping_ = false;
  bool lost_ = false;
  std::map<std::string, int> filters_;
  std::shared_ptr<const MessageHandler> handler_;
  std::thread thread_;

  std::atomic<std::uint64_t> messages_in_{0};
  std::atomic<std::uint64_t> messages_out_{0};
  std::atomic<std::uint64_t> reconnects_{0};
  std::uint64_t connects_ = 0;  // supervisor thread only

  // Last member: destroyed first, so no Paho callback outlives the state it touches.
  std::unique_ptr<::mqtt::async_client> client_;
};

}  // namespace pepeunit::bus::mqtt
