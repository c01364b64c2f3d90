// hiredis-backed implementation of the Redis adapter (see redis_client.hpp for the failure model).
#include "cache/redis/redis_client.hpp"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace pepeunit::cache::redis {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kScheme = "redis://";
constexpr int kPollSliceMs = 100;  // how often the subscriber notices stop()
constexpr const char* kUnavailableMessage = "Redis is unavailable";

// hiredis writes with write(2), which raises SIGPIPE on a socket the server has closed; a library
// must not change the process disposition, so (like libpq) block it around each write on this
// thread and swallow a SIGPIPE we caused.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old_mask_);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeGuard() {
    const int saved_errno = errno;
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        sigset_t only;
        sigemptyset(&only);
        sigaddset(&only, SIGPIPE);
        const timespec zero{0, 0};
        while (sigtimedwait(&only, nullptr, &zero) < 0 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    errno = saved_errno;
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t old_mask_{};
  bool was_pending_ = false;
};

timeval toTimeval(std::chrono::milliseconds timeout) {
  const auto ms = std::max<long long>(timeout.count(), 1);
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

std::string contextError(const redisContext* context) {
  if (context == nullptr) {
    return "no connection";
  }
  if (context->err == 0) {
    return "connection lost";
  }
  if (context->err == REDIS_ERR_IO && (std::strcmp(context->errstr, strerror(EAGAIN)) == 0)) {
    return "timed out";
  }
  return context->errstr;
}

int parseInt(std::string_view text, int min, int max) {
  int value = -1;
  if (text.empty()) {
    return -1;
  }
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < min || value > max) {
    return -1;
  }
  return value;
}

std::optional<std::string> percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) {
      return std::nullopt;
    }
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
    if (ec != std::errc{} || end != text.data() + i + 3) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

// Sends one command in argv form (binary-safe, no format string) and reads its reply.
ReplyPtr commandArgv(redisContext* context, const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  SigpipeGuard guard;
  return ReplyPtr(static_cast<redisReply*>(
      redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data())));
}

bool appendCommand(redisContext* context, const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  return redisAppendCommandArgv(context, static_cast<int>(argv.size()), argv.data(),
                                lengths.data()) == REDIS_OK;
}

// Opens a connection with `timeout` for connect and every later read/write, then AUTH and SELECT.
// On failure returns null and says why in `error` (never including the password).
ContextPtr openContext(const RedisUrl& url, std::chrono::milliseconds timeout, std::string& error) {
  const timeval tv = toTimeval(timeout);
  ContextPtr context(redisConnectWithTimeout(url.host.c_str(), url.port, tv));
  const std::string where = url.host + ":" + std::to_string(url.port);
  if (!context) {
    error = "connect " + where + ": out of memory";
    return nullptr;
  }
  if (context->err != 0) {
    error = "connect " + where + ": " + contextError(context.get());
    return nullptr;
  }
  if (redisSetTimeout(context.get(), tv) != REDIS_OK) {
    error = "set timeout: " + contextError(context.get());
    return nullptr;
  }
  redisEnableKeepAlive(context.get());

  const auto handshake = [&](const std::vector<std::string_view>& args,
                             std::string_view what) -> bool {
    ReplyPtr reply = commandArgv(context.get(), args);
    if (!reply) {
      error = std::string(what) + " " + where + ": " + contextError(context.get());
      return false;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
      error = std::string(what) + " " + where + " rejected: " + std::string(reply->str, reply->len);
      return false;
    }
    return true;
  };
  if (url.password) {
    std::vector<std::string_view> args{"AUTH"};
    if (url.username) {
      args.emplace_back(*url.username);
    }
    args.emplace_back(*url.password);
    if (!handshake(args, "AUTH")) {
      return nullptr;
    }
  }
  if (url.db != 0) {
    const std::string db = std::to_string(url.db);
    if (!handshake({"SELECT", db}, "SELECT")) {
      return nullptr;
    }
  }
  return context;
}

