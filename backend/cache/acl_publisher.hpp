// Where the backend puts broker rule sets after a change that affects access
// (auth_plugin_anchors.md §6.4, §6.5): the shared L2 copy that every broker's plugin reads, and
// the invalidation event that makes connected brokers refetch (and kick when access shrank).
// Keys and events carry only the SHA-256 hex of the principal id, never a token.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace pepeunit::cache {

/// The "kind" of an invalidation event, as the plugin parses it (authplugin/invalidator.hpp).
enum class AclChangeKind { kGrant, kRevoke, kDeleted };

class AclPublisher {
 public:
  virtual ~AclPublisher() = default;
  /// Stores the serialized rule set of `principal_hash` for `ttl` (the set's stale ttl) and
  /// then publishes `{"principal_hash","version","kind"}`, in that order, so a broker reacting
  /// to the event already finds the new set in Redis.
  virtual void publishRules(const std::string& principal_hash, const std::string& rules_json,
                            std::uint64_t version, std::chrono::seconds ttl,
                            AclChangeKind kind) = 0;
  /// Removes the stored set and publishes a "deleted" event.
  virtual void publishDeleted(const std::string& principal_hash, std::uint64_t version) = 0;
  /// Removes every stored set and publishes `{"kind":"all","version":N}`: used for changes whose
  /// affected principals are not cheaply known (visibility, new or deleted nodes).
  virtual void publishAll(std::uint64_t version) = 0;
};

}  // namespace pepeunit::cache
