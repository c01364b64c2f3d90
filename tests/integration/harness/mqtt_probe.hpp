// A small MQTT 3.1.1 client for authorization tests (libmosquitto with its own network thread):
// it reports exactly what the broker decided — the CONNACK code, the SUBACK's granted QoS (0x80 =
// refused), which messages arrived — and notices when the broker drops the connection (a kick).
#pragma once

#include <mosquitto.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pepeunit::testing {

inline constexpr int kConnackNotAuthorized = 5;  // MQTT 3.1.1
inline constexpr int kSubackFailure = 0x80;

class MqttProbe {
 public:
  /// `username`: a Pepeunit token (the password stays empty, as devices send it); nullopt:
  /// anonymous.
  explicit MqttProbe(int port, std::optional<std::string> username = std::nullopt);
  ~MqttProbe();
  MqttProbe(const MqttProbe&) = delete;
  MqttProbe& operator=(const MqttProbe&) = delete;

  /// The CONNACK return code; -1 when none arrived within 10 s. A refused client stays down.
  int connect();
  /// The granted QoS from SUBACK (kSubackFailure = refused); -1 when no SUBACK arrived.
  int subscribe(const std::string& filter, int qos = 1);
  /// Queues a publish; true when the client accepted it (not whether the broker did).
  bool publish(const std::string& topic, const std::string& payload, int qos = 1);

  bool received(const std::string& topic, const std::string& payload);
  /// How many messages arrived on `topic`.
  int count(const std::string& topic);
  /// The last payload seen on `topic`.
  std::optional<std::string> last(const std::string& topic);
  /// True once the broker dropped an accepted connection (a kick, or an outage we caused).
  bool lost() const { return lost_.load(); }

 private:
  static void onConnect(mosquitto* m, void* self, int rc);
  static void onDisconnect(mosquitto* m, void* self, int rc);
  static void onSubscribe(mosquitto* m, void* self, int mid, int count, const int* granted);
  static void onMessage(mosquitto* m, void* self, const mosquitto_message* message);

  int port_;
  std::optional<std::string> username_;
  mosquitto* mosq_ = nullptr;
  bool started_ = false;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<int> connack_;
  std::map<int, int> granted_;
  std::vector<std::pair<std::string, std::string>> messages_;
  std::atomic<bool> lost_{false};
};

}  // namespace pepeunit::testing
