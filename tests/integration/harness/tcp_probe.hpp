// Raw loopback TCP probes with hard deadlines, for readiness checks that must not depend on the
// client libraries under test (Redis PING, MQTT CONNECT/CONNACK) and must not hang on a paused
// server.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace pepeunit::testing {

/// True if 127.0.0.1:`port` accepts a TCP connection within `timeout`.
bool tcpConnects(int port, std::chrono::milliseconds timeout = std::chrono::seconds(1));

/// Connects to 127.0.0.1:`port`, sends `request`, then reads until `complete(received so far)`
/// is true. Returns the bytes received, or nullopt on connect failure, EOF before completion or
/// when `timeout` (covering the whole exchange) passes.
std::optional<std::string> tcpExchange(int port, std::string_view request,
                                       const std::function<bool(std::string_view)>& complete,
                                       std::chrono::milliseconds timeout);

}  // namespace pepeunit::testing
