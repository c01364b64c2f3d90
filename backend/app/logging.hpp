// Process-wide logging setup (spdlog): text for people, JSON lines for log collectors.
#pragma once

#include <string>

namespace pepeunit::app {

/// Installs the default stderr logger. `format` is "text" or "json"; `level` a spdlog level name.
void setupLogging(const std::string& level, const std::string& format);

}  // namespace pepeunit::app