Reply toReply(const redisReply& raw) {
  Reply reply;
  switch (raw.type) {
    case REDIS_REPLY_STRING:
      reply.type = Reply::Type::kString;
      reply.str.assign(raw.str, raw.len);
      break;
    case REDIS_REPLY_STATUS:
      reply.type = Reply::Type::kStatus;
      reply.str.assign(raw.str, raw.len);
      break;
    case REDIS_REPLY_ERROR:
      reply.type = Reply::Type::kError;
      reply.str.assign(raw.str, raw.len);
      break;
    case REDIS_REPLY_INTEGER:
      reply.type = Reply::Type::kInteger;
      reply.integer = raw.integer;
      break;
    case REDIS_REPLY_ARRAY:
      reply.type = Reply::Type::kArray;
      reply.elements.reserve(raw.elements);
      for (std::size_t i = 0; i < raw.elements; ++i) {
        reply.elements.push_back(toReply(*raw.element[i]));
      }
      break;
    default:
      reply.type = Reply::Type::kNil;
      break;
  }
  return reply;
}

std::string_view replyText(const redisReply& reply) {
  return reply.str != nullptr ? std::string_view(reply.str, reply.len) : std::string_view();
}

bool startsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// Error replies that mean "Redis cannot serve right now" rather than "your command is wrong".
void throwIfError(const redisReply& reply) {
  if (reply.type != REDIS_REPLY_ERROR) {
    return;
  }
  const std::string text(replyText(reply));
  for (const std::string_view transient : {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN"}) {
    if (startsWith(text, transient)) {
      throw Unavailable(kUnavailableMessage, "redis: " + text);
    }
  }
  throw RedisError("redis: " + text);
}

[[noreturn]] void unexpected(const redisReply& reply, std::string_view command) {
  throw RedisError("redis: unexpected reply type " + std::to_string(reply.type) + " to " +
                   std::string(command));
}

}  // namespace

// --- URL ---------------------------------------------------------------------------------------

std::optional<RedisUrl> parseRedisUrl(std::string_view url) {
  if (!startsWith(url, kScheme)) {
    return std::nullopt;
  }
  std::string_view rest = url.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  if (authority.find_first_of("?#") != std::string_view::npos ||
      path.find_first_of("?#/") != std::string_view::npos) {
    return std::nullopt;
  }

  RedisUrl parsed;
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const std::size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      return std::nullopt;  // "user@" alone is ambiguous (and cannot AUTH): refuse it.
    }
    auto user = percentDecode(userinfo.substr(0, colon));
    auto password = percentDecode(userinfo.substr(colon + 1));
    if (!user || !password) {
      return std::nullopt;
    }
    if (!user->empty()) {
      parsed.username = std::move(*user);
    }
    if (!password->empty()) {
      parsed.password = std::move(*password);
    } else if (parsed.username) {
      return std::nullopt;
    }
  }

  std::string_view port_text;
  if (startsWith(authority, "[")) {  // [IPv6]
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    parsed.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return std::nullopt;
      }
      port_text = after.substr(1);
      if (port_text.empty()) {
        return std::nullopt;
      }
    }
  } else {
    const std::size_t colon = authority.find(':');
    parsed.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) {
        return std::nullopt;
      }
    }
  }
  if (parsed.host.empty()) {
    return std::nullopt;
  }
  if (!port_text.empty()) {
    parsed.port = parseInt(port_text, 1, 65535);
    if (parsed.port < 0) {
      return std::nullopt;
    }
  }
  if (!path.empty()) {
    parsed.db = parseInt(path, 0, 1 << 20);
    if (parsed.db < 0) {
      return std::nullopt;
    }
  }
  return parsed;
}

// --- RAII --------------------------------------------------------------------------------------

void ContextDeleter::operator()(redisContext* context) const noexcept {
  redisFree(context);
}
void ReplyDeleter::operator()(redisReply* reply) const noexcept {
  freeReplyObject(reply);
}

// --- RedisClient -------------------------------------------------------------------------------

RedisClient::RedisClient(RedisUrl url, std::chrono::milliseconds timeout)
    : url_(std::move(url)), timeout_(timeout) {}

