// The helper process's wire format, the broker-side HelperClient against a scripted peer on a
// socketpair (results, events, the helper dying and coming back), and runHelper itself on a
// thread with a fake backend (no fork: the fork wiring is exercised by every broker test).
#include "authplugin/helper.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

namespace ap = pepeunit::authplugin;
namespace pd = pepeunit::domain;

namespace {

const std::string kPrincipal = "unit:0f8fad5b-d9cb-469f-a165-70867728950e";
const std::string kRules =
    R"({"rules":[{"actions":["publish"],"filter":"d/x","permission":"allow"}],"stale_ttl":60,)"
    R"("superuser":false,"ttl":30,"version":7})";

ap::FetchResult rulesResult() {
  ap::FetchResult result;
  result.principal = kPrincipal;
  result.status = ap::FetchStatus::kRules;
  result.source = ap::FetchSource::kBackend;
  result.rules = std::make_shared<const pd::RuleSet>(*pd::parseRuleSet(kRules));
  return result;
}

/// The helper's end of a socketpair, driven by the test.
struct Peer {
  int fd = -1;
  ap::FrameReader reader;

  void send(const std::string& payload) const {
    std::string frame;
    ap::appendFrame(frame, payload);
    REQUIRE(::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(frame.size()));
  }
  /// The next request the client sent (blocking).
  ap::FetchRequest nextRequest() {
    char buffer[4096];
    while (true) {
      if (auto payload = reader.next()) {
        auto request = ap::decodeRequest(*payload);
        REQUIRE(request.has_value());
        return *request;
      }
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      REQUIRE(n > 0);
      reader.feed(buffer, static_cast<std::size_t>(n));
    }
  }
};

struct ClientFixture {
  std::int64_t now_ms = 1000;
  int spawns = 0;
  bool spawn_fails = false;
  Peer peer;
  ap::EventQueue events;
  ap::HelperClient client{[this] {
                            ++spawns;
                            if (spawn_fails) {
                              return ap::HelperProcess{};
                            }
                            int sv[2];
                            REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
                            peer = Peer{sv[1], {}};
                            return ap::HelperProcess{sv[0], -1};
                          },
                          events, [this] { return now_ms; }};

  ~ClientFixture() {
    if (peer.fd >= 0) {
      ::close(peer.fd);
    }
  }
};

}  // namespace

TEST_CASE("authplugin/helper: frames survive any split of the stream; oversized ones break it") {
  std::string stream;
  ap::appendFrame(stream, "first");
  ap::appendFrame(stream, "");
  ap::appendFrame(stream, std::string(70000, 'x'));
  for (const std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{4096}}) {
    ap::FrameReader reader;
    std::vector<std::string> got;
    for (std::size_t i = 0; i < stream.size(); i += chunk) {
      reader.feed(stream.data() + i, std::min(chunk, stream.size() - i));
      while (auto payload = reader.next()) {
        got.push_back(*payload);
      }
    }
    REQUIRE(got.size() == 3);
    CHECK(got[0] == "first");
    CHECK(got[1].empty());
    CHECK(got[2].size() == 70000);
  }
  ap::FrameReader reader;
  const char huge[] = {'\x7f', '\xff', '\xff', '\xff'};
  reader.feed(huge, sizeof huge);
  CHECK_FALSE(reader.next().has_value());
  CHECK(reader.broken());
}

TEST_CASE("authplugin/helper: requests, results and events round-trip") {
  const ap::FetchRequest plain{kPrincipal, 9, true};
  const auto request = ap::decodeRequest(ap::encodeRequest(plain));
  REQUIRE(request.has_value());
  CHECK(request->key() == plain.key());
  CHECK(request->min_version == 9);
  CHECK(request->skip_l2);
  const ap::FetchRequest asked{kPrincipal, 0, false,
                               ap::TopicQuestion{pd::AclAction::kSubscribe, "d/\"n\"\n/x"}};
  CHECK(ap::decodeRequest(ap::encodeRequest(asked))->key() == asked.key());

  auto rules = rulesResult();
  for (const bool with_text : {false, true}) {
    rules.rules_json = with_text ? kRules : "";
    const auto message = ap::decodeMessage(ap::encodeResult(rules));
    REQUIRE(message.type == ap::HelperMessage::Type::kResult);
    CHECK(message.result->status == ap::FetchStatus::kRules);
    CHECK(message.result->source == ap::FetchSource::kBackend);
    CHECK(*message.result->rules == *rules.rules);
  }
  ap::FetchResult decision;
  decision.principal = kPrincipal;
  decision.question = asked.question;
  decision.status = ap::FetchStatus::kDecision;
  decision.answer = ap::TopicAnswer{true, 45};
  const auto d = ap::decodeMessage(ap::encodeResult(decision));
  REQUIRE(d.type == ap::HelperMessage::Type::kResult);
  CHECK(d.result->key() == asked.key());
  CHECK(d.result->answer.allow);
  CHECK(d.result->answer.ttl_s == 45);
  ap::FetchResult failed;
  failed.principal = kPrincipal;
  failed.error = "backend answered 503";
  CHECK(ap::decodeMessage(ap::encodeResult(failed)).result->error == "backend answered 503");

  const ap::InvalidationEvent event{ap::InvalidationEvent::Kind::kDeleted, std::string(64, 'a'), 3};
  const auto e = ap::decodeMessage(ap::encodeEvent(event));
  REQUIRE(e.type == ap::HelperMessage::Type::kEvent);
  CHECK(e.event->kind == event.kind);
  CHECK(e.event->principal_hash == event.principal_hash);
  CHECK(e.event->version == 3);

  for (const char* bad :
       {"", "garbage", R"({"t":"r"})", R"({"t":"r","p":"x","st":"rules"})",
        R"({"t":"r","p":"x","st":"decision"})", R"({"t":"e","k":"nope","v":1})", R"({"t":"?"})"}) {
    INFO(bad);
    CHECK(ap::decodeMessage(bad).type == ap::HelperMessage::Type::kInvalid);
  }
  CHECK_FALSE(ap::decodeRequest(R"({"t":"f","p":"x","mv":-1,"s2":false})").has_value());
}

