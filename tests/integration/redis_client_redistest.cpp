// RedisClient / RedisPool / RedisSubscriber against a real redis-server: commands, absence vs
// outage, bounded calls to a frozen server, reconnect and re-subscribe after restarts.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cache/redis/redis_client.hpp"
#include "common/errors.hpp"
#include "integration/harness/redis_server.hpp"
#include "integration/harness/temp_dir.hpp"
#include "integration/harness/wait.hpp"

namespace redis = pepeunit::cache::redis;
using pepeunit::testing::pollUntil;
using pepeunit::testing::RedisServer;
using pepeunit::testing::TempDir;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

constexpr auto kTimeout = milliseconds(200);
constexpr auto kRecover = seconds(10);

struct RedisFixture {
  TempDir dir;
  RedisServer server{dir.path() / "redis"};
  RedisFixture() { server.start(); }
  redis::RedisUrl url() const { return *redis::parseRedisUrl(server.url()); }
};

template <typename F>
milliseconds timeIt(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
}

// Messages seen by a subscriber callback, shared with the test thread.
struct Inbox {
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> messages;

  void add(std::string_view channel, std::string_view message) {
    std::lock_guard lock(mutex);
    messages.emplace_back(channel, message);
  }
  bool has(const std::string& channel, const std::string& message) {
    std::lock_guard lock(mutex);
    for (const auto& [c, m] : messages) {
      if (c == channel && m == message) {
        return true;
      }
    }
    return false;
  }
};

}  // namespace

TEST_CASE_FIXTURE(RedisFixture, "typed commands: set/get/del/incr/expire/ttl/publish") {
  redis::RedisClient client(url(), kTimeout);
  CHECK_FALSE(client.connected());  // lazy: nothing happens until the first call
  CHECK(client.ping());
  CHECK(client.connected());

  CHECK_FALSE(client.get("missing"));
  CHECK(client.set("k", "v"));
  CHECK(client.get("k") == "v");
  CHECK(client.ttl("k") == -1);  // present, no expiry
  CHECK_FALSE(client.ttl("missing"));

  CHECK(client.expire("k", seconds(100)));
  const auto ttl = client.ttl("k");
  REQUIRE(ttl);
  CHECK(*ttl > 90);
  CHECK(*ttl <= 100);
  CHECK_FALSE(client.expire("missing", seconds(10)));

  CHECK(client.set("with-ttl", "x", seconds(30)));
  const auto ttl2 = client.ttl("with-ttl");
  REQUIRE(ttl2);
  CHECK(*ttl2 > 20);

  CHECK(client.del("k"));
  CHECK_FALSE(client.del("k"));
  CHECK_FALSE(client.get("k"));

  CHECK(client.incr("counter") == 1);
  CHECK(client.incr("counter") == 2);
  CHECK(client.get("counter") == "2");

  CHECK(client.publish("nobody-listens", "hello"));
}

TEST_CASE_FIXTURE(RedisFixture, "arguments are binary-safe argv, never a format string") {
  redis::RedisClient client(url(), kTimeout);
  const std::string key = "key with spaces %s %n\r\n";
  const std::string value("bin\0ary \r\n*3\r\n$3\r\nDEL", 21);
  CHECK(client.set(key, value));
  CHECK(client.get(key) == value);
  CHECK(client.get(key)->size() == 21);
}

TEST_CASE_FIXTURE(RedisFixture, "error replies are RedisError or kError and keep the connection") {
  redis::RedisClient client(url(), kTimeout);
  REQUIRE(client.command({"RPUSH", "list", "a"}).integer == 1);

  CHECK_THROWS_AS(client.get("list"), redis::RedisError);  // WRONGTYPE
  CHECK_THROWS_AS(client.incr("list"), redis::RedisError);

  const auto reply = client.command({"NOSUCHCOMMAND", "x"});
  CHECK(reply.isError());
  CHECK(reply.str.find("unknown command") != std::string::npos);

  const auto range = client.command({"LRANGE", "list", "0", "-1"});
  REQUIRE(range.type == redis::Reply::Type::kArray);
  REQUIRE(range.elements.size() == 1);
  CHECK(range.elements[0].str == "a");
  CHECK(client.command({"GET", "missing"}).isNil());
  CHECK(client.ping());  // still the same healthy connection
}

