// base64 via EVP_EncodeBlock/EVP_DecodeBlock; the URL-safe variants translate the alphabet.
#include "crypto/base64.hpp"

#include <openssl/evp.h>

#include <algorithm>

namespace pepeunit::crypto {
namespace {

// Locale-independent: std::isalnum would accept extra letters under some locales.
bool isStandardAlphabet(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

}  // namespace

std::string base64Encode(std::string_view bytes) {
  // +1: EVP_EncodeBlock always writes a terminating NUL after the output.
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  // Padding: at most two '=' and only at the very end.
  size_t pads = 0;
  while (pads < text.size() && pads < 3 && text[text.size() - 1 - pads] == '=') {
    ++pads;
  }
  if (pads > 2) {
    return std::nullopt;
  }
  const std::string_view body = text.substr(0, text.size() - pads);
  if (!std::all_of(body.begin(), body.end(), isStandardAlphabet)) {
    return std::nullopt;
  }
  std::string out(3 * text.size() / 4 + 1, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0 || static_cast<size_t>(n) < pads) {
    return std::nullopt;
  }
  // EVP_DecodeBlock counts padding as zero bytes; trim them.
  out.resize(static_cast<size_t>(n) - pads);
  // Reject non-canonical input (non-zero bits hidden before the padding), so that each byte
  // string has exactly one accepted encoding: a signature or MAC cannot be re-spelled.
  if (base64Encode(out) != text) {
    return std::nullopt;
  }
  return out;
}

std::string base64UrlEncode(std::string_view bytes) {
  std::string out = base64Encode(bytes);
  while (!out.empty() && out.back() == '=') {
    out.pop_back();
  }
  std::replace(out.begin(), out.end(), '+', '-');
  std::replace(out.begin(), out.end(), '/', '_');
  return out;
}

std::optional<std::string> base64UrlDecode(std::string_view text) {
  if (text.find_first_of("+/=") != std::string_view::npos || text.size() % 4 == 1) {
    return std::nullopt;
  }
  std::string std_text(text);
  std::replace(std_text.begin(), std_text.end(), '-', '+');
  std::replace(std_text.begin(), std_text.end(), '_', '/');
  while (std_text.size() % 4 != 0) {
    std_text.push_back('=');
  }
  return base64Decode(std_text);
}

}  // namespace pepeunit::crypto
