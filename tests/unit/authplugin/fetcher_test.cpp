// Fetch logic with fake L2/backend (L2 first, version floor, write-through, status handling,
// circuit breaker), the worker pool's single-flight and hand-over (threads, no sockets), and
// invalidation event parsing.
#include "authplugin/fetcher.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "authplugin/invalidator.hpp"
#include "authplugin/principal.hpp"
#include "common/errors.hpp"

namespace ap = pepeunit::authplugin;
namespace pd = pepeunit::domain;

namespace {

const std::string kPrincipal = "unit:0f8fad5b-d9cb-469f-a165-70867728950e";

std::string rulesJson(std::uint64_t version, std::int64_t stale_ttl = 0) {
  return R"({"version":)" + std::to_string(version) + R"(,"stale_ttl":)" +
         std::to_string(stale_ttl) +
         R"(,"rules":[{"permission":"allow","actions":["read"],"filter":"D/x"}]})";
}

class FakeL2 : public ap::L2Store {
 public:
  std::optional<std::string> get(const std::string& key) override {
    ++gets;
    if (down) {
      throw pepeunit::Unavailable("Cache unavailable", "connection refused");
    }
    const auto it = data.find(key);
    return it == data.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  void set(const std::string& key, const std::string& value, std::chrono::seconds ttl) override {
    if (down) {
      throw pepeunit::Unavailable("Cache unavailable", "connection refused");
    }
    data[key] = value;
    ttls[key] = ttl;
  }

  std::map<std::string, std::string> data;
  std::map<std::string, std::chrono::seconds> ttls;
  int gets = 0;
  bool down = false;
};

class FakeBackend : public ap::BackendApi {
 public:
  Response fetchRules(const std::string& principal) override {
    principals.push_back(principal);
    return response;
  }
  Response checkTopic(const std::string& principal, const ap::TopicQuestion& question) override {
    questions.emplace_back(principal, question.topic);
    return check_response;
  }
  Response response{200, rulesJson(3), ""};
  Response check_response{200, R"({"result":"allow","ttl":30})", ""};
  std::vector<std::string> principals;
  std::vector<std::pair<std::string, std::string>> questions;
};

const std::string& key() {
  static const std::string k = ap::rulesKey("pfx", ap::principalHash(kPrincipal));
  return k;
}

ap::ResolveConfig config() {
  ap::ResolveConfig c;
  c.redis_prefix = "pfx";
  c.default_stale_ttl = std::chrono::seconds(3600);
  return c;
}

}  // namespace

TEST_CASE("authplugin/fetcher: keys are hashed and prefixed, never the principal itself") {
  const auto hash = ap::principalHash(kPrincipal);
  CHECK(hash.size() == 64);
  CHECK(hash == ap::principalHash(kPrincipal));
  CHECK(ap::rulesKey("pepeunit:acl:v1", hash) == "pepeunit:acl:v1:rules:" + hash);
  CHECK(ap::rulesKey("p", hash).find("0f8fad5b") == std::string::npos);
}

TEST_CASE("authplugin/fetcher: L2 first, then the backend with write-through") {
  FakeL2 l2;
  FakeBackend backend;
  ap::CircuitBreaker breaker;

  SUBCASE("L2 hit") {
    l2.data[key()] = rulesJson(2);
    const auto result = ap::resolveRules({kPrincipal, 0, false}, &l2, backend, breaker, config());
    CHECK(result.status == ap::FetchStatus::kRules);
    CHECK(result.source == ap::FetchSource::kL2);
    CHECK(result.rules->version == 2);
    CHECK(backend.principals.empty());
  }
  SUBCASE("L2 copy older than announced: the backend answers and L2 is rewritten") {
    l2.data[key()] = rulesJson(2);
    const auto result = ap::resolveRules({kPrincipal, 3, false}, &l2, backend, breaker, config());
    CHECK(result.source == ap::FetchSource::kBackend);
    CHECK(result.rules->version == 3);
    CHECK(backend.principals == std::vector<std::string>{kPrincipal});
    CHECK(pd::parseRuleSet(l2.data[key()])->version == 3);
    CHECK(l2.ttls[key()] == std::chrono::seconds(3600));
  }
  SUBCASE("L2 miss; the rule set's own stale_ttl becomes the Redis expiry") {
    backend.response.body = rulesJson(4, 120);
    const auto result = ap::resolveRules({kPrincipal, 0, false}, &l2, backend, breaker, config());
    CHECK(result.source == ap::FetchSource::kBackend);
    CHECK(l2.ttls[key()] == std::chrono::seconds(120));
  }
  SUBCASE("deferred: the result comes before the write-through, which is left to the caller") {
    std::optional<ap::L2Write> write;
    const auto result =
        ap::resolveRulesDeferred({kPrincipal, 0, false}, &l2, backend, breaker, config(), write);
    CHECK(result.source == ap::FetchSource::kBackend);
    CHECK(l2.data.empty());
    REQUIRE(write.has_value());
    CHECK(write->key == key());
    ap::writeThrough(&l2, write);
    CHECK(pd::parseRuleSet(l2.data[key()])->version == 3);
    CHECK(l2.ttls[key()] == std::chrono::seconds(3600));
    // An L2 hit has nothing to write back.
    ap::resolveRulesDeferred({kPrincipal, 0, false}, &l2, backend, breaker, config(), write);
    CHECK_FALSE(write.has_value());
  }
  SUBCASE("skip_l2 does not read L2") {
    l2.data[key()] = rulesJson(9);
    const auto result = ap::resolveRules({kPrincipal, 0, true}, &l2, backend, breaker, config());
    CHECK(l2.gets == 0);
    CHECK(result.rules->version == 3);
  }
  SUBCASE("corrupt L2 copy falls through to the backend") {
    l2.data[key()] = "{garbage";
    const auto result = ap::resolveRules({kPrincipal, 0, false}, &l2, backend, breaker, config());
    CHECK(result.source == ap::FetchSource::kBackend);
  }
  SUBCASE("Redis down: the backend answers, no write attempted") {
    l2.down = true;
    const auto result = ap::resolveRules({kPrincipal, 0, false}, &l2, backend, breaker, config());
    CHECK(result.status == ap::FetchStatus::kRules);
    CHECK(l2.data.empty());
  }
  SUBCASE("no L2 configured") {
    const auto result =
        ap::resolveRules({kPrincipal, 0, false}, nullptr, backend, breaker, config());
    CHECK(result.status == ap::FetchStatus::kRules);
  }
}

TEST_CASE("authplugin/fetcher: only 200 with a valid body and 404 are answers") {
  FakeL2 l2;
  FakeBackend backend;
  ap::CircuitBreaker breaker(100);

  backend.response = {404, "{}", ""};
  CHECK(ap::resolveRules({kPrincipal}, &l2, backend, breaker, config()).status ==
        ap::FetchStatus::kNotFound);
  CHECK(l2.data.empty());  // unknown principals are not written to L2

  backend.response = {500, "oops", ""};
  auto result = ap::resolveRules({kPrincipal}, &l2, backend, breaker, config());
  CHECK(result.status == ap::FetchStatus::kError);
  CHECK(result.error.find("500") != std::string::npos);

  backend.response = {200, R"({"rules": []})", ""};
  CHECK(ap::resolveRules({kPrincipal}, &l2, backend, breaker, config()).status ==
        ap::FetchStatus::kError);

  backend.response = {0, "", "Read timeout"};
  result = ap::resolveRules({kPrincipal}, &l2, backend, breaker, config());
  CHECK(result.status == ap::FetchStatus::kError);
  CHECK(result.error.find("Read timeout") != std::string::npos);
  CHECK(l2.data.empty());
}

TEST_CASE("authplugin/fetcher: a question goes to the check endpoint only") {
  FakeL2 l2;
  FakeBackend backend;
  ap::CircuitBreaker breaker(100);
  ap::FetchRequest request{kPrincipal, 0, false,
                           ap::TopicQuestion{pd::AclAction::kSubscribe, "D/some/topic"}};
  CHECK(request.key() != kPrincipal);  // never merged with a rule-set fetch of the principal
  CHECK(request.key() != ap::FetchRequest{kPrincipal, 0, false,
                                          ap::TopicQuestion{pd::AclAction::kRead, "D/some/topic"}}
                             .key());

  std::optional<ap::L2Write> write;
  auto result = ap::resolveRulesDeferred(request, &l2, backend, breaker, config(), write);
  CHECK(result.status == ap::FetchStatus::kDecision);
  CHECK(result.key() == request.key());
  CHECK(result.answer.allow);
  CHECK(result.answer.ttl_s == 30);
  CHECK_FALSE(write.has_value());
  CHECK(l2.gets == 0);
  CHECK(backend.principals.empty());
  REQUIRE(backend.questions.size() == 1);
  CHECK(backend.questions[0] == std::pair<std::string, std::string>(kPrincipal, "D/some/topic"));

  backend.check_response = {200, R"({"result":"deny"})", ""};
  result = ap::resolveRules(request, &l2, backend, breaker, config());
  CHECK(result.status == ap::FetchStatus::kDecision);
  CHECK_FALSE(result.answer.allow);
  CHECK(result.answer.ttl_s == 0);

  backend.check_response = {404, "{}", ""};
  CHECK(ap::resolveRules(request, &l2, backend, breaker, config()).status ==
        ap::FetchStatus::kNotFound);
  for (const auto& bad : {ap::BackendApi::Response{500, "", ""},
                          ap::BackendApi::Response{200, R"({"result":"maybe"})", ""},
                          ap::BackendApi::Response{200, R"({"result":"allow","ttl":-1})", ""},
                          ap::BackendApi::Response{200, "garbage", ""},
                          ap::BackendApi::Response{0, "", "Connection refused"}}) {
    backend.check_response = bad;
    result = ap::resolveRules(request, &l2, backend, breaker, config());
    CHECK(result.status == ap::FetchStatus::kError);
    CHECK(result.question.has_value());
  }
  CHECK(l2.data.empty());
}

TEST_CASE("authplugin/fetcher: L2 reads that keep missing are skipped, with probes") {
  FakeL2 l2;
  FakeBackend backend;
  ap::CircuitBreaker breaker(100);
  ap::L2MissStreak streak;
  const auto fetch = [&] {
    std::optional<ap::L2Write> write;
    const auto result = ap::resolveRulesDeferred({kPrincipal, 0, false}, &l2, backend, breaker,
                                                 config(), write, &streak);
    CHECK(result.status == ap::FetchStatus::kRules);
    // Skipped or not, an answer of the backend is written through.
    CHECK((write.has_value() || result.source == ap::FetchSource::kL2));
  };
  for (int i = 0; i < ap::L2MissStreak::kStreak; ++i) {
    fetch();
  }
  CHECK(l2.gets == ap::L2MissStreak::kStreak);
  for (int i = 0; i < 2 * ap::L2MissStreak::kProbeEvery; ++i) {
    fetch();
  }
  CHECK(l2.gets == ap::L2MissStreak::kStreak + 2);  // one probe in every kProbeEvery
  // L2 warms up (another broker wrote it): the next probe hits and ends the streak.
  l2.data[key()] = rulesJson(2);
  for (int i = 0; i < ap::L2MissStreak::kProbeEvery; ++i) {
    fetch();
  }
  const int gets = l2.gets;
  std::optional<ap::L2Write> write;
  const auto result = ap::resolveRulesDeferred({kPrincipal, 0, false}, &l2, backend, breaker,
                                               config(), write, &streak);
  CHECK(result.source == ap::FetchSource::kL2);
  CHECK(l2.gets == gets + 1);
}

TEST_CASE("authplugin/fetcher: the circuit breaker opens, then probes") {
  using namespace std::chrono_literals;
  ap::CircuitBreaker breaker(3, 1000ms);
  const auto t0 = ap::CircuitBreaker::Clock::now();
  for (int i = 0; i < 3; ++i) {
    CHECK(breaker.allow(t0));
    breaker.failure(t0);
  }
  CHECK(breaker.open(t0));
  CHECK_FALSE(breaker.allow(t0 + 999ms));
  CHECK(breaker.allow(t0 + 1000ms));        // one probe
  CHECK_FALSE(breaker.allow(t0 + 1001ms));  // the probe is still out
  breaker.success();
  CHECK_FALSE(breaker.open(t0 + 1001ms));
  CHECK(breaker.allow(t0 + 1001ms));

  FakeL2 l2;
  FakeBackend backend;
  backend.response = {503, "", ""};
  ap::CircuitBreaker tripping(2, 60'000ms);
  ap::resolveRules({kPrincipal}, &l2, backend, tripping, config());
  ap::resolveRules({kPrincipal}, &l2, backend, tripping, config());
  const auto result = ap::resolveRules({kPrincipal}, &l2, backend, tripping, config());
  CHECK(result.error.find("circuit open") != std::string::npos);
  CHECK(backend.principals.size() == 2);
  // L2 still answers while the backend's circuit is open.
  l2.data[key()] = rulesJson(1);
  CHECK(ap::resolveRules({kPrincipal}, &l2, backend, tripping, config()).status ==
        ap::FetchStatus::kRules);
}

namespace {

/// A backend that blocks each call until the test releases it.
class GatedBackend : public ap::BackendApi {
 public:
  struct Gate {
    std::mutex mutex;
    std::condition_variable cv;
    int entered = 0;
    int released = 0;
    int calls = 0;
  };
  explicit GatedBackend(Gate& gate) : gate_(gate) {}
  Response fetchRules(const std::string&) override {
    std::unique_lock lock(gate_.mutex);
    const int ticket = gate_.entered++;
    ++gate_.calls;
    gate_.cv.notify_all();
    gate_.cv.wait(lock, [&] { return gate_.released > ticket; });
    return {200, rulesJson(static_cast<std::uint64_t>(ticket) + 1), ""};
  }
  Response checkTopic(const std::string&, const ap::TopicQuestion&) override {
    return {0, "", "not used"};
  }

 private:
  Gate& gate_;
};

/// The sink of a Fetcher under test: results in arrival order, waited for by principal.
class Collected {
 public:
  std::function<void(const ap::FetchResult&)> sink() {
    return [this](const ap::FetchResult& result) {
      std::lock_guard lock(mutex_);
      results_.push_back(result);
      cv_.notify_all();
    };
  }
  /// The next result for `principal` not taken yet, waiting at most `timeout`.
  std::optional<ap::FetchResult> take(const std::string& principal,
                                      std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    std::optional<ap::FetchResult> found;
    cv_.wait_for(lock, timeout, [&] {
      const auto it = std::find_if(results_.begin(), results_.end(),
                                   [&](const auto& r) { return r.principal == principal; });
      if (it == results_.end()) {
        return false;
      }
      found = *it;
      results_.erase(it);
      return true;
    });
    return found;
  }
  std::size_t pending() {
    std::lock_guard lock(mutex_);
    return results_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<ap::FetchResult> results_;
};

}  // namespace

TEST_CASE("authplugin/fetcher: a fetcher needs a sink and a backend") {
  ap::Fetcher::Options options;
  options.make_backend = [] { return std::make_unique<FakeBackend>(); };
  CHECK_THROWS_AS(ap::Fetcher{options}, std::invalid_argument);
  Collected collected;
  options.sink = collected.sink();
  options.make_backend = nullptr;
  CHECK_THROWS_AS(ap::Fetcher{options}, std::invalid_argument);
}

TEST_CASE("authplugin/fetcher: single-flight per principal, results handed over") {
  GatedBackend::Gate gate;
  Collected collected;
  ap::Fetcher::Options options;
  options.workers = 2;
  options.make_backend = [&gate] { return std::make_unique<GatedBackend>(gate); };
  options.sink = collected.sink();
  ap::Fetcher fetcher(std::move(options));
  fetcher.start();

  REQUIRE(fetcher.request({kPrincipal}));
  {
    std::unique_lock lock(gate.mutex);
    gate.cv.wait(lock, [&] { return gate.entered == 1; });
  }
  // While it runs, more requests for the same principal coalesce into one re-run.
  REQUIRE(fetcher.request({kPrincipal, 5}));
  REQUIRE(fetcher.request({kPrincipal}));
  {
    std::lock_guard lock(gate.mutex);
    gate.released = 1;
    gate.cv.notify_all();
  }
  auto first = collected.take(kPrincipal, std::chrono::seconds(10));
  REQUIRE(first.has_value());
  CHECK(first->status == ap::FetchStatus::kRules);
  CHECK(first->rules->version == 1);
  {
    std::unique_lock lock(gate.mutex);
    gate.cv.wait(lock, [&] { return gate.entered == 2; });
    gate.released = 2;
    gate.cv.notify_all();
  }
  auto second = collected.take(kPrincipal, std::chrono::seconds(10));
  REQUIRE(second.has_value());
  CHECK(second->rules->version == 2);
  fetcher.stop();
  CHECK(collected.pending() == 0);  // two runs, two results
  CHECK(gate.calls == 2);
}

TEST_CASE("authplugin/fetcher: a full queue refuses; every queued fetch reaches the sink") {
  GatedBackend::Gate gate;
  Collected collected;
  ap::Fetcher::Options options;
  options.workers = 1;
  options.max_queued = 1;
  options.make_backend = [&gate] { return std::make_unique<GatedBackend>(gate); };
  options.sink = collected.sink();
  ap::Fetcher fetcher(std::move(options));
  fetcher.start();
  REQUIRE(fetcher.request({"unit:a"}));
  {
    std::unique_lock lock(gate.mutex);
    gate.cv.wait(lock, [&] { return gate.entered == 1; });  // a is running, queue empty
  }
  CHECK(fetcher.request({"unit:b"}));
  CHECK_FALSE(fetcher.request({"unit:c"}));  // queue holds b already
  {
    std::lock_guard lock(gate.mutex);
    gate.released = 2;
    gate.cv.notify_all();
  }
  REQUIRE(collected.take("unit:b", std::chrono::seconds(10)).has_value());
  REQUIRE(collected.take("unit:a", std::chrono::seconds(10)).has_value());
  CHECK_FALSE(collected.take("unit:c", std::chrono::milliseconds(0)).has_value());
  fetcher.stop();
}

TEST_CASE("authplugin/invalidator: event parsing is strict") {
  const std::string hash = ap::principalHash(kPrincipal);
  auto event = ap::parseInvalidationEvent(R"({"principal_hash":")" + hash +
                                          R"(","version":7,"kind":"revoke"})");
  REQUIRE(event.has_value());
  CHECK(event->kind == ap::InvalidationEvent::Kind::kRevoke);
  CHECK(event->principal_hash == hash);
  CHECK(event->version == 7);

  event = ap::parseInvalidationEvent(R"({"kind":"all"})");
  REQUIRE(event.has_value());
  CHECK(event->kind == ap::InvalidationEvent::Kind::kAll);

  for (const std::string& kind : std::vector<std::string>{"grant", "deleted"}) {
    CHECK(ap::parseInvalidationEvent(R"({"principal_hash":")" + hash + R"(","kind":")" + kind +
                                     R"("})")
              .has_value());
  }
  const std::string rejected[] = {
      "nope",
      R"({"principal_hash":")" + hash + R"(","kind":"explode"})",
      R"({"principal_hash":"unit:abc","kind":"revoke"})",  // not a hash: ids never travel
      R"({"kind":"revoke"})",
      R"({"principal_hash":")" + hash + R"(","version":-1,"kind":"revoke"})",
      R"({"principal_hash":")" + hash + R"(","version":"2","kind":"revoke"})",
  };
  for (const auto& text : rejected) {
    INFO(text);
    CHECK_FALSE(ap::parseInvalidationEvent(text).has_value());
  }

  ap::EventQueue queue;
  CHECK(queue.drain().empty());
  queue.push({ap::InvalidationEvent::Kind::kGrant, hash, 1});
  queue.push({ap::InvalidationEvent::Kind::kAll, {}, 0});
  CHECK(queue.drain().size() == 2);
  CHECK(queue.drain().empty());
}
