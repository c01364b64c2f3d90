// Fetch logic (L2 → backend → write-through), its Redis and HTTP adapters, and the worker pool.
#include "authplugin/fetcher.hpp"

#include <httplib.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "authplugin/principal.hpp"
#include "authplugin/signal_block.hpp"
#include "common/errors.hpp"

namespace pepeunit::authplugin {
namespace {

class RedisL2Store : public L2Store {
 public:
  RedisL2Store(const cache::redis::RedisUrl& url, std::chrono::milliseconds timeout)
      : client_(url, timeout) {}

  std::optional<std::string> get(const std::string& key) override { return client_.get(key); }
  void set(const std::string& key, const std::string& value, std::chrono::seconds ttl) override {
    client_.set(key, value, ttl);
  }

 private:
  cache::redis::RedisClient client_;
};

class HttpBackendApi : public BackendApi {
 public:
  explicit HttpBackendApi(const HttpBackendOptions& options)
      : client_(options.base_url), token_(options.token) {
    client_.set_connection_timeout(options.connect_timeout);
    client_.set_read_timeout(options.timeout);
    client_.set_write_timeout(options.timeout);
    client_.set_keep_alive(true);
    client_.set_tcp_nodelay(true);  // Nagle would add ~40 ms per request (perf anchors §4.5)
    if (!options.ca_file.empty()) {
      client_.set_ca_cert_path(options.ca_file.string());
    }
    client_.enable_server_certificate_verification(true);
  }

  Response fetchRules(const std::string& principal) override {
    return post(kRulesPath, nlohmann::json{{"principal", principal}}.dump());
  }

  Response checkTopic(const std::string& principal, const TopicQuestion& question) override {
    return post(kCheckPath, nlohmann::json{{"principal", principal},
                                           {"action", domain::actionName(question.action)},
                                           {"topic", question.topic}}
                                .dump());
  }

 private:
  Response post(const char* path, const std::string& body) {
    const httplib::Headers headers = {{"Authorization", "Bearer " + token_}};
    Response response;
    auto result = client_.Post(path, headers, body, "application/json");
    if (!result) {
      response.error = httplib::to_string(result.error());
      return response;
    }
    response.status = result->status;
    response.body = std::move(result->body);
    return response;
  }

  httplib::Client client_;
  std::string token_;
};

std::string describe(const std::exception& error) {
  if (const auto* typed = dynamic_cast<const pepeunit::Error*>(&error)) {
    return typed->internal().empty() ? typed->what() : typed->internal();
  }
  return error.what();
}

FetchResult resultFor(const FetchRequest& request, FetchStatus status) {
  FetchResult result;
  result.principal = request.principal;
  result.question = request.question;
  result.status = status;
  return result;
}

FetchResult errorResult(const FetchRequest& request, std::string error) {
  auto result = resultFor(request, FetchStatus::kError);
  result.error = std::move(error);
  return result;
}

/// `{"result":"allow|deny","ttl":S}`; nullopt for anything else.
std::optional<TopicAnswer> parseAnswer(const std::string& body) {
  const auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return std::nullopt;
  }
  const auto result = json.find("result");
  if (result == json.end() || !result->is_string() || (*result != "allow" && *result != "deny")) {
    return std::nullopt;
  }
  TopicAnswer answer;
  answer.allow = *result == "allow";
  if (const auto ttl = json.find("ttl"); ttl != json.end()) {
    if (!ttl->is_number_integer() || ttl->get<std::int64_t>() < 0) {
      return std::nullopt;
    }
    answer.ttl_s = ttl->get<std::int64_t>();
  }
  return answer;
}

/// One backend call through the circuit breaker into `response`. Returns the final result when
/// there is nothing more to look at: the circuit is open, or the principal is unknown (404).
std::optional<FetchResult> guardedCall(const FetchRequest& request, CircuitBreaker& breaker,
                                       const std::function<BackendApi::Response()>& call,
                                       BackendApi::Response& response) {
  if (!breaker.allow(CircuitBreaker::Clock::now())) {
    return errorResult(request, "backend circuit open after repeated failures");
  }
  try {
    response = call();
  } catch (const std::exception& error) {
    response.status = 0;
    response.error = describe(error);
  }
  if (response.status == 404) {
    breaker.success();
    auto result = resultFor(request, FetchStatus::kNotFound);
    result.source = FetchSource::kBackend;
    return result;
  }
  return std::nullopt;
}

/// A response that is no usable answer: counted against the breaker, described for the log.
FetchResult failedCall(const FetchRequest& request, CircuitBreaker& breaker,
                       const BackendApi::Response& response, const std::string& what) {
  breaker.failure(CircuitBreaker::Clock::now());
  if (response.status == 0) {
    return errorResult(request, "backend unreachable: " + response.error);
  }
  if (response.status == 200) {
    return errorResult(request, "backend answered 200 with an invalid " + what);
  }
  return errorResult(request, "backend answered " + std::to_string(response.status) + " to a " +
                                  what + " request");
}

/// A question: the check endpoint, through the same circuit breaker as rule sets.
FetchResult resolveQuestion(const FetchRequest& request, BackendApi& backend,
                            CircuitBreaker& breaker) {
  BackendApi::Response response;
  if (auto done = guardedCall(
          request, breaker,
          [&] { return backend.checkTopic(request.principal, *request.question); }, response)) {
    return std::move(*done);
  }
  const auto answer = response.status == 200 ? parseAnswer(response.body) : std::nullopt;
  if (!answer) {
    return failedCall(request, breaker, response, "decision");
  }
  breaker.success();
  auto result = resultFor(request, FetchStatus::kDecision);
  result.source = FetchSource::kBackend;
  result.answer = *answer;
  return result;
}

}  // namespace

