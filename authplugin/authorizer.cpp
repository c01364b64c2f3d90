// Broker-thread decisions: CONNECT identity and bounded rule loading, ACL checks from memory,
// and the TICK work (fetch results, invalidations, kicks, refresh, eviction, counters).
#include "authplugin/authorizer.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <unordered_set>

#include "authplugin/principal.hpp"
#include "crypto/jwt.hpp"
#include "domain/topic.hpp"
#include "domain/uuid.hpp"

namespace pepeunit::authplugin {
namespace {

using domain::AclAction;
using domain::AclRule;
using domain::actionBit;
using State = PrincipalEntry::State;

constexpr std::size_t kMaxUsernameLength = 8192;
constexpr std::int64_t kHousekeepingEveryMs = 1000;
constexpr std::int64_t kMaxRetryBackoffMs = 30'000;
constexpr std::string_view kUnitPrefix = "unit:";

/// Principal hashes in logs are shortened: enough to grep, and never the id itself.
std::string shortHash(std::string_view hash) {
  return std::string(hash.substr(0, 12));
}

RuleCache::Limits cacheLimits(const PluginOptions& options) {
  RuleCache::Limits limits;
  limits.ttl_ms = options.ttl_s * 1000;
  limits.stale_ttl_ms = options.stale_ttl_s * 1000;
  limits.negative_ttl_ms = options.negative_ttl_s * 1000;
  limits.max_principals = options.max_principals;
  limits.decision_cache_size = options.decision_cache_size;
  return limits;
}

}  // namespace

Clock Clock::system() {
  return Clock{[] {
                 return std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                     .count();
               },
               [] {
                 return std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                     .count();
               }};
}

std::vector<AclRule> Authorizer::unitBaseRules(std::string_view domain,
                                               std::string_view unit_uuid) {
  const std::string d(domain);
  const std::string u(unit_uuid);
  return {
      AclRule{true, actionBit(AclAction::kPublish), d + "/output_base_topic/" + u + "/+/pepeunit"},
      AclRule{
          true,
          static_cast<std::uint8_t>(actionBit(AclAction::kSubscribe) | actionBit(AclAction::kRead)),
          d + "/input_base_topic/" + u + "/+/pepeunit"},
  };
}

domain::RuleSet Authorizer::backendRuleSet(std::string_view domain) {
  domain::RuleSet rules;
  rules.rules.push_back(AclRule{true, domain::kAllActions, std::string(domain) + "/#"});
  rules.rules.push_back(AclRule{
      true,
      static_cast<std::uint8_t>(actionBit(AclAction::kSubscribe) | actionBit(AclAction::kRead)),
      std::string(kMetricsTopicPrefix) + "#"});
  return rules;
}

Authorizer::Authorizer(PluginOptions options, std::string jwt_key, RuleSource& source,
                       EventQueue& events, Clock clock)
    : options_(std::move(options)),
      jwt_key_(std::move(jwt_key)),
      source_(source),
      events_(events),
      clock_(std::move(clock)),
      cache_(cacheLimits(options_), [domain = options_.domain](std::string_view principal) {
        if (principal.starts_with(kUnitPrefix)) {
          return unitBaseRules(domain, principal.substr(kUnitPrefix.size()));
        }
        return std::vector<AclRule>{};
      }) {}

std::optional<Identity> Authorizer::identify(const char* username) const {
  if (username == nullptr) {
    return std::nullopt;
  }
  const std::string_view token(username, strnlen(username, kMaxUsernameLength + 1));
  if (token.empty() || token.size() > kMaxUsernameLength) {
    return std::nullopt;
  }
  const auto verified = crypto::verifyJwt(token, jwt_key_, clock_.unix_s());
  if (!verified.ok() || !verified.payload.is_object()) {
    return std::nullopt;
  }
  const auto& claims = verified.payload;
  Identity identity;
  if (const auto exp = claims.find("exp"); exp != claims.end() && exp->is_number()) {
    identity.expires_at = static_cast<std::int64_t>(exp->get<double>());
  }
  const auto type = claims.find("type");
  if (type == claims.end() || !type->is_string()) {
    return std::nullopt;
  }
  if (*type == "Unit") {
    const auto uuid = claims.find("uuid");
    if (uuid == claims.end() || !uuid->is_string()) {
      return std::nullopt;
    }
    const auto parsed = domain::Uuid::parse(uuid->get_ref<const std::string&>());
    if (!parsed) {
      return std::nullopt;
    }
    identity.principal = unitPrincipal(parsed->toString());
    return identity;
  }
  if (*type == "Backend") {
    const auto domain = claims.find("domain");
    if (domain == claims.end() || !domain->is_string() || *domain != options_.domain) {
      return std::nullopt;
    }
    identity.principal = std::string(kBackendPrincipal);
    identity.backend = true;
    return identity;
  }
  return std::nullopt;  // User tokens and anything else have no MQTT access
}

bool Authorizer::basicAuth(const void* client, const char* username, const char* /*password*/) {
  const auto identity = identify(username);
  if (!identity) {
    ++counters_.connects_refused;
    return false;
  }
  std::int64_t now = clock_.steady_ms();
  auto entry = cache_.getOrCreate(identity->principal, now);
  entry->last_used_ms = now;
  if (identity->backend) {
    if (entry->state != State::kRules) {
      cache_.installLocal(*entry, backendRuleSet(options_.domain), now);
    }
  } else {
    const auto usable = [&] {
      return entry->state == State::kRules && now < entry->stale_until_ms &&
             !(entry->rules->expires_at > 0 && clock_.unix_s() >= entry->rules->expires_at);
    };
    if (entry->state == State::kNegative && now < entry->negative_until_ms) {
      ++counters_.connects_refused;
      return false;
    }
    if (!usable()) {
      // The one place the broker thread may wait: an unseen unit, bounded and single-flight.
      requestFetch(*entry, FetchRequest{identity->principal, 0, false});
      const auto allowance = std::min(options_.fetch_timeout, waitAllowance(now));
      if (allowance.count() <= 0) {
        ++counters_.connect_budget_refused;
        ++counters_.connects_refused;
        return false;
      }
      ++counters_.connect_waits;
      auto result = source_.waitFor(identity->principal, allowance);
      const std::int64_t after = clock_.steady_ms();
      budget_used_ms_ += std::max<std::int64_t>(0, after - now);
      now = after;
      if (!result) {
        ++counters_.connect_wait_timeouts;
        ++counters_.connects_refused;
        return false;  // the fetch goes on; its result is applied on TICK for the retry
      }
      apply(std::move(*result), now);
      entry = cache_.find(identity->principal);
      if (!entry || !usable()) {
        ++counters_.connects_refused;
        return false;
      }
    }
  }
  attach(client, username, entry, *identity);
  ++counters_.connects_allowed;
  return true;
}

bool Authorizer::aclCheck(const char* username, AclAction action, std::string_view topic) {
  if (action == AclAction::kUnsubscribe) {
    ++counters_.acl_allowed;
    return true;
  }
  if (username == nullptr) {
    ++counters_.acl_denied;
    return false;
  }
  const auto session = sessions_.find(std::string_view(username));
  if (session == sessions_.end()) {
    ++counters_.acl_denied;
    return false;
  }
  return check(session->second, action, topic);
}

std::size_t Authorizer::clientSlot(const void* client) {
  // Fibonacci hashing of the address: allocations are aligned, so the low bits say little.
  const auto bits = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(client));
  return static_cast<std::size_t>((bits * 0x9E3779B97F4A7C15ULL) >> 54);  // 10 bits: 1024 slots
}

