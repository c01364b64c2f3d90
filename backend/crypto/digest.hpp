// SHA-256, HMAC-SHA256 and constant-time comparison: the primitives SecretBox and JWT build on,
// also usable for hashing tokens before they become cache keys (no secret in Redis keys).
#pragma once

#include <string>
#include <string_view>

namespace pepeunit::crypto {

inline constexpr size_t kSha256Size = 32;

/// Raw 32-byte SHA-256 digest.
std::string sha256(std::string_view data);

/// Raw 32-byte HMAC-SHA256(key, data). Throws pepeunit::Error(kInternal) if OpenSSL fails.
std::string hmacSha256(std::string_view key, std::string_view data);

/// Constant-time equality for secrets (MACs, signatures, hashes). Only the length leaks.
bool constantTimeEquals(std::string_view a, std::string_view b) noexcept;

/// Lower-case hex of raw bytes.
std::string toHex(std::string_view bytes);

}  // namespace pepeunit::crypto