std::string fetchKey(const std::string& principal, const std::optional<TopicQuestion>& question) {
  if (!question) {
    return principal;
  }
  // A principal never holds '\n' (it is "backend" or "unit:<uuid>"), so keys cannot collide.
  std::string key = principal;
  key += '\n';
  key += domain::actionName(question->action);
  key += '\n';
  key += question->topic;
  return key;
}

std::unique_ptr<L2Store> makeRedisL2Store(const cache::redis::RedisUrl& url,
                                          std::chrono::milliseconds timeout) {
  return std::make_unique<RedisL2Store>(url, timeout);
}

std::unique_ptr<BackendApi> makeHttpBackendApi(const HttpBackendOptions& options) {
  return std::make_unique<HttpBackendApi>(options);
}

// ---- CircuitBreaker ---------------------------------------------------------------------------

bool CircuitBreaker::allow(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (failures_ < threshold_) {
    return true;
  }
  if (now < open_until_ || probing_) {
    return false;
  }
  probing_ = true;  // half-open: exactly one call finds out whether the backend is back
  return true;
}

void CircuitBreaker::success() {
  std::lock_guard lock(mutex_);
  failures_ = 0;
  probing_ = false;
}

void CircuitBreaker::failure(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  ++failures_;
  probing_ = false;
  if (failures_ >= threshold_) {
    open_until_ = now + open_for_;
  }
}

bool CircuitBreaker::open(Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  return failures_ >= threshold_ && (now < open_until_ || probing_);
}

// ---- resolveRules -----------------------------------------------------------------------------

FetchResult resolveRules(const FetchRequest& request, L2Store* l2, BackendApi& backend,
                         CircuitBreaker& breaker, const ResolveConfig& config) {
  std::optional<L2Write> write;
  auto result = resolveRulesDeferred(request, l2, backend, breaker, config, write);
  writeThrough(l2, write);
  return result;
}

void writeThrough(L2Store* l2, const std::optional<L2Write>& write) {
  if (l2 == nullptr || !write) {
    return;
  }
  try {
    l2->set(write->key, write->value, write->ttl);
  } catch (const std::exception&) {
    // A failed write-through only costs the next broker an HTTP call.
  }
}

bool L2MissStreak::skip() {
  if (misses_.load(std::memory_order_relaxed) < kStreak) {
    return false;
  }
  return skipped_.fetch_add(1, std::memory_order_relaxed) % kProbeEvery != kProbeEvery - 1;
}

void L2MissStreak::record(bool hit) {
  if (hit) {
    misses_.store(0, std::memory_order_relaxed);
  } else if (misses_.load(std::memory_order_relaxed) < kStreak) {
    misses_.fetch_add(1, std::memory_order_relaxed);
  }
}

FetchResult resolveRulesDeferred(const FetchRequest& request, L2Store* l2, BackendApi& backend,
                                 CircuitBreaker& breaker, const ResolveConfig& config,
                                 std::optional<L2Write>& write, L2MissStreak* streak) {
  write.reset();
  if (request.question) {
    return resolveQuestion(request, backend, breaker);
  }
  const std::string key = rulesKey(config.redis_prefix, principalHash(request.principal));
  bool l2_usable = l2 != nullptr;
  if (l2_usable && !request.skip_l2 && (streak == nullptr || !streak->skip())) {
    try {
      if (auto cached = l2->get(key)) {
        auto rules = domain::parseRuleSet(*cached);
        if (rules && rules->version >= request.min_version) {
          if (streak != nullptr) {
            streak->record(true);
          }
          auto result = resultFor(request, FetchStatus::kRules);
          result.source = FetchSource::kL2;
          result.rules = std::make_shared<const domain::RuleSet>(std::move(*rules));
          result.rules_json = std::move(*cached);
          return result;
        }
        // Corrupt or older than announced: the backend decides.
      }
      if (streak != nullptr) {
        streak->record(false);
      }
    } catch (const std::exception&) {
      l2_usable = false;  // Redis is down: skip the write-through as well
    }
  }

  BackendApi::Response response;
  if (auto done = guardedCall(
          request, breaker, [&] { return backend.fetchRules(request.principal); }, response)) {
    return std::move(*done);
  }
  auto rules = response.status == 200 ? domain::parseRuleSet(response.body)
                                      : std::optional<domain::RuleSet>();
  if (!rules) {
    return failedCall(request, breaker, response, "rule set");
  }
  breaker.success();
  if (l2_usable) {
    // The backend's body is the rule set's wire JSON (it just parsed): stored as it came.
    write = L2Write{key, response.body,
                    rules->stale_ttl_s > 0 ? std::chrono::seconds(rules->stale_ttl_s)
                                           : config.default_stale_ttl};
  }
  auto result = resultFor(request, FetchStatus::kRules);
  result.source = FetchSource::kBackend;
  result.rules = std::make_shared<const domain::RuleSet>(std::move(*rules));
  result.rules_json = std::move(response.body);
  return result;
}