bool Authorizer::aclCheck(const void* client, const char* username, AclAction action,
                          std::string_view topic) {
  if (action != AclAction::kUnsubscribe) {
    ClientSlot& slot = client_slots_[clientSlot(client)];
    if (slot.client == client) {
      return check(*slot.connection->session, action, topic);
    }
    if (const auto it = clients_.find(client); it != clients_.end()) {
      slot = ClientSlot{client, &it->second};
      return check(*it->second.session, action, topic);
    }
  }
  return aclCheck(username, action, topic);
}

bool Authorizer::check(Session& session, AclAction action, std::string_view topic) {
  // The backend's rule set is exactly `<domain>/#`: answer it without touching the cache.
  if (session.backend && topic.size() > options_.domain.size() &&
      topic[options_.domain.size()] == '/' && topic.starts_with(options_.domain)) {
    ++counters_.acl_allowed;
    return true;
  }
  PrincipalEntry& entry = *session.entry;
  const std::int64_t now = clock_.steady_ms();
  entry.last_used_ms = now;
  switch (cache_.check(entry, action, topic, now)) {
    case RuleCache::Verdict::kAllow:
      ++counters_.acl_allowed;
      return true;
    case RuleCache::Verdict::kDeny:
      if (entry.rules && entry.rules->partial) {
        return askBackend(entry, action, topic, now);
      }
      ++counters_.acl_denied;
      return false;
    case RuleCache::Verdict::kNoRules:
    case RuleCache::Verdict::kExpired:
      if (!entry.fetch_pending && now >= entry.retry_at_ms) {
        requestFetch(entry, FetchRequest{entry.principal, 0, false});
      }
      ++counters_.acl_denied;
      return false;
  }
  ++counters_.acl_denied;
  return false;
}

