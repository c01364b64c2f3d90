// MqttClient against a real Mosquitto: roundtrip, starting before the broker, reconnect and
// automatic re-subscription after a broker restart, TLS with a verified CA, and publish while
// disconnected.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

#include "bus/mqtt/mqtt_client.hpp"
#include "integration/harness/mosquitto_server.hpp"
#include "integration/harness/temp_dir.hpp"
#include "integration/harness/tls_certs.hpp"
#include "integration/harness/wait.hpp"

using pepeunit::bus::mqtt::MqttClient;
using pepeunit::testing::MosquittoServer;
using pepeunit::testing::pollUntil;
using pepeunit::testing::TempDir;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

constexpr auto kDeadline = seconds(10);

struct BrokerFixture {
  TempDir dir;
  MosquittoServer broker{dir.path() / "mqtt", MosquittoServer::Options{}};
  BrokerFixture() { broker.start(); }

  MqttClient::Options plain(const std::string& client_id) const {
    MqttClient::Options options;
    options.host = "127.0.0.1";
    options.port = broker.port();
    options.client_id = client_id;
    options.keepalive_s = 5;
    options.reconnect_min = milliseconds(50);
    options.reconnect_max = milliseconds(500);
    return options;
  }
  MqttClient::Options tls(const std::string& client_id) const {
    auto options = plain(client_id);
    options.tls = true;
    options.port = broker.tlsPort();
    options.ca_file = broker.caFile().string();
    return options;
  }
};

// Messages delivered to a handler (on a Paho thread), read by the test thread.
struct Inbox {
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> messages;

  MqttClient::MessageHandler handler() {
    return [this](std::string topic, std::string payload) {
      std::lock_guard lock(mutex);
      messages.emplace_back(std::move(topic), std::move(payload));
    };
  }
  bool has(const std::string& topic, const std::string& payload) {
    std::lock_guard lock(mutex);
    for (const auto& [t, p] : messages) {
      if (t == topic && p == payload) {
        return true;
      }
    }
    return false;
  }
};

// The subscription is asynchronous, so publish until the message comes round (bounded).
bool publishUntilReceived(MqttClient& publisher, Inbox& inbox, const std::string& topic,
                          const std::string& payload) {
  return pollUntil(
      [&] {
        publisher.publish(topic, payload);
        return pollUntil([&] { return inbox.has(topic, payload); }, milliseconds(100),
                         milliseconds(5));
      },
      kDeadline, milliseconds(0));
}

}  // namespace

TEST_CASE_FIXTURE(BrokerFixture, "connect, subscribe, publish and receive") {
  Inbox inbox;
  MqttClient subscriber(plain("it-sub"));
  MqttClient publisher(plain("it-pub"));
  subscriber.setMessageHandler(inbox.handler());
  subscriber.subscribe("units/+/state", 0);
  subscriber.start();
  publisher.start();
  REQUIRE(pollUntil([&] { return subscriber.connected() && publisher.connected(); }, kDeadline));

  const std::string binary("\x01\x00\xff payload", 11);
  CHECK(publishUntilReceived(publisher, inbox, "units/u1/state", binary));
  CHECK(publishUntilReceived(publisher, inbox, "units/u2/state", "{\"x\":1}"));

  // A filter added while connected works at once, QoS 1 included.
  subscriber.subscribe("commands/#", 1);
  CHECK(pollUntil(
      [&] {
        publisher.publish("commands/u1/update", "go", 1);
        return pollUntil([&] { return inbox.has("commands/u1/update", "go"); }, milliseconds(100),
                         milliseconds(5));
      },
      kDeadline, milliseconds(0)));

  // Unsubscribed filters stop delivering.
  subscriber.unsubscribe("commands/#");
  REQUIRE(publishUntilReceived(publisher, inbox, "units/u3/state", "sync"));
  publisher.publish("commands/u1/update", "ignored");
  CHECK(publishUntilReceived(publisher, inbox, "units/u4/state", "sync-after"));
  CHECK_FALSE(inbox.has("commands/u1/update", "ignored"));

  CHECK(subscriber.stats().messages_in >= 4);
  CHECK(publisher.stats().messages_out >= 4);
  CHECK(subscriber.stats().reconnects == 0);

  subscriber.stop();
  CHECK_FALSE(subscriber.connected());
  CHECK_FALSE(subscriber.publish("units/u1/state", "after-stop"));
}

