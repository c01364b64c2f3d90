// Principal ids and the names derived from them. A principal is what rules are cached for:
// `unit:<uuid>` for a Unit token, `backend` for the backend's own token. Outside the process it
// only ever appears hashed (SHA-256 hex): Redis keys and invalidation events carry the hash, never
// the id and never a token (DESIGN §5 invariant 3).
#pragma once

#include <string>
#include <string_view>

namespace pepeunit::authplugin {

inline constexpr std::string_view kBackendPrincipal = "backend";

/// "unit:<canonical lowercase uuid>".
std::string unitPrincipal(std::string_view canonical_uuid);

/// Lower-case hex SHA-256 of the principal id.
std::string principalHash(std::string_view principal);

/// `<prefix>:rules:<principal_hash>`: the L2 copy of a principal's rule set.
std::string rulesKey(std::string_view prefix, std::string_view principal_hash);

}  // namespace pepeunit::authplugin