bool Authorizer::askBackend(PrincipalEntry& entry, AclAction action, std::string_view topic,
                            std::int64_t now_ms) {
  const auto inner = action == AclAction::kSubscribe ? domain::stripSharePrefix(topic)
                                                     : std::optional<std::string_view>(topic);
  if (!inner || !std::holds_alternative<domain::NodeTopic>(
                    domain::parsePepeunitTopic(*inner, options_.domain))) {
    ++counters_.acl_denied;
    return false;  // only node topics can be left out of a partial set
  }
  const std::string key = remoteDecisionKey(action, topic);
  const auto answered = [&]() -> std::optional<bool> {
    const auto it = entry.remote.find(key);
    if (it == entry.remote.end() || clock_.steady_ms() >= it->second.until_ms) {
      return std::nullopt;
    }
    return it->second.allow;
  };
  std::optional<bool> allow = answered();
  if (allow) {
    ++counters_.remote_hits;
  } else {
    const FetchRequest request{entry.principal, 0, false,
                               TopicQuestion{action, std::string(topic)}};
    if (!source_.request(request)) {
      ++counters_.fetch_dropped;
    }
    const auto allowance = std::min(options_.fetch_timeout, waitAllowance(now_ms));
    if (allowance.count() > 0) {
      ++counters_.remote_waits;
      auto result = source_.waitFor(request.key(), allowance);
      const std::int64_t after = clock_.steady_ms();
      budget_used_ms_ += std::max<std::int64_t>(0, after - now_ms);
      if (result) {
        apply(std::move(*result), after);
        allow = answered();
      } else {
        ++counters_.remote_timeouts;
      }
    }
  }
  ++(allow.value_or(false) ? counters_.acl_allowed : counters_.acl_denied);
  return allow.value_or(false);
}

void Authorizer::revalidateRemote(PrincipalEntry& entry) {
  std::erase_if(entry.remote, [](const auto& item) { return !item.second.allow; });
  for (auto& [key, decision] : entry.remote) {
    decision.until_ms = 0;
    const auto [action, topic] = splitRemoteDecisionKey(key);
    if (!source_.request(
            FetchRequest{entry.principal, 0, false, TopicQuestion{action, std::string(topic)}})) {
      ++counters_.fetch_dropped;
    }
  }
}