TEST_CASE_FIXTURE(RedisFixture, "SELECT picks the db from the URL; AUTH uses the password") {
  auto db2 = url();
  db2.db = 2;
  redis::RedisClient in_db2(db2, kTimeout);
  redis::RedisClient in_db0(url(), kTimeout);
  CHECK(in_db2.set("only-in-2", "yes"));
  CHECK(in_db2.get("only-in-2") == "yes");
  CHECK_FALSE(in_db0.get("only-in-2"));

  REQUIRE(in_db0.command({"CONFIG", "SET", "requirepass", "pa ss"}).str == "OK");

  redis::RedisClient anonymous(url(), kTimeout);
  const auto denied = anonymous.command({"GET", "x"});
  CHECK(denied.isError());  // NOAUTH: a reply, not an outage

  auto with_password = url();
  with_password.password = "pa ss";
  redis::RedisClient authed(with_password, kTimeout);
  CHECK(authed.set("a", "1"));
  CHECK(authed.get("a") == "1");

  auto wrong = url();
  wrong.password = "wrong-secret";
  redis::RedisClient rejected(wrong, kTimeout);
  try {
    rejected.get("a");
    FAIL("expected Unavailable");
  } catch (const pepeunit::Unavailable& error) {
    CHECK(error.internal().find("AUTH") != std::string::npos);
    CHECK(error.internal().find("wrong-secret") == std::string::npos);  // no secret in errors
    CHECK(std::string(error.what()).find("wrong-secret") == std::string::npos);
  }
  CHECK_FALSE(rejected.ping());
}

TEST_CASE_FIXTURE(RedisFixture, "absence is nullopt; an outage is Unavailable; ping never throws") {
  redis::RedisClient client(url(), kTimeout);
  CHECK_FALSE(client.get("missing"));  // absent: a value

  server.stop();
  CHECK_THROWS_AS(client.get("missing"), pepeunit::Unavailable);
  CHECK_FALSE(client.connected());
  CHECK_FALSE(client.lastError().empty());
  CHECK_NOTHROW(client.ping());
  CHECK_FALSE(client.ping());

  // While backing off, calls fail at once instead of dialing a dead server each time.
  const auto elapsed = timeIt([&] {
    for (int i = 0; i < 1000; ++i) {
      CHECK_THROWS_AS(client.set("k", "v"), pepeunit::Unavailable);
    }
  });
  CHECK(elapsed < milliseconds(1000));

  server.start();  // same port
  CHECK(pollUntil([&] { return client.ping(); }, kRecover));
  CHECK_FALSE(client.get("missing"));
}

TEST_CASE_FIXTURE(RedisFixture, "reconnects by itself after a Redis restart") {
  redis::RedisClient client(url(), kTimeout);
  REQUIRE(client.set("before", "1"));
  server.restart();  // nothing is persisted, and our open connection is now dead

  CHECK(pollUntil(
      [&] {
        try {
          return client.set("after", "2");
        } catch (const pepeunit::Unavailable&) {
          return false;
        }
      },
      kRecover));
  CHECK(client.get("after") == "2");
  CHECK_FALSE(client.get("before"));
}

TEST_CASE_FIXTURE(RedisFixture, "a frozen Redis costs one timeout, not a hang") {
  redis::RedisClient client(url(), kTimeout);
  REQUIRE(client.ping());

  server.pause();
  const auto first = timeIt([&] { CHECK_THROWS_AS(client.get("k"), pepeunit::Unavailable); });
  CHECK(first >= milliseconds(150));
  CHECK(first < milliseconds(500));
  // The next call inside the backoff window does not touch the socket at all.
  const auto second = timeIt([&] { CHECK_FALSE(client.ping()); });
  CHECK(second < milliseconds(50));
  // A fresh client connects (the kernel still accepts) and then times out on its first command.
  redis::RedisClient fresh(url(), kTimeout);
  const auto connect_then_timeout =
      timeIt([&] { CHECK_THROWS_AS(fresh.get("k"), pepeunit::Unavailable); });
  CHECK(connect_then_timeout < milliseconds(500));

  server.resume();
  CHECK(pollUntil([&] { return client.ping(); }, kRecover));
  CHECK(pollUntil([&] { return fresh.ping(); }, kRecover));
}