// ---- Fetcher ----------------------------------------------------------------------------------

Fetcher::Fetcher(Options options) : options_(std::move(options)) {
  if (!options_.sink || !options_.make_backend) {
    throw std::invalid_argument("Fetcher needs a sink and a backend");
  }
}

Fetcher::~Fetcher() {
  stop();
}

void Fetcher::start() {
  std::lock_guard lock(mutex_);
  if (!workers_.empty()) {
    return;
  }
  stopping_ = false;
  BlockAllSignals blocked;
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    workers_.emplace_back([this] { work(); });
  }
}

void Fetcher::stop() {
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    workers.swap(workers_);
  }
  jobs_cv_.notify_all();
  for (auto& worker : workers) {
    worker.join();
  }
}

bool Fetcher::request(const FetchRequest& request) {
  std::lock_guard lock(mutex_);
  return enqueueLocked(request, /*notify=*/true);
}

bool Fetcher::enqueueLocked(const FetchRequest& request, bool notify) {
  std::string key = request.key();
  if (const auto it = pending_.find(key); it != pending_.end()) {
    Pending& pending = it->second;
    pending.request.min_version = std::max(pending.request.min_version, request.min_version);
    pending.request.skip_l2 = pending.request.skip_l2 || request.skip_l2;
    if (pending.running) {
      pending.again = true;
    }
    return true;
  }
  if (queue_.size() >= options_.max_queued) {
    return false;
  }
  pending_.emplace(key, Pending{request});
  queue_.push_back(std::move(key));
  if (notify) {
    jobs_cv_.notify_one();
  }
  return true;
}

void Fetcher::work() {
  std::unique_ptr<L2Store> l2;
  std::unique_ptr<BackendApi> backend;
  try {
    l2 = options_.make_l2 ? options_.make_l2() : nullptr;
    backend = options_.make_backend();
  } catch (const std::exception&) {
    backend.reset();
  }
  std::unique_lock lock(mutex_);
  while (true) {
    jobs_cv_.wait(lock, [this] {
      return stopping_ || !queue_.empty() || (options_.intake && !intake_busy_);
    });
    if (stopping_) {
      return;
    }
    if (queue_.empty()) {
      intake_busy_ = true;
      lock.unlock();
      std::vector<FetchRequest> arrived;
      try {
        arrived = options_.intake();
      } catch (const std::exception&) {
        arrived.clear();  // the intake reports its own failures; keep serving
      }
      lock.lock();
      intake_busy_ = false;
      for (const auto& request : arrived) {
        // No wake-up per request: the notify below hands the intake over, and this worker
        // serves the first arrival itself.
        if (!enqueueLocked(request, /*notify=*/false)) {
          options_.sink(errorResult(request, "fetch queue full"));
        }
      }
      jobs_cv_.notify_one();  // the next idle worker takes over the intake
      continue;               // and this one serves the first arrival itself
    }
    const std::string key = std::move(queue_.front());
    queue_.pop_front();
    Pending& pending = pending_.at(key);
    pending.running = true;
    const FetchRequest request = pending.request;
    lock.unlock();

    std::optional<L2Write> write;
    FetchResult result = backend ? resolveRulesDeferred(request, l2.get(), *backend, breaker_,
                                                        options_.resolve, write, &l2_streak_)
                                 : errorResult(request, "backend client could not be created");
    options_.sink(result);

    lock.lock();
    auto it = pending_.find(key);
    if (it != pending_.end() && it->second.again) {
      it->second.again = false;
      it->second.running = false;
      queue_.push_back(key);
      jobs_cv_.notify_one();
    } else if (it != pending_.end()) {
      pending_.erase(it);
    }
    if (write) {
      lock.unlock();
      writeThrough(l2.get(), write);
      lock.lock();
    }
  }
}

}  // namespace pepeunit::authplugin