void Authorizer::applyAnswer(PrincipalEntry& entry, const FetchResult& result,
                             std::int64_t now_ms) {
  std::string key = remoteDecisionKey(result.question->action, result.question->topic);
  const auto previous = entry.remote.find(key);
  const bool was_allowed = previous != entry.remote.end() && previous->second.allow;
  if (result.status == FetchStatus::kError) {
    if (previous != entry.remote.end() && was_allowed) {
      // The backend is unreachable: keep serving the answer like the rules (to stale_ttl).
      previous->second.until_ms = std::min(entry.stale_until_ms, now_ms + 1000);
    }
    return;
  }
  ++counters_.remote_answers;
  const std::int64_t ttl_ms =
      result.answer.ttl_s > 0 ? result.answer.ttl_s * 1000 : cache_.limits().ttl_ms;
  cache_.rememberRemote(entry, std::move(key), RemoteDecision{result.answer.allow, now_ms + ttl_ms},
                        now_ms);
  if (was_allowed && !result.answer.allow && entry.connections > 0) {
    kick(entry, "access shrank");
  }
}

void Authorizer::disconnect(const void* client) {
  const auto it = clients_.find(client);
  if (it == clients_.end()) {
    return;
  }
  if (ClientSlot& slot = client_slots_[clientSlot(client)]; slot.client == client) {
    slot = ClientSlot{};
  }
  const std::string username = std::move(it->second.username);
  clients_.erase(it);
  const auto session = sessions_.find(std::string_view(username));
  if (session == sessions_.end()) {
    return;
  }
  const auto entry = session->second.entry;
  if (session->second.connections > 0 && --session->second.connections == 0) {
    session->second.idle_since_ms = clock_.steady_ms();  // kept for the will (see Session)
    --connected_sessions_;
  }
  if (entry) {
    if (entry->connections > 0) {
      --entry->connections;
    }
    if (const auto u = entry->usernames.find(username); u != entry->usernames.end()) {
      if (--u->second == 0) {
        entry->usernames.erase(u);
      }
    }
    entry->last_used_ms = clock_.steady_ms();
  }
}

void Authorizer::attach(const void* client, const std::string& username,
                        const std::shared_ptr<PrincipalEntry>& entry, const Identity& identity) {
  if (clients_.contains(client)) {
    disconnect(client);  // a connection object seen again without DISCONNECT: rebind it
  }
  Session& session = sessions_[username];
  clients_[client] = Connection{username, &session};
  if (session.entry && session.entry != entry && session.connections > 0) {
    // The same username re-verified to another cache object (the old one was evicted while
    // idle): move the live connections' counts over.
    session.entry->connections -= std::min(session.entry->connections, session.connections);
    session.entry->usernames.erase(username);
    entry->connections += session.connections;
    entry->usernames[username] += session.connections;
  }
  session.entry = entry;
  session.expires_at = identity.expires_at;
  session.backend = identity.backend;
  if (session.connections++ == 0) {
    ++connected_sessions_;
  }
  ++entry->connections;
  ++entry->usernames[username];
}

void Authorizer::requestFetch(PrincipalEntry& entry, const FetchRequest& request) {
  if (entry.local) {
    return;
  }
  if (source_.request(request)) {
    entry.fetch_pending = true;
  } else {
    ++counters_.fetch_dropped;
  }
}

