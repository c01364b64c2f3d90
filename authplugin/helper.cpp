// Framing, the broker-side client and the forked helper process (see helper.hpp).
#include "authplugin/helper.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace pepeunit::authplugin {
namespace {

constexpr std::int64_t kReadEveryMs = 2;
constexpr std::int64_t kRespawnAfterMs = 1000;
constexpr std::size_t kMaxPendingOut = 16u << 20;

const char* statusName(FetchStatus status) {
  switch (status) {
    case FetchStatus::kRules:
      return "rules";
    case FetchStatus::kDecision:
      return "decision";
    case FetchStatus::kNotFound:
      return "not_found";
    case FetchStatus::kError:
      return "error";
  }
  return "error";
}

std::optional<FetchStatus> parseStatus(std::string_view name) {
  for (const auto status :
       {FetchStatus::kRules, FetchStatus::kDecision, FetchStatus::kNotFound, FetchStatus::kError}) {
    if (name == statusName(status)) {
      return status;
    }
  }
  return std::nullopt;
}

const char* sourceName(FetchSource source) {
  switch (source) {
    case FetchSource::kL2:
      return "l2";
    case FetchSource::kBackend:
      return "backend";
    case FetchSource::kNone:
      return "none";
  }
  return "none";
}

const char* kindName(InvalidationEvent::Kind kind) {
  switch (kind) {
    case InvalidationEvent::Kind::kGrant:
      return "grant";
    case InvalidationEvent::Kind::kRevoke:
      return "revoke";
    case InvalidationEvent::Kind::kDeleted:
      return "deleted";
    case InvalidationEvent::Kind::kAll:
      return "all";
    case InvalidationEvent::Kind::kResync:
      return "resync";
  }
  return "resync";
}

void putQuestion(nlohmann::json& header, const std::optional<TopicQuestion>& question) {
  if (question) {
    header["a"] = domain::actionName(question->action);
    header["tp"] = question->topic;
  }
}

/// The optional question of a header; false when it is malformed.
bool getQuestion(const nlohmann::json& header, std::optional<TopicQuestion>& question) {
  const auto action = header.find("a");
  const auto topic = header.find("tp");
  if (action == header.end() && topic == header.end()) {
    return true;
  }
  if (action == header.end() || topic == header.end() || !action->is_string() ||
      !topic->is_string()) {
    return false;
  }
  const auto parsed = domain::parseAclAction(action->get_ref<const std::string&>());
  if (!parsed) {
    return false;
  }
  question = TopicQuestion{*parsed, topic->get<std::string>()};
  return true;
}

/// Splits a payload into its JSON header and the optional text after the first '\n'.
std::pair<nlohmann::json, std::string_view> splitPayload(std::string_view payload) {
  const auto newline = payload.find('\n');
  const auto header_text = payload.substr(0, newline);
  auto header = nlohmann::json::parse(header_text, nullptr, /*allow_exceptions=*/false);
  const std::string_view rest =
      newline == std::string_view::npos ? std::string_view() : payload.substr(newline + 1);
  return {std::move(header), rest};
}

/// The string at `key`, or "" when absent or not a string.
std::string stringAt(const nlohmann::json& json, const char* key) {
  const auto it = json.find(key);
  return it != json.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool writeAll(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

// ---- framing -----------------------------------------------------------------------------------

void appendFrame(std::string& out, std::string_view payload) {
  const auto size = static_cast<std::uint32_t>(payload.size());
  out += static_cast<char>((size >> 24) & 0xff);
  out += static_cast<char>((size >> 16) & 0xff);
  out += static_cast<char>((size >> 8) & 0xff);
  out += static_cast<char>(size & 0xff);
  out += payload;
}

void FrameReader::feed(const char* data, std::size_t size) {
  if (offset_ > 0 && offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  }
  buffer_.append(data, size);
}

std::optional<std::string> FrameReader::next() {
  if (broken_ || buffer_.size() - offset_ < 4) {
    return std::nullopt;
  }
  const auto byte = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(buffer_[offset_ + i]));
  };
  const std::size_t size = (byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
  if (size > kMaxFrameBytes) {
    broken_ = true;
    return std::nullopt;
  }
  if (buffer_.size() - offset_ - 4 < size) {
    return std::nullopt;
  }
  std::string payload = buffer_.substr(offset_ + 4, size);
  offset_ += 4 + size;
  if (offset_ > (1u << 20)) {  // drop consumed bytes now and then, not on every frame
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  return payload;
}

std::string encodeRequest(const FetchRequest& request) {
  nlohmann::json header = {
      {"t", "f"}, {"p", request.principal}, {"mv", request.min_version}, {"s2", request.skip_l2}};
  putQuestion(header, request.question);
  return header.dump();
}

std::optional<FetchRequest> decodeRequest(std::string_view payload) {
  const auto [header, rest] = splitPayload(payload);
  if (!header.is_object() || stringAt(header, "t") != "f") {
    return std::nullopt;
  }
  const auto principal = header.find("p");
  const auto min_version = header.find("mv");
  const auto skip_l2 = header.find("s2");
  if (principal == header.end() || !principal->is_string() || min_version == header.end() ||
      !min_version->is_number_unsigned() || skip_l2 == header.end() || !skip_l2->is_boolean()) {
    return std::nullopt;
  }
  FetchRequest request{principal->get<std::string>(), min_version->get<std::uint64_t>(),
                       skip_l2->get<bool>()};
  if (!getQuestion(header, request.question)) {
    return std::nullopt;
  }
  return request;
}

std::string encodeResult(const FetchResult& result) {
  nlohmann::json header = {{"t", "r"},
                           {"p", result.principal},
                           {"st", statusName(result.status)},
                           {"src", sourceName(result.source)},
                           {"e", result.error}};
  putQuestion(header, result.question);
  if (result.status == FetchStatus::kDecision) {
    header["allow"] = result.answer.allow;
    header["ttl"] = result.answer.ttl_s;
  }
  std::string payload = header.dump();
  if (result.status == FetchStatus::kRules && result.rules) {
    payload += '\n';
    // The text it was parsed from: a valid rule set the broker parses once more.
    payload +=
        result.rules_json.empty() ? domain::serializeRuleSet(*result.rules) : result.rules_json;
  }
  return payload;
}

namespace {

std::optional<FetchResult> resultFrom(const nlohmann::json& header, std::string_view rest) {
  if (!header.is_object() || stringAt(header, "t") != "r") {
    return std::nullopt;
  }
  FetchResult result;
  result.principal = stringAt(header, "p");
  const auto status = parseStatus(stringAt(header, "st"));
  if (result.principal.empty() || !status || !getQuestion(header, result.question)) {
    return std::nullopt;
  }
  result.status = *status;
  const auto source = stringAt(header, "src");
  result.source = source == "l2"        ? FetchSource::kL2
                  : source == "backend" ? FetchSource::kBackend
                                        : FetchSource::kNone;
  result.error = stringAt(header, "e");
  if (result.status == FetchStatus::kRules) {
    auto rules = domain::parseRuleSet(rest);
    if (!rules) {
      return std::nullopt;
    }
    result.rules = std::make_shared<const domain::RuleSet>(std::move(*rules));
  } else if (result.status == FetchStatus::kDecision) {
    const auto allow = header.find("allow");
    const auto ttl = header.find("ttl");
    if (!result.question || allow == header.end() || !allow->is_boolean() || ttl == header.end() ||
        !ttl->is_number_integer()) {
      return std::nullopt;
    }
    result.answer = TopicAnswer{allow->get<bool>(), ttl->get<std::int64_t>()};
  }
  return result;
}

}  // namespace

std::optional<FetchResult> decodeResult(std::string_view payload) {
  const auto [header, rest] = splitPayload(payload);
  return resultFrom(header, rest);
}

std::string encodeEvent(const InvalidationEvent& event) {
  return nlohmann::json{
      {"t", "e"}, {"k", kindName(event.kind)}, {"h", event.principal_hash}, {"v", event.version}}
      .dump();
}

HelperMessage decodeMessage(std::string_view payload) {
  HelperMessage message;
  const auto [header, rest] = splitPayload(payload);
  if (!header.is_object()) {
    return message;
  }
  const auto type = stringAt(header, "t");
  if (type == "r") {
    message.result = resultFrom(header, rest);  // the header is parsed once
    message.type = message.result ? HelperMessage::Type::kResult : HelperMessage::Type::kInvalid;
  } else if (type == "e") {
    InvalidationEvent event;
    const auto kind = stringAt(header, "k");
    bool known = false;
    for (const auto candidate : {InvalidationEvent::Kind::kGrant, InvalidationEvent::Kind::kRevoke,
                                 InvalidationEvent::Kind::kDeleted, InvalidationEvent::Kind::kAll,
                                 InvalidationEvent::Kind::kResync}) {
      if (kind == kindName(candidate)) {
        event.kind = candidate;
        known = true;
      }
    }
    const auto version = header.find("v");
    if (known && version != header.end() && version->is_number_unsigned()) {
      event.principal_hash = stringAt(header, "h");
      event.version = version->get<std::uint64_t>();
      message.event = std::move(event);
      message.type = HelperMessage::Type::kEvent;
    }
  } else if (type == "m") {
    message.type = HelperMessage::Type::kMalformedEvent;
  } else if (type == "l") {
    message.log = stringAt(header, "msg");
    message.type = HelperMessage::Type::kLog;
  }
  return message;
}

// ---- HelperClient ------------------------------------------------------------------------------

HelperClient::HelperClient(Spawn spawn, EventQueue& events, SteadyMs steady_ms)
    : spawn_(std::move(spawn)), events_(events), steady_ms_(std::move(steady_ms)) {}

HelperClient::~HelperClient() {
  if (process_.fd >= 0) {
    ::close(process_.fd);  // the helper sees EOF, stops its threads and exits
  }
  if (process_.pid > 0) {
    // Its fetches are bounded by their timeouts; do not hang the broker's shutdown beyond that.
    for (int i = 0; i < 300; ++i) {
      if (::waitpid(process_.pid, nullptr, WNOHANG) != 0) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(process_.pid, SIGKILL);
    ::waitpid(process_.pid, nullptr, 0);
  }
}

bool HelperClient::ensureRunning() {
  if (process_.fd >= 0) {
    return true;
  }
  const std::int64_t now = steady_ms_();
  if (now < next_spawn_ms_) {
    return false;
  }
  next_spawn_ms_ = now + kRespawnAfterMs;
  process_ = spawn_();
  if (process_.fd < 0) {
    logs_.push_back("cannot start the helper process");
    return false;
  }
  return true;
}

bool HelperClient::request(const FetchRequest& request) {
  if (!ensureRunning() || out_.size() > kMaxPendingOut) {
    return false;
  }
  appendFrame(out_, encodeRequest(request));
  outstanding_.emplace(request.key(), request);
  flush();
  return true;
}

bool HelperClient::flush() {
  while (!out_.empty() && process_.fd >= 0) {
    const ssize_t n = ::send(process_.fd, out_.data(), out_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      out_.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return true;  // the rest goes with the next flush
    }
    lost(std::string("the helper process is gone (send: ") + std::strerror(errno) + ")");
    return false;
  }
  return process_.fd >= 0;
}

void HelperClient::readAvailable() {
  char buffer[65536];
  while (process_.fd >= 0) {
    const ssize_t n = ::recv(process_.fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) {
      in_.feed(buffer, static_cast<std::size_t>(n));
      while (auto payload = in_.next()) {
        handle(*payload);
      }
      if (in_.broken()) {
        lost("the helper process sent an oversized frame");
      }
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    }
    lost(n == 0 ? "the helper process exited"
                : std::string("the helper process is gone (recv: ") + std::strerror(errno) + ")");
  }
}

void HelperClient::handle(const std::string& payload) {
  auto message = decodeMessage(payload);
  switch (message.type) {
    case HelperMessage::Type::kResult:
      outstanding_.erase(message.result->key());
      results_.push_back(std::move(*message.result));
      return;
    case HelperMessage::Type::kEvent:
      events_.push(std::move(*message.event));
      return;
    case HelperMessage::Type::kMalformedEvent:
      events_.countMalformed();
      return;
    case HelperMessage::Type::kLog:
      logs_.push_back("helper: " + message.log);
      return;
    case HelperMessage::Type::kInvalid:
      logs_.push_back("the helper process sent an invalid message");
      return;
  }
}

void HelperClient::lost(const std::string& why) {
  logs_.push_back(why + "; restarting it at the next need");
  ::close(process_.fd);
  if (process_.pid > 0 && ::waitpid(process_.pid, nullptr, WNOHANG) == 0) {
    ::kill(process_.pid, SIGKILL);
    ::waitpid(process_.pid, nullptr, 0);
  }
  process_ = HelperProcess{};
  ++restarts_;
  out_.clear();
  in_ = FrameReader();
  // Whatever was asked is not coming: fail it, so nothing waits for it forever.
  for (auto& [key, request] : outstanding_) {
    FetchResult result;
    result.principal = request.principal;
    result.question = request.question;
    result.status = FetchStatus::kError;
    result.error = "the helper process stopped";
    results_.push_back(std::move(result));
  }
  outstanding_.clear();
  // Events sent while it was down are lost: revalidate what is connected.
  events_.push(InvalidationEvent{InvalidationEvent::Kind::kResync, {}, 0});
}

std::optional<FetchResult> HelperClient::waitFor(const std::string& key,
                                                 std::chrono::milliseconds timeout) {
  const std::int64_t deadline = steady_ms_() + timeout.count();
  while (true) {
    for (auto it = results_.begin(); it != results_.end(); ++it) {
      if (it->key() == key) {
        auto found = std::move(*it);
        results_.erase(it);
        return found;
      }
    }
    const std::int64_t left = deadline - steady_ms_();
    if (left <= 0 || !flush()) {
      return std::nullopt;
    }
    pollfd pfd{process_.fd, static_cast<short>(POLLIN | (out_.empty() ? 0 : POLLOUT)), 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) < 0 && errno != EINTR) {
      return std::nullopt;
    }
    readAvailable();
  }
}

std::vector<FetchResult> HelperClient::drain() {
  // TICK runs once per broker loop pass: look at the socket every few ms, not on every pass.
  // The helper also carries the event subscription, so it is (re)started from here too.
  if (const std::int64_t now = steady_ms_(); now - last_read_ms_ >= kReadEveryMs) {
    last_read_ms_ = now;
    if (ensureRunning()) {
      flush();
      readAvailable();
    }
  }
  std::vector<FetchResult> out(std::make_move_iterator(results_.begin()),
                               std::make_move_iterator(results_.end()));
  results_.clear();
  return out;
}

std::vector<std::string> HelperClient::takeLogs() {
  std::vector<std::string> out;
  out.swap(logs_);
  return out;
}

// ---- the helper process ------------------------------------------------------------------------

HelperProcess spawnHelper(const HelperConfig& config) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return {};
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(sv[0]);
    ::close(sv[1]);
    return {};
  }
  if (pid == 0) {
    // The child: a copy of the (single-threaded) broker that only ever runs runHelper and leaves
    // with _exit, so none of the broker's atexit work (pid file, persistence) happens twice.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(0);
    }
    for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD}) {
      ::signal(sig, SIG_DFL);
    }
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    const int fd = sv[1] == 3 ? 3 : ::dup2(sv[1], 3);  // dup2 clears close-on-exec
    if (fd != 3) {
      ::_exit(1);
    }
    ::close_range(4, ~0U, 0);  // the broker's listeners and clients are not ours
    int status = 1;
    try {
      status = runHelper(3, config);
    } catch (...) {
      status = 1;  // never unwind into the broker's code: this process is not the broker
    }
    ::_exit(status);
  }
  ::close(sv[1]);
  ::fcntl(sv[0], F_SETFL, ::fcntl(sv[0], F_GETFL) | O_NONBLOCK);
  return HelperProcess{sv[0], pid};
}

