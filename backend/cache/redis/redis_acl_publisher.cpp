// Rule-set write-through and invalidation events on Redis.
#include "cache/redis/redis_acl_publisher.hpp"

#include <nlohmann/json.hpp>

#include "common/errors.hpp"

namespace pepeunit::cache::redis {
namespace {

const char* kindName(AclChangeKind kind) {
  switch (kind) {
    case AclChangeKind::kGrant:
      return "grant";
    case AclChangeKind::kRevoke:
      return "revoke";
    case AclChangeKind::kDeleted:
      return "deleted";
  }
  return "revoke";
}

std::string event(const std::string& principal_hash, std::uint64_t version, const char* kind) {
  nlohmann::json out;
  out["principal_hash"] = principal_hash;
  out["version"] = version;
  out["kind"] = kind;
  return out.dump();
}

void checked(const Reply& reply) {
  if (reply.isError()) {
    throw RedisError(reply.str);
  }
}

}  // namespace

RedisAclPublisher::RedisAclPublisher(RedisPool& pool, std::string prefix, std::string channel,
                                     std::chrono::milliseconds acquire_wait)
    : pool_(pool),
      prefix_(std::move(prefix)),
      channel_(std::move(channel)),
      acquire_wait_(acquire_wait) {}

RedisPool::Lease RedisAclPublisher::lease() {
  auto lease = pool_.tryAcquire(acquire_wait_);
  if (!lease) {
    throw Unavailable("Redis is unavailable", "no pooled Redis connection became free");
  }
  return std::move(*lease);
}

std::string RedisAclPublisher::rulesKey(const std::string& principal_hash) const {
  return prefix_ + ":rules:" + principal_hash;
}

void RedisAclPublisher::publishRules(const std::string& principal_hash,
                                     const std::string& rules_json, std::uint64_t version,
                                     std::chrono::seconds ttl, AclChangeKind kind) {
  auto client = lease();
  client->set(rulesKey(principal_hash), rules_json, ttl);
  client->publish(channel_, event(principal_hash, version, kindName(kind)));
}

void RedisAclPublisher::publishDeleted(const std::string& principal_hash, std::uint64_t version) {
  auto client = lease();
  client->del(rulesKey(principal_hash));
  client->publish(channel_, event(principal_hash, version, kindName(AclChangeKind::kDeleted)));
}

void RedisAclPublisher::publishAll(std::uint64_t version) {
  auto client = lease();
  // SCAN is incremental and never blocks Redis like KEYS would; a key written concurrently may
  // survive, but it was computed after the change and is therefore current.
  const std::string pattern = prefix_ + ":rules:*";
  std::string cursor = "0";
  do {
    const auto reply = client->command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
    checked(reply);
    if (reply.type != Reply::Type::kArray || reply.elements.size() != 2) {
      throw RedisError("SCAN answered an unexpected reply");
    }
    cursor = reply.elements[0].str;
    for (const auto& key : reply.elements[1].elements) {
      client->del(key.str);
    }
  } while (cursor != "0");
  nlohmann::json out;
  out["kind"] = "all";
  out["version"] = version;
  client->publish(channel_, out.dump());
}

}  // namespace pepeunit::cache::redis
