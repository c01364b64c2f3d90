# Debian packages the project needs to build, test and run. Sourced by scripts/pepeunit.
# shellcheck shell=bash disable=SC2034
PEPEUNIT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git ca-certificates openssl curl procps
  libssl-dev zlib1g-dev libpqxx-dev libpq-dev libhiredis-dev
  libpaho-mqtt-dev libpaho-mqttpp-dev
  mosquitto mosquitto-dev libmosquitto-dev mosquitto-clients
  postgresql redis-server redis-tools
  libcpp-httplib-dev nlohmann-json3-dev doctest-dev libgit2-dev libarchive-dev
  libspdlog-dev libfmt-dev libcli11-dev
  libyaml-cpp-dev wrk hey python3 python3-paho-mqtt
)
