// Raw MQTT 3.1.1 packet bytes for tests and load generators that talk to the broker on a plain
// socket (readiness probes, wills without a client library, connect-rate benchmarks).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace pepeunit::testing {

/// Appends the variable-length "remaining length" field.
void appendRemainingLength(std::string& out, std::size_t length);

/// A UTF-8 string field: two length bytes, then the text.
std::string mqttString(std::string_view text);

/// Fixed header `type` (first byte, flags included) + remaining length + `body`.
std::string mqttPacket(char type, std::string_view body);

struct MqttConnectSpec {
  std::string client_id;
  /// With a username an empty password is sent too, as Pepeunit devices do; nullopt: anonymous.
  std::optional<std::string> username;
  /// Will topic and message (QoS 0, not retained).
  std::optional<std::pair<std::string, std::string>> will;
  int keepalive_s = 10;
};

/// CONNECT, protocol level 4, clean session.
std::string mqttConnectPacket(const MqttConnectSpec& spec);

}  // namespace pepeunit::testing
