// The plugin's I/O runs in a helper process, not in threads of the broker.
//
// Why: a broker process with any second thread runs glibc's multi-threaded paths on every
// malloc and around every socket call. B3 measured that alone at 11 % of Mosquitto's throughput
// (a no-op plugin with one idle thread: 0.887 of no plugin; without the thread: 0.985). Rule
// fetches (Redis, HTTP) and the Redis event subscription need blocking I/O, so they run in a
// child forked on first use (after the broker dropped its privileges), which owns the Fetcher's
// workers and the Invalidator. The broker side (HelperClient) stays single-threaded: it writes
// requests to a socketpair without blocking, reads results and events at most every 2 ms from
// TICK, and waits (bounded) only at CONNECT, as before.
//
// Wire format, both ways: frames of a 4-byte big-endian length and a payload; a payload is a
// one-line JSON header, optionally followed by '\n' and a rule set's JSON (so the rule set is
// neither escaped nor re-serialized). Headers:
//   broker → helper  {"t":"f","p":principal,"mv":min_version,"s2":skip_l2[,"a":action,"tp":topic]}
//   helper → broker  {"t":"r","p":…,"st":"rules|decision|not_found|error","src":"none|l2|backend",
//                      "e":error[,"a":…,"tp":…][,"allow":B,"ttl":S]} [+ '\n' + rule set]
//                    {"t":"e","k":"grant|revoke|deleted|all|resync","h":hash,"v":version}
//                    {"t":"m"}   one malformed invalidation event
//                    {"t":"l","msg":text}   a warning from the helper
// If the helper dies, every request still outstanding fails (an error result), a resync is
// queued (events may have been missed) and a new helper is forked at the next need, at most
// once a second.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "authplugin/fetcher.hpp"
#include "authplugin/invalidator.hpp"

namespace pepeunit::authplugin {

// ---- framing -----------------------------------------------------------------------------------

inline constexpr std::size_t kMaxFrameBytes = 64u << 20;

void appendFrame(std::string& out, std::string_view payload);

/// Reassembles frames from a byte stream. A frame longer than kMaxFrameBytes breaks the stream.
class FrameReader {
 public:
  void feed(const char* data, std::size_t size);
  /// The next complete payload, if any.
  std::optional<std::string> next();
  bool broken() const { return broken_; }

 private:
  std::string buffer_;
  std::size_t offset_ = 0;
  bool broken_ = false;
};

std::string encodeRequest(const FetchRequest& request);
std::optional<FetchRequest> decodeRequest(std::string_view payload);
std::string encodeResult(const FetchResult& result);
std::optional<FetchResult> decodeResult(std::string_view payload);
std::string encodeEvent(const InvalidationEvent& event);

/// What decodeMessage found in a helper → broker payload.
struct HelperMessage {
  enum class Type { kResult, kEvent, kMalformedEvent, kLog, kInvalid };
  Type type = Type::kInvalid;
  std::optional<FetchResult> result;
  std::optional<InvalidationEvent> event;
  std::string log;
};
HelperMessage decodeMessage(std::string_view payload);

// ---- the broker side ---------------------------------------------------------------------------

/// A running helper: the broker's end of the socketpair and the child's pid.
struct HelperProcess {
  int fd = -1;
  pid_t pid = -1;
};

class HelperClient : public RuleSource {
 public:
  /// Starts a helper; {-1, -1} on failure. Called on the broker thread.
  using Spawn = std::function<HelperProcess()>;
  using SteadyMs = std::function<std::int64_t()>;

  HelperClient(Spawn spawn, EventQueue& events, SteadyMs steady_ms);
  ~HelperClient() override;
  HelperClient(const HelperClient&) = delete;
  HelperClient& operator=(const HelperClient&) = delete;

  bool request(const FetchRequest& request) override;
  std::optional<FetchResult> waitFor(const std::string& key,
                                     std::chrono::milliseconds timeout) override;
  std::vector<FetchResult> drain() override;

  /// Warnings from the helper and about it, for the broker log.
  std::vector<std::string> takeLogs();
  bool running() const { return process_.fd >= 0; }
  std::uint64_t restarts() const { return restarts_; }

 private:
  bool ensureRunning();
  /// Sends what is buffered without blocking; false when the helper is gone.
  bool flush();
  /// Reads whatever is available without blocking.
  void readAvailable();
  void handle(const std::string& payload);
  void lost(const std::string& why);

  Spawn spawn_;
  EventQueue& events_;
  SteadyMs steady_ms_;
  HelperProcess process_;
  std::int64_t next_spawn_ms_ = 0;
  std::int64_t last_read_ms_ = 0;
  std::uint64_t restarts_ = 0;
  std::string out_;
  FrameReader in_;
  std::deque<FetchResult> results_;
  std::unordered_map<std::string, FetchRequest> outstanding_;  // by FetchRequest::key
  std::vector<std::string> logs_;
};

// ---- the helper side ---------------------------------------------------------------------------

struct HelperConfig {
  Fetcher::Options fetch;
  std::optional<cache::redis::RedisUrl> redis;
  std::string events_channel;
  std::chrono::milliseconds redis_timeout{200};
};

/// Forks a helper running runHelper(config) on a fresh socketpair.
HelperProcess spawnHelper(const HelperConfig& config);

/// The helper's main loop on `fd` until the broker closes its end; returns the exit status.
int runHelper(int fd, HelperConfig config);

}  // namespace pepeunit::authplugin
