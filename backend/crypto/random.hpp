// Cryptographically secure random bytes and tokens (OpenSSL RAND_bytes). Every function throws
// pepeunit::Error(ErrorKind::kInternal) if the generator cannot deliver; it never falls back to
// a weaker source.
#pragma once

#include <cstddef>
#include <string>

namespace pepeunit::crypto {

/// n raw random bytes.
std::string randomBytes(size_t n);

/// n_bytes of randomness as URL-safe base64 without padding (safe in URLs, headers, keys).
std::string randomToken(size_t n_bytes);

/// `length` characters drawn uniformly from [A-Za-z0-9] (e.g. Telegram verification codes).
std::string randomAlphanumeric(size_t length);

}  // namespace pepeunit::crypto