int runHelper(int fd, HelperConfig config) {
  const int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) {
    return 1;
  }
  const auto signal_wake = [wake] {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto ignored = ::write(wake, &one, sizeof one);
  };
  std::mutex write_mutex;
  const auto send = [&](const std::string& frames) {
    std::lock_guard lock(write_mutex);
    return writeAll(fd, frames);
  };
  std::mutex closed_mutex;
  std::condition_variable closed_cv;
  bool closed = false;  // guarded by closed_mutex
  const auto close = [&] {
    {
      std::lock_guard lock(closed_mutex);
      closed = true;
    }
    closed_cv.notify_all();
    signal_wake();  // out of the intake's poll
  };
  const auto is_closed = [&] {
    std::lock_guard lock(closed_mutex);
    return closed;
  };

  EventQueue events;
  events.setOnChange(signal_wake);
  std::uint64_t malformed_sent = 0;  // intake only
  FrameReader reader;                // intake only (one worker at a time)
  // Results go to the broker straight from the worker that made them.
  config.fetch.sink = [&](const FetchResult& result) {
    std::string frame;
    appendFrame(frame, encodeResult(result));
    if (!send(frame)) {
      close();
    }
  };
  // The socket is read by whichever worker is idle, which then serves what it read.
  config.fetch.intake = [&]() -> std::vector<FetchRequest> {
    std::vector<FetchRequest> requests;
    char buffer[65536];
    while (requests.empty()) {
      if (is_closed()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // until stop()
        return requests;
      }
      pollfd fds[2] = {{fd, POLLIN, 0}, {wake, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) {
        continue;  // EINTR
      }
      if ((fds[1].revents & POLLIN) != 0) {
        std::uint64_t count = 0;
        [[maybe_unused]] const auto ignored = ::read(wake, &count, sizeof count);
        std::string frames;
        for (const auto& event : events.drain()) {
          appendFrame(frames, encodeEvent(event));
        }
        for (const auto total = events.malformed(); malformed_sent < total; ++malformed_sent) {
          appendFrame(frames, R"({"t":"m"})");
        }
        if (!frames.empty() && !send(frames)) {
          close();
        }
      }
      if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n < 0 && errno == EINTR) {
          continue;
        }
        if (n <= 0) {
          close();  // the broker closed its end (or is gone)
          continue;
        }
        reader.feed(buffer, static_cast<std::size_t>(n));
        while (auto payload = reader.next()) {
          if (auto request = decodeRequest(*payload)) {
            requests.push_back(std::move(*request));
          }
        }
        if (reader.broken()) {
          close();
        }
      }
    }
    return requests;
  };

  Fetcher fetcher(std::move(config.fetch));
  std::unique_ptr<Invalidator> invalidator;
  if (config.redis) {
    invalidator = std::make_unique<Invalidator>(*config.redis, config.events_channel, events,
                                                config.redis_timeout * 4);
  }
  fetcher.start();
  if (invalidator) {
    invalidator->start();
  }
  {
    std::unique_lock lock(closed_mutex);
    closed_cv.wait(lock, [&] { return closed; });
  }
  if (invalidator) {
    invalidator->stop();
  }
  fetcher.stop();
  ::close(wake);
  return 0;
}

}  // namespace pepeunit::authplugin
