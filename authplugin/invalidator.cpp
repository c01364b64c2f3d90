// Invalidation event parsing, the hand-over queue and the Redis subscriber wiring.
#include "authplugin/invalidator.hpp"

#include <nlohmann/json.hpp>

#include "authplugin/signal_block.hpp"

namespace pepeunit::authplugin {
namespace {

bool isSha256Hex(std::string_view text) {
  if (text.size() != 64) {
    return false;
  }
  for (const char c : text) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (!hex) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<InvalidationEvent> parseInvalidationEvent(std::string_view text) {
  const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return std::nullopt;
  }
  InvalidationEvent event;
  const auto kind = json.find("kind");
  if (kind == json.end() || !kind->is_string()) {
    return std::nullopt;
  }
  const auto& name = kind->get_ref<const std::string&>();
  if (name == "grant") {
    event.kind = InvalidationEvent::Kind::kGrant;
  } else if (name == "revoke") {
    event.kind = InvalidationEvent::Kind::kRevoke;
  } else if (name == "deleted") {
    event.kind = InvalidationEvent::Kind::kDeleted;
  } else if (name == "all") {
    event.kind = InvalidationEvent::Kind::kAll;
  } else {
    return std::nullopt;
  }
  if (const auto version = json.find("version"); version != json.end() && !version->is_null()) {
    if (!version->is_number_integer() ||
        (!version->is_number_unsigned() && version->get<std::int64_t>() < 0)) {
      return std::nullopt;
    }
    event.version = version->get<std::uint64_t>();
  }
  if (event.kind != InvalidationEvent::Kind::kAll) {
    const auto hash = json.find("principal_hash");
    if (hash == json.end() || !hash->is_string() ||
        !isSha256Hex(hash->get_ref<const std::string&>())) {
      return std::nullopt;
    }
    event.principal_hash = hash->get<std::string>();
  }
  return event;
}

void EventQueue::push(InvalidationEvent event) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
    has_events_.store(true, std::memory_order_release);
  }
  if (on_change_) {
    on_change_();
  }
}

std::vector<InvalidationEvent> EventQueue::drain() {
  std::vector<InvalidationEvent> out;
  if (!has_events_.load(std::memory_order_acquire)) {
    return out;
  }
  std::lock_guard lock(mutex_);
  out.swap(events_);
  has_events_.store(false, std::memory_order_release);
  return out;
}

Invalidator::Invalidator(cache::redis::RedisUrl url, std::string channel, EventQueue& queue,
                         std::chrono::milliseconds timeout)
    : queue_(queue) {
  cache::redis::RedisSubscriber::Callbacks callbacks;
  callbacks.on_message = [this](std::string_view, std::string_view message) {
    if (auto event = parseInvalidationEvent(message)) {
      queue_.push(std::move(*event));
    } else {
      queue_.countMalformed();
    }
  };
  // Every subscribe, the first too: a helper process may start after another one died, and the
  // events in between are lost. At broker start the resync finds nothing connected.
  callbacks.on_subscribed = [this] {
    queue_.push(InvalidationEvent{InvalidationEvent::Kind::kResync, {}, 0});
  };
  subscriber_ = std::make_unique<cache::redis::RedisSubscriber>(
      std::move(url), std::vector<std::string>{std::move(channel)}, std::move(callbacks), timeout);
}

Invalidator::~Invalidator() {
  stop();
}

void Invalidator::start() {
  BlockAllSignals blocked;
  subscriber_->start();
}

void Invalidator::stop() {
  if (subscriber_) {
    subscriber_->stop();
  }
}

bool Invalidator::subscribed() const {
  return subscriber_ && subscriber_->subscribed();
}

}  // namespace pepeunit::authplugin