RedisClient::~RedisClient() = default;
RedisClient::RedisClient(RedisClient&&) noexcept = default;
RedisClient& RedisClient::operator=(RedisClient&&) noexcept = default;

void RedisClient::fail(std::string reason) {
  context_.reset();  // the reply stream is out of step after any I/O error: never reuse it
  backoff_.failure(Clock::now());
  last_error_ = std::move(reason);
  throw Unavailable(kUnavailableMessage, "redis: " + last_error_);
}

void RedisClient::ensureConnected() {
  if (context_) {
    return;
  }
  if (!backoff_.ready(Clock::now())) {
    throw Unavailable(kUnavailableMessage, "redis: waiting to reconnect after: " + last_error_);
  }
  std::string error;
  context_ = openContext(url_, timeout_, error);
  if (!context_) {
    fail(std::move(error));
  }
}

ReplyPtr RedisClient::roundTrip(const std::vector<std::string_view>& args) {
  ensureConnected();
  ReplyPtr reply = commandArgv(context_.get(), args);
  if (!reply) {
    fail(std::string(args.front()) + ": " + contextError(context_.get()));
  }
  backoff_.success();
  last_error_.clear();
  return reply;
}

std::optional<std::string> RedisClient::get(std::string_view key) {
  const ReplyPtr reply = roundTrip({"GET", key});
  throwIfError(*reply);
  if (reply->type == REDIS_REPLY_NIL) {
    return std::nullopt;
  }
  if (reply->type != REDIS_REPLY_STRING) {
    unexpected(*reply, "GET");
  }
  return std::string(replyText(*reply));
}

bool RedisClient::set(std::string_view key, std::string_view value,
                      std::optional<std::chrono::seconds> ttl) {
  ReplyPtr reply;
  if (ttl) {
    const std::string seconds = std::to_string(ttl->count());
    reply = roundTrip({"SET", key, value, "EX", seconds});
  } else {
    reply = roundTrip({"SET", key, value});
  }
  throwIfError(*reply);
  return reply->type == REDIS_REPLY_STATUS && replyText(*reply) == "OK";
}

bool RedisClient::del(std::string_view key) {
  const ReplyPtr reply = roundTrip({"DEL", key});
  throwIfError(*reply);
  if (reply->type != REDIS_REPLY_INTEGER) {
    unexpected(*reply, "DEL");
  }
  return reply->integer > 0;
}

std::optional<long long> RedisClient::incr(std::string_view key) {
  const ReplyPtr reply = roundTrip({"INCR", key});
  throwIfError(*reply);
  if (reply->type != REDIS_REPLY_INTEGER) {
    return std::nullopt;
  }
  return reply->integer;
}

bool RedisClient::expire(std::string_view key, std::chrono::seconds ttl) {
  const std::string seconds = std::to_string(ttl.count());
  const ReplyPtr reply = roundTrip({"EXPIRE", key, seconds});
  throwIfError(*reply);
  if (reply->type != REDIS_REPLY_INTEGER) {
    unexpected(*reply, "EXPIRE");
  }
  return reply->integer == 1;
}

std::optional<long long> RedisClient::ttl(std::string_view key) {
  const ReplyPtr reply = roundTrip({"TTL", key});
  throwIfError(*reply);
  if (reply->type != REDIS_REPLY_INTEGER) {
    unexpected(*reply, "TTL");
  }
  if (reply->integer == -2) {  // -2: no such key; -1: key without expiry
    return std::nullopt;
  }
  return reply->integer;
}

bool RedisClient::publish(std::string_view channel, std::string_view message) {
  const ReplyPtr reply = roundTrip({"PUBLISH", channel, message});
  throwIfError(*reply);
  return reply->type == REDIS_REPLY_INTEGER;
}

bool RedisClient::ping() noexcept {
  try {
    const ReplyPtr reply = roundTrip({"PING"});
    return reply->type == REDIS_REPLY_STATUS && replyText(*reply) == "PONG";
  } catch (...) {
    return false;
  }
}