TEST_CASE("authplugin/helper: the client sends requests and collects results and events") {
  ClientFixture f;
  const ap::FetchRequest request{kPrincipal, 0, false};
  REQUIRE(f.client.request(request));
  CHECK(f.spawns == 1);
  CHECK(f.peer.nextRequest().key() == request.key());

  f.peer.send(ap::encodeResult(rulesResult()));
  const auto result = f.client.waitFor(request.key(), std::chrono::seconds(5));
  REQUIRE(result.has_value());
  CHECK(result->rules->version == 7);

  // Events and anything else arrive through drain(), read at most every 2 ms.
  f.peer.send(ap::encodeEvent({ap::InvalidationEvent::Kind::kAll, {}, 5}));
  f.peer.send(R"({"t":"m"})");
  f.peer.send(R"({"t":"l","msg":"redis down"})");
  f.now_ms += 5;
  std::vector<ap::InvalidationEvent> events;
  for (int i = 0; i < 500 && events.empty(); ++i) {  // the bytes may still be in flight
    f.client.drain();
    events = f.events.drain();
    f.now_ms += 5;
  }
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == ap::InvalidationEvent::Kind::kAll);
  CHECK(f.events.malformed() == 1);
  const auto logs = f.client.takeLogs();
  REQUIRE(logs.size() == 1);
  CHECK(logs[0].find("redis down") != std::string::npos);
}

TEST_CASE("authplugin/helper: a dead helper fails what was asked, resyncs, and comes back") {
  ClientFixture f;
  const ap::FetchRequest request{kPrincipal, 0, false};
  REQUIRE(f.client.request(request));
  f.peer.nextRequest();
  ::close(f.peer.fd);
  f.peer.fd = -1;

  f.now_ms += 5;
  const auto failed = f.client.drain();
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].key() == request.key());
  CHECK(failed[0].status == ap::FetchStatus::kError);
  const auto events = f.events.drain();
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == ap::InvalidationEvent::Kind::kResync);
  CHECK(f.client.restarts() == 1);
  CHECK_FALSE(f.client.running());

  // Not restarted more than once a second.
  f.spawn_fails = true;
  f.now_ms += 1000;
  CHECK_FALSE(f.client.request(request));
  CHECK(f.spawns == 2);
  CHECK_FALSE(f.client.request(request));
  CHECK(f.spawns == 2);
  f.spawn_fails = false;
  f.now_ms += 1000;
  CHECK(f.client.request(request));
  CHECK(f.spawns == 3);
  CHECK(f.peer.nextRequest().key() == request.key());
}

namespace {

class FakeBackend : public ap::BackendApi {
 public:
  Response fetchRules(const std::string&) override { return {200, kRules, ""}; }
  Response checkTopic(const std::string&, const ap::TopicQuestion&) override {
    return {200, R"({"result":"deny","ttl":5})", ""};
  }
};

}  // namespace

TEST_CASE("authplugin/helper: runHelper serves rule sets and questions until the broker leaves") {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  ap::HelperConfig config;
  config.fetch.workers = 2;
  config.fetch.make_backend = [] { return std::make_unique<FakeBackend>(); };
  int status = -1;
  std::thread helper([&] { status = ap::runHelper(sv[1], std::move(config)); });

  ap::EventQueue events;
  {
    bool spawned = false;
    ap::HelperClient client(
        [&] {
          spawned = true;
          return ap::HelperProcess{sv[0], -1};
        },
        events, [] { return std::int64_t{0}; });
    const ap::FetchRequest rules{kPrincipal, 0, false};
    const ap::FetchRequest question{kPrincipal, 0, false,
                                    ap::TopicQuestion{pd::AclAction::kRead, "d/n"}};
    REQUIRE(client.request(rules));
    REQUIRE(client.request(question));
    const auto a = client.waitFor(question.key(), std::chrono::seconds(10));
    const auto b = client.waitFor(rules.key(), std::chrono::seconds(10));
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    CHECK(a->status == ap::FetchStatus::kDecision);
    CHECK_FALSE(a->answer.allow);
    CHECK(b->status == ap::FetchStatus::kRules);
    CHECK(b->rules->version == 7);
    CHECK(spawned);
  }  // the client closes its end: the helper stops its workers and returns
  helper.join();
  CHECK(status == 0);
  ::close(sv[1]);
}