void Authorizer::apply(FetchResult result, std::int64_t now_ms) {
  auto entry = cache_.find(result.principal);
  if (result.question && result.status != FetchStatus::kNotFound) {
    if (entry && entry->state == State::kRules) {
      applyAnswer(*entry, result, now_ms);
    }
    return;
  }
  switch (result.status) {
    case FetchStatus::kDecision:
      return;  // handled above (a decision always carries its question)
    case FetchStatus::kRules: {
      ++(result.source == FetchSource::kL2 ? counters_.fetch_l2 : counters_.fetch_backend);
      if (!entry) {
        entry = cache_.getOrCreate(result.principal, now_ms);
      }
      entry->fetch_pending = false;
      if (entry->local) {
        return;
      }
      const auto outcome = cache_.install(*entry, std::move(result.rules), now_ms);
      if (outcome.shrank && entry->connections > 0) {
        kick(*entry, "access shrank");
      }
      if (outcome.installed) {
        revalidateRemote(*entry);
      }
      return;
    }
    case FetchStatus::kNotFound: {
      ++counters_.fetch_not_found;
      if (!entry) {
        entry = cache_.getOrCreate(result.principal, now_ms);
      }
      if (!result.question) {
        entry->fetch_pending = false;  // a question's 404 says the same, but is not that fetch
      }
      if (entry->local) {
        return;
      }
      if (entry->connections > 0) {
        kick(*entry, "principal no longer exists");
      }
      cache_.markNegative(*entry, now_ms);
      entry->retry_at_ms = entry->negative_until_ms;
      return;
    }
    case FetchStatus::kError: {
      ++counters_.fetch_errors;
      if (!entry) {
        return;
      }
      entry->fetch_pending = false;
      ++entry->consecutive_failures;
      const int shift = std::min(entry->consecutive_failures - 1, 5);
      entry->retry_at_ms = now_ms + std::min<std::int64_t>(kMaxRetryBackoffMs, 1000LL << shift);
      if (entry->consecutive_failures == 1) {
        log(LogLine::Level::kWarning,
            "rules fetch for principal " + shortHash(entry->hash) + " failed (" + result.error +
                "); " + (entry->state == State::kRules ? "serving cached rules" : "no rules"));
      }
      return;
    }
  }
}

void Authorizer::handle(const InvalidationEvent& event, std::int64_t now_ms) {
  ++counters_.invalidations;
  using Kind = InvalidationEvent::Kind;
  if (event.kind == Kind::kAll || event.kind == Kind::kResync) {
    std::vector<std::string> forget;
    cache_.forEach([&](PrincipalEntry& entry) {
      if (entry.local) {
        return;
      }
      if (entry.connections > 0 && entry.state == State::kRules) {
        if (event.kind == Kind::kAll) {
          requestFetch(entry, FetchRequest{entry.principal, 0, true});
        } else {
          requestFetch(entry, FetchRequest{entry.principal, entry.rules->version, false});
        }
      } else if (event.kind == Kind::kAll && entry.connections == 0 && !entry.fetch_pending) {
        forget.push_back(entry.principal);
      }
    });
    for (const auto& principal : forget) {
      cache_.erase(principal);
    }
    return;
  }
  const auto entry = cache_.findByHash(event.principal_hash);
  if (!entry || entry->local) {
    return;  // nothing cached here for it
  }
  if (event.kind == Kind::kDeleted) {
    if (entry->connections > 0) {
      kick(*entry, "principal deleted");
    }
    cache_.markNegative(*entry, now_ms);
    entry->retry_at_ms = entry->negative_until_ms;
    return;
  }
  // grant / revoke
  if (entry->state == State::kRules) {
    if (event.version != 0 && entry->rules->version >= event.version) {
      return;  // already have it (e.g. fetched it after the change)
    }
    requestFetch(*entry, FetchRequest{entry->principal, event.version, event.version == 0});
    return;
  }
  if (entry->connections == 0 && !entry->fetch_pending) {
    cache_.erase(entry->principal);  // a stale "unknown": the next CONNECT asks again
    return;
  }
  entry->negative_until_ms = now_ms;
  entry->retry_at_ms = 0;
}

void Authorizer::kick(PrincipalEntry& entry, std::string_view reason) {
  for (const auto& [username, count] : entry.usernames) {
    pending_kicks_.push_back(username);
  }
  ++counters_.kicks;
  log(LogLine::Level::kInfo,
      "disconnecting principal " + shortHash(entry.hash) + ": " + std::string(reason));
}

