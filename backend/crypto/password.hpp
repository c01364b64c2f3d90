// Password hashing compatible with the original Pepeunit (spec §3.4):
//   hash = base64(PBKDF2-HMAC-SHA256(password, salt = dynamic_salt + static_salt, 100000, 32))
// where both salts are used as UTF-8 strings (the dynamic salt is itself base64 text, never
// decoded) and the result is standard base64 with padding (Python's base64.b64encode).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pepeunit::crypto {

inline constexpr int kPasswordIterations = 100000;
inline constexpr size_t kPasswordHashSize = 32;
inline constexpr size_t kDynamicSaltBytes = 16;

/// Raw PBKDF2-HMAC-SHA256 output of `dk_len` bytes. Throws pepeunit::Error(kInternal) on an
/// OpenSSL failure or a non-positive iteration count.
std::string pbkdf2HmacSha256(std::string_view password, std::string_view salt, int iterations,
                             size_t dk_len);

/// base64 of the 32-byte PBKDF2 of `password` with salt `dynamic_salt + static_salt`.
std::string hashPassword(std::string_view password, std::string_view dynamic_salt,
                         std::string_view static_salt, int iterations = kPasswordIterations);

/// A fresh per-user salt: base64 of 16 random bytes (24 characters).
std::string newDynamicSalt();

/// Recomputes the hash and compares the base64 strings in constant time.
bool verifyPassword(std::string_view password, std::string_view dynamic_salt,
                    std::string_view static_salt, std::string_view expected_hash_b64,
                    int iterations = kPasswordIterations);

}  // namespace pepeunit::crypto