TEST_CASE_FIXTURE(RedisFixture, "pool serves several threads and bounds waiting") {
  redis::RedisPool pool(url(), 3, kTimeout);
  CHECK(pool.size() == 3);
  CHECK(pool.ping());

  constexpr int kThreads = 8;
  constexpr int kIncrements = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        auto lease = pool.acquire();
        if (!lease->incr("shared")) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  CHECK(failures == 0);
  redis::RedisClient check(url(), kTimeout);
  CHECK(check.get("shared") == std::to_string(kThreads * kIncrements));

  {
    auto a = pool.acquire();
    auto b = pool.acquire();
    auto c = pool.acquire();
    const auto waited = timeIt([&] { CHECK_FALSE(pool.tryAcquire(milliseconds(50))); });
    CHECK(waited >= milliseconds(40));
    CHECK_FALSE(pool.ping());  // none free: health says so instead of blocking
    auto moved = std::move(b);
    CHECK(moved->ping());
  }
  CHECK(pool.tryAcquire(milliseconds(0)));  // all three came back
}

TEST_CASE_FIXTURE(RedisFixture, "subscriber receives, survives a restart and re-subscribes") {
  Inbox inbox;
  std::atomic<int> subscribed_calls{0};
  std::atomic<int> disconnects{0};
  redis::RedisSubscriber subscriber(
      url(), {"events", "other"},
      {.on_message = [&](std::string_view c, std::string_view m) { inbox.add(c, m); },
       .on_subscribed = [&] { ++subscribed_calls; },
       .on_disconnected = [&](std::string_view) { ++disconnects; }},
      kTimeout);
  subscriber.start();
  REQUIRE(pollUntil([&] { return subscriber.subscribed(); }, kRecover));
  CHECK(subscribed_calls == 1);

  redis::RedisClient publisher(url(), kTimeout);
  REQUIRE(publisher.publish("events", "one"));
  REQUIRE(publisher.publish("other", "two"));
  REQUIRE(publisher.publish("not-subscribed", "three"));
  CHECK(
      pollUntil([&] { return inbox.has("events", "one") && inbox.has("other", "two"); }, kRecover));

  server.restart();
  CHECK(pollUntil([&] { return subscriber.resubscribes() >= 1 && subscriber.subscribed(); },
                  kRecover));
  CHECK(disconnects >= 1);
  CHECK(subscribed_calls >= 2);
  CHECK(pollUntil(
      [&] {
        try {
          return publisher.publish("events", "after-restart");
        } catch (const pepeunit::Unavailable&) {
          return false;
        }
      },
      kRecover));
  CHECK(pollUntil([&] { return inbox.has("events", "after-restart"); }, kRecover));
  CHECK_FALSE(inbox.has("not-subscribed", "three"));
  CHECK(subscriber.messages() >= 3);

  const auto stop_took = timeIt([&] { subscriber.stop(); });
  CHECK(stop_took < milliseconds(500));
  CHECK_FALSE(subscriber.subscribed());
}

TEST_CASE_FIXTURE(RedisFixture, "subscriber notices a frozen server by PING and recovers") {
  Inbox inbox;
  redis::RedisSubscriber subscriber(
      url(), {"events"},
      {.on_message = [&](std::string_view c, std::string_view m) { inbox.add(c, m); }}, kTimeout,
      milliseconds(200));
  subscriber.start();
  REQUIRE(pollUntil([&] { return subscriber.subscribed(); }, kRecover));

  server.pause();
  CHECK(pollUntil([&] { return !subscriber.subscribed(); }, seconds(3)));
  server.resume();
  CHECK(pollUntil([&] { return subscriber.subscribed(); }, kRecover));
  redis::RedisClient publisher(url(), kTimeout);
  REQUIRE(publisher.publish("events", "back"));
  CHECK(pollUntil([&] { return inbox.has("events", "back"); }, kRecover));
}

TEST_CASE_FIXTURE(RedisFixture, "subscriber started while Redis is down connects later") {
  server.stop();
  Inbox inbox;
  redis::RedisSubscriber subscriber(
      url(), {"events"},
      {.on_message = [&](std::string_view c, std::string_view m) { inbox.add(c, m); }}, kTimeout);
  subscriber.start();
  CHECK_FALSE(subscriber.subscribed());
  server.start();
  CHECK(pollUntil([&] { return subscriber.subscribed(); }, kRecover));
  CHECK(subscriber.resubscribes() == 0);  // the first subscribe is not a re-subscribe
  redis::RedisClient publisher(url(), kTimeout);
  REQUIRE(publisher.publish("events", "late"));
  CHECK(pollUntil([&] { return inbox.has("events", "late"); }, kRecover));

  server.stop();
  const auto stop_took = timeIt([&] { subscriber.stop(); });
  CHECK(stop_took < milliseconds(500));
}