Reply RedisClient::command(const std::vector<std::string>& args) {
  if (args.empty()) {
    throw std::invalid_argument("redis command without a name");
  }
  const std::vector<std::string_view> views(args.begin(), args.end());
  return toReply(*roundTrip(views));
}

// --- RedisPool ---------------------------------------------------------------------------------

RedisPool::RedisPool(const RedisUrl& url, std::size_t size, std::chrono::milliseconds timeout)
    : size_(std::max<std::size_t>(size, 1)), timeout_(timeout) {
  idle_.reserve(size_);
  for (std::size_t i = 0; i < size_; ++i) {
    idle_.push_back(std::make_unique<RedisClient>(url, timeout));
  }
}

RedisPool::Lease& RedisPool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    pool_ = std::exchange(other.pool_, nullptr);
    client_ = std::move(other.client_);
  }
  return *this;
}

RedisPool::Lease::~Lease() {
  release();
}

void RedisPool::Lease::release() noexcept {
  if (pool_ != nullptr && client_) {
    pool_->giveBack(std::move(client_));
  }
  pool_ = nullptr;
}

RedisPool::Lease RedisPool::acquire() {
  std::unique_lock lock(mutex_);
  available_.wait(lock, [this] { return !idle_.empty(); });
  // LIFO: the most recently used client is the one most likely to hold a live connection, and
  // while Redis is down it keeps a single client's backoff in charge instead of N of them.
  auto client = std::move(idle_.back());
  idle_.pop_back();
  return Lease(this, std::move(client));
}

std::optional<RedisPool::Lease> RedisPool::tryAcquire(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  if (!available_.wait_for(lock, wait, [this] { return !idle_.empty(); })) {
    return std::nullopt;
  }
  auto client = std::move(idle_.back());
  idle_.pop_back();
  return Lease(this, std::move(client));
}

void RedisPool::giveBack(std::unique_ptr<RedisClient> client) noexcept {
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(std::move(client));
  }
  available_.notify_one();
}

bool RedisPool::ping() noexcept {
  try {
    auto lease = tryAcquire(timeout_);
    return lease && (*lease)->ping();
  } catch (...) {
    return false;
  }
}

// --- RedisSubscriber ---------------------------------------------------------------------------

RedisSubscriber::RedisSubscriber(RedisUrl url, std::vector<std::string> channels,
                                 Callbacks callbacks, std::chrono::milliseconds timeout,
                                 std::chrono::milliseconds ping_interval)
    : url_(std::move(url)),
      channels_(std::move(channels)),
      callbacks_(std::move(callbacks)),
      timeout_(timeout),
      ping_interval_(ping_interval) {
  if (channels_.empty()) {
    throw std::invalid_argument("RedisSubscriber needs at least one channel");
  }
}

RedisSubscriber::~RedisSubscriber() {
  stop();
}

void RedisSubscriber::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) {
    return;
  }
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void RedisSubscriber::stop() {
  std::thread thread;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    thread = std::move(thread_);
  }
  wake_.notify_all();
  if (thread.joinable()) {
    thread.join();
  }
  subscribed_ = false;
}

bool RedisSubscriber::waitBackoff() {
  std::unique_lock lock(mutex_);
  if (!backoff_.ready(Clock::now())) {
    wake_.wait_until(lock, backoff_.nextAttempt(), [this] { return stopping_.load(); });
  }
  return !stopping_;
}

void RedisSubscriber::run() {
  // User callbacks must not kill the thread (an escaped exception would terminate the process).
  const auto notify_disconnected = [this](std::string_view reason) {
    if (callbacks_.on_disconnected) {
      try {
        callbacks_.on_disconnected(reason);
      } catch (...) {
      }
    }
  };
  while (waitBackoff()) {
    std::string error;
    ContextPtr context = connectAndSubscribe(error);
    if (!context) {
      backoff_.failure(Clock::now());
      if (!stopping_) {
        notify_disconnected(error);
      }
      continue;
    }
    backoff_.success();
    subscribed_ = true;
    if (subscribes_++ > 0) {
      ++resubscribes_;
    }
    if (callbacks_.on_subscribed) {
      try {
        callbacks_.on_subscribed();
      } catch (...) {
      }
    }
    const std::string reason = pump(context.get());
    subscribed_ = false;
    if (stopping_) {
      break;
    }
    backoff_.failure(Clock::now());
    notify_disconnected(reason);
  }
}

