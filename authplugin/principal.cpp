// Principal ids, their hashes and Redis key names.
#include "authplugin/principal.hpp"

#include "crypto/digest.hpp"

namespace pepeunit::authplugin {

std::string unitPrincipal(std::string_view canonical_uuid) {
  return "unit:" + std::string(canonical_uuid);
}

std::string principalHash(std::string_view principal) {
  return crypto::toHex(crypto::sha256(principal));
}

std::string rulesKey(std::string_view prefix, std::string_view principal_hash) {
  std::string key(prefix);
  key += ":rules:";
  key += principal_hash;
  return key;
}

}  // namespace pepeunit::authplugin