void Authorizer::housekeeping(std::int64_t now_ms) {
  cache_.forEach([&](PrincipalEntry& entry) {
    if (entry.local || entry.connections == 0 || entry.state != State::kRules) {
      return;
    }
    if (now_ms >= entry.refresh_at_ms && !entry.fetch_pending && now_ms >= entry.retry_at_ms) {
      requestFetch(entry, FetchRequest{entry.principal, entry.rules->version, false});
    }
  });
  // Mosquitto never re-authenticates by itself: expired credentials are kicked from here.
  const std::int64_t now_unix = clock_.unix_s();
  const std::int64_t grace_ms = options_.session_grace_s * 1000;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    const Session& session = it->second;
    if (session.connections == 0) {
      it = now_ms - session.idle_since_ms >= grace_ms ? sessions_.erase(it) : std::next(it);
      continue;
    }
    const auto& rules = session.entry->rules;
    const bool rules_expired = session.entry->state == State::kRules && rules &&
                               rules->expires_at > 0 && now_unix >= rules->expires_at;
    if ((session.expires_at > 0 && now_unix >= session.expires_at) || rules_expired) {
      pending_kicks_.push_back(it->first);
    }
    ++it;
  }
  cache_.evict(now_ms);
}

std::chrono::milliseconds Authorizer::waitAllowance(std::int64_t now_ms) {
  if (now_ms - budget_window_ms_ >= 1000) {
    budget_window_ms_ = now_ms;
    budget_used_ms_ = 0;
  }
  return std::chrono::milliseconds(
      std::max<std::int64_t>(0, options_.stall_budget_per_s.count() - budget_used_ms_));
}

TickOutput Authorizer::tick() {
  TickOutput out;
  const std::int64_t now = clock_.steady_ms();
  for (auto& result : source_.drain()) {
    apply(std::move(result), now);
  }
  for (const auto& event : events_.drain()) {
    handle(event, now);
  }
  if (now - last_housekeeping_ms_ >= kHousekeepingEveryMs) {
    last_housekeeping_ms_ = now;
    housekeeping(now);
  }
  if (options_.metrics_interval_s > 0 &&
      (last_metrics_ms_ == 0 || now - last_metrics_ms_ >= options_.metrics_interval_s * 1000)) {
    last_metrics_ms_ = now;
    out.metrics = metrics();
  }
  if (!pending_kicks_.empty()) {
    std::unordered_set<std::string> seen;
    for (auto& username : pending_kicks_) {
      if (seen.insert(username).second) {
        out.kick_usernames.push_back(std::move(username));
      }
    }
    pending_kicks_.clear();
  }
  out.logs.swap(pending_logs_);
  return out;
}

std::vector<std::pair<std::string, std::string>> Authorizer::metrics() const {
  const auto& stats = cache_.stats();
  const std::pair<const char*, std::uint64_t> values[] = {
      {"connects_allowed", counters_.connects_allowed},
      {"connects_refused", counters_.connects_refused},
      {"connect_waits", counters_.connect_waits},
      {"connect_wait_timeouts", counters_.connect_wait_timeouts},
      {"connect_budget_refused", counters_.connect_budget_refused},
      {"acl_allowed", counters_.acl_allowed},
      {"acl_denied", counters_.acl_denied},
      {"acl_decision_hits", stats.decision_hits},
      {"acl_decision_misses", stats.decision_misses},
      {"acl_cold_denied", stats.cold_denied},
      {"acl_stale_served", stats.stale_served},
      {"acl_expired_denied", stats.expired_denied},
      {"fetch_l2", counters_.fetch_l2},
      {"fetch_backend", counters_.fetch_backend},
      {"fetch_not_found", counters_.fetch_not_found},
      {"fetch_errors", counters_.fetch_errors},
      {"fetch_dropped", counters_.fetch_dropped},
      {"invalidations", counters_.invalidations},
      {"invalidations_malformed", events_.malformed()},
      {"kicks", counters_.kicks},
      {"acl_remote_hits", counters_.remote_hits},
      {"acl_remote_answers", counters_.remote_answers},
      {"acl_remote_waits", counters_.remote_waits},
      {"acl_remote_timeouts", counters_.remote_timeouts},
      {"principals", cache_.size()},
      {"sessions", connected_sessions_},
  };
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(std::size(values));
  for (const auto& [name, value] : values) {
    out.emplace_back(std::string(kMetricsTopicPrefix) + name, std::to_string(value));
  }
  return out;
}

void Authorizer::log(LogLine::Level level, std::string text) {
  pending_logs_.push_back(LogLine{level, std::move(text)});
}

}  // namespace pepeunit::authplugin
