// MQTT 3.1.1 encodings (spec §1.5.3 strings, §2.2.3 remaining length, §3.1 CONNECT).
#include "integration/harness/mqtt_packets.hpp"

namespace pepeunit::testing {

void appendRemainingLength(std::string& out, std::size_t length) {
  do {
    auto byte = static_cast<unsigned char>(length % 128);
    length /= 128;
    if (length > 0) {
      byte |= 0x80;
    }
    out += static_cast<char>(byte);
  } while (length > 0);
}

std::string mqttString(std::string_view text) {
  std::string out{static_cast<char>(text.size() >> 8), static_cast<char>(text.size() & 0xff)};
  out += text;
  return out;
}

std::string mqttPacket(char type, std::string_view body) {
  std::string packet(1, type);
  appendRemainingLength(packet, body.size());
  packet += body;
  return packet;
}

std::string mqttConnectPacket(const MqttConnectSpec& spec) {
  unsigned char flags = 0x02;  // clean session
  if (spec.will) {
    flags |= 0x04;  // will, QoS 0, not retained
  }
  if (spec.username) {
    flags |= 0xC0;  // username + (empty) password
  }
  std::string body = mqttString("MQTT");
  body += '\4';
  body += static_cast<char>(flags);
  body += static_cast<char>(spec.keepalive_s >> 8);
  body += static_cast<char>(spec.keepalive_s & 0xff);
  body += mqttString(spec.client_id);
  if (spec.will) {
    body += mqttString(spec.will->first) + mqttString(spec.will->second);
  }
  if (spec.username) {
    body += mqttString(*spec.username) + mqttString("");
  }
  return mqttPacket('\x10', body);
}

}  // namespace pepeunit::testing