TEST_CASE_FIXTURE(BrokerFixture, "starting while the broker is down connects once it is up") {
  broker.stop();
  Inbox inbox;
  MqttClient subscriber(plain("it-early"));
  subscriber.setMessageHandler(inbox.handler());
  subscriber.subscribe("early/#", 0);
  CHECK_NOTHROW(subscriber.start());
  CHECK_FALSE(subscriber.connected());
  CHECK_FALSE(subscriber.publish("early/x", "nobody"));  // false, not a throw

  broker.start();  // same ports
  CHECK(pollUntil([&] { return subscriber.connected(); }, kDeadline));
  MqttClient publisher(plain("it-early-pub"));
  publisher.start();
  REQUIRE(pollUntil([&] { return publisher.connected(); }, kDeadline));
  CHECK(publishUntilReceived(publisher, inbox, "early/x", "hello"));
  CHECK(subscriber.stats().reconnects == 0);
}

TEST_CASE_FIXTURE(BrokerFixture, "broker restart: reconnects and re-subscribes by itself") {
  Inbox inbox;
  MqttClient subscriber(plain("it-restart-sub"));
  MqttClient publisher(plain("it-restart-pub"));
  subscriber.setMessageHandler(inbox.handler());
  subscriber.subscribe("$share/backend/+/pepeunit", 0);
  subscriber.subscribe("plain/topic", 0);
  subscriber.start();
  publisher.start();
  REQUIRE(pollUntil([&] { return subscriber.connected() && publisher.connected(); }, kDeadline));
  REQUIRE(publishUntilReceived(publisher, inbox, "u1/pepeunit", "before"));

  broker.restart();
  CHECK(pollUntil(
      [&] {
        return subscriber.connected() && publisher.connected() &&
               subscriber.stats().reconnects >= 1;
      },
      kDeadline));
  CHECK(publishUntilReceived(publisher, inbox, "u1/pepeunit", "after-restart"));
  CHECK(publishUntilReceived(publisher, inbox, "plain/topic", "after-restart"));
  CHECK(publisher.stats().reconnects >= 1);

  // And once more: re-subscription is not a one-off.
  broker.restart();
  CHECK(pollUntil([&] { return subscriber.stats().reconnects >= 2 && subscriber.connected(); },
                  kDeadline));
  CHECK(publishUntilReceived(publisher, inbox, "u2/pepeunit", "second-restart"));
}

TEST_CASE_FIXTURE(BrokerFixture, "publish while disconnected returns false") {
  MqttClient client(plain("it-offline"));
  CHECK_FALSE(client.publish("x", "not started"));
  client.start();
  REQUIRE(pollUntil([&] { return client.connected(); }, kDeadline));
  CHECK(client.publish("x", "connected"));
  const auto sent = client.stats().messages_out;

  broker.stop();
  CHECK(pollUntil([&] { return !client.connected(); }, kDeadline));
  CHECK_FALSE(client.publish("x", "broker down"));
  CHECK_FALSE(client.publish("x", "broker down", 1));
  CHECK(client.stats().messages_out == sent);

  broker.start();
  CHECK(pollUntil([&] { return client.connected(); }, kDeadline));
  CHECK(client.publish("x", "back"));
}

TEST_CASE_FIXTURE(BrokerFixture, "TLS to the TLS listener with the CA file") {
  REQUIRE(broker.tlsPort() != 0);
  Inbox inbox;
  MqttClient subscriber(tls("it-tls-sub"));
  MqttClient publisher(plain("it-tls-pub"));
  subscriber.setMessageHandler(inbox.handler());
  subscriber.subscribe("secure/#", 1);
  subscriber.start();
  publisher.start();
  REQUIRE(pollUntil([&] { return subscriber.connected() && publisher.connected(); }, kDeadline));
  CHECK(publishUntilReceived(publisher, inbox, "secure/a", "over tls"));

  // TLS publish works the other way round too.
  MqttClient tls_publisher(tls("it-tls-pub2"));
  tls_publisher.start();
  REQUIRE(pollUntil([&] { return tls_publisher.connected(); }, kDeadline));
  CHECK(publishUntilReceived(tls_publisher, inbox, "secure/b", "tls to tls"));
}

TEST_CASE_FIXTURE(BrokerFixture, "TLS refuses a server certificate from another CA") {
  const auto other = pepeunit::testing::makeTestCertificates(dir.path() / "other-ca");
  auto options = tls("it-tls-wrong-ca");
  options.ca_file = other.ca_cert.string();
  MqttClient client(options);
  client.start();
  // Several attempts happen in this window (backoff 50..500 ms); none may succeed.
  CHECK_FALSE(pollUntil([&] { return client.connected(); }, milliseconds(1500)));

  // The same client options with the right CA do connect, so the refusal was the CA.
  MqttClient good(tls("it-tls-right-ca"));
  good.start();
  CHECK(pollUntil([&] { return good.connected(); }, kDeadline));
}
