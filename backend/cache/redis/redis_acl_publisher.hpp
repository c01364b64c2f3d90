// Redis implementation of AclPublisher: `SET <prefix>:rules:<hash> <json> EX <ttl>` then
// `PUBLISH <channel> <event>`. Names default to the plugin's (authplugin/options.hpp).
#pragma once

#include <chrono>
#include <string>

#include "cache/acl_publisher.hpp"
#include "cache/redis/redis_client.hpp"

namespace pepeunit::cache::redis {

class RedisAclPublisher : public AclPublisher {
 public:
  static constexpr const char* kDefaultPrefix = "pepeunit:acl:v1";
  static constexpr const char* kDefaultChannel = "pepeunit:acl:v1:events";

  RedisAclPublisher(RedisPool& pool, std::string prefix = kDefaultPrefix,
                    std::string channel = kDefaultChannel,
                    std::chrono::milliseconds acquire_wait = std::chrono::milliseconds(300));

  void publishRules(const std::string& principal_hash, const std::string& rules_json,
                    std::uint64_t version, std::chrono::seconds ttl, AclChangeKind kind) override;
  void publishDeleted(const std::string& principal_hash, std::uint64_t version) override;
  void publishAll(std::uint64_t version) override;

  /// `<prefix>:rules:<hash>`.
  std::string rulesKey(const std::string& principal_hash) const;

 private:
  RedisPool::Lease lease();

  RedisPool& pool_;
  std::string prefix_;
  std::string channel_;
  std::chrono::milliseconds acquire_wait_;
};

}  // namespace pepeunit::cache::redis
