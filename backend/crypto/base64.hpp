// Standard and URL-safe base64 over OpenSSL's EVP encoder.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pepeunit::crypto {

/// Standard alphabet with '=' padding (what Python's base64.b64encode emits).
std::string base64Encode(std::string_view bytes);
/// Strict decode of the standard alphabet: nullopt on any character outside it (whitespace
/// included), a length that is not a multiple of 4, misplaced padding, or a non-canonical
/// final character (unused bits not zero).
std::optional<std::string> base64Decode(std::string_view text);

/// RFC 4648 §5 alphabet without padding (JWT segments).
std::string base64UrlEncode(std::string_view bytes);
/// Strict decode of the unpadded URL-safe alphabet; '=', '+', '/' are rejected.
std::optional<std::string> base64UrlDecode(std::string_view text);

}  // namespace pepeunit::crypto