void RedisSubscriber::dispatch(const redisReply& reply, bool& pong) {
  if (reply.type != REDIS_REPLY_ARRAY || reply.elements < 1 ||
      reply.element[0]->type != REDIS_REPLY_STRING) {
    return;
  }
  const std::string_view kind = replyText(*reply.element[0]);
  if (kind == "message" && reply.elements == 3) {
    ++messages_;
    if (callbacks_.on_message) {
      try {
        callbacks_.on_message(replyText(*reply.element[1]), replyText(*reply.element[2]));
      } catch (...) {
      }
    }
  } else if (kind == "pong") {
    pong = true;
  }
}

ContextPtr RedisSubscriber::connectAndSubscribe(std::string& error) {
  ContextPtr context = openContext(url_, timeout_, error);
  if (!context) {
    return nullptr;
  }
  std::vector<std::string_view> args{"SUBSCRIBE"};
  args.insert(args.end(), channels_.begin(), channels_.end());
  if (!appendCommand(context.get(), args)) {
    error = "SUBSCRIBE: " + contextError(context.get());
    return nullptr;
  }
  // One confirmation per channel; each read is bounded by the socket timeout.
  std::size_t confirmed = 0;
  while (confirmed < channels_.size() && !stopping_) {
    void* raw = nullptr;
    int rc = REDIS_ERR;
    {
      SigpipeGuard guard;
      rc = redisGetReply(context.get(), &raw);
    }
    if (rc != REDIS_OK || raw == nullptr) {
      error = "SUBSCRIBE: " + contextError(context.get());
      return nullptr;
    }
    const ReplyPtr reply(static_cast<redisReply*>(raw));
    if (reply->type == REDIS_REPLY_ERROR) {
      error = "SUBSCRIBE rejected: " + std::string(replyText(*reply));
      return nullptr;
    }
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
        replyText(*reply->element[0]) == "subscribe") {
      ++confirmed;
    } else {
      bool pong = false;
      dispatch(*reply, pong);
    }
  }
  if (stopping_) {
    error = "stopped";
    return nullptr;
  }
  return context;
}

std::string RedisSubscriber::pump(redisContext* context) {
  auto last_activity = Clock::now();
  std::optional<Clock::time_point> ping_sent;
  while (!stopping_) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(context, &raw) != REDIS_OK) {
      return "protocol error: " + contextError(context);
    }
    if (raw != nullptr) {
      const ReplyPtr reply(static_cast<redisReply*>(raw));
      bool pong = false;
      dispatch(*reply, pong);
      if (pong) {
        ping_sent.reset();
      }
      continue;
    }

    pollfd fd{context->fd, POLLIN, 0};
    const int rc = ::poll(&fd, 1, kPollSliceMs);
    if (rc < 0) {
      if (errno == EINTR) {
        continue;
      }
      return std::string("poll: ") + std::strerror(errno);
    }
    const auto now = Clock::now();
    if (rc == 0) {
      // Silence: a PING tells a dead or frozen server from a quiet channel.
      if (ping_sent) {
        if (now - *ping_sent > timeout_) {
          return "no PONG within " + std::to_string(timeout_.count()) + " ms";
        }
      } else if (now - last_activity >= ping_interval_) {
        int done = 0;
        SigpipeGuard guard;
        if (!appendCommand(context, {"PING"})) {
          return "PING: " + contextError(context);
        }
        while (done == 0) {
          if (redisBufferWrite(context, &done) != REDIS_OK) {
            return "PING: " + contextError(context);
          }
        }
        ping_sent = now;
      }
      continue;
    }
    if (redisBufferRead(context) != REDIS_OK) {
      return contextError(context);
    }
    last_activity = now;
  }
  return "stopped";
}

}  // namespace pepeunit::cache::redis
