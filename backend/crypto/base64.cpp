// base64 via EVP_EncodeBlock/EVP_DecodeBlock; the URL-safe variants translate the alphabet.
#include "crypto/base64.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>

namespace pepeunit::crypto {

std::string base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
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
  const bool valid = std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=';
  });
  if (!valid) {
    return std::nullopt;
  }
  // '=' may only appear as the last one or two characters.
  const auto first_pad = text.find('=');
  if (first_pad != std::string_view::npos &&
      (first_pad < text.size() - 2 || text.find_first_not_of('=', first_pad) != text.npos)) {
    return std::nullopt;
  }
  std::string out(3 * text.size() / 4, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) {
    return std::nullopt;
  }
  // EVP_DecodeBlock counts padding as zero bytes; trim them.
  size_t len = static_cast<size_t>(n);
  if (!text.empty() && text.back() == '=') --len;
  if (text.size() >= 2 && text[text.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

std::string base64UrlEncode(std::string_view bytes) {
  std::string out = base64Encode(bytes);
  while (!out.empty() && out.back() == '=') out.pop_back();
  std::replace(out.begin(), out.end(), '+', '-');
  std::replace(out.begin(), out.end(), '/', '_');
  return out;
}

std::optional<std::string> base64UrlDecode(std::string_view text) {
  std::string std_text(text);
  if (std_text.find_first_of("+/=") != std::string::npos) {
    return std::nullopt;
  }
  std::replace(std_text.begin(), std_text.end(), '-', '+');
  std::replace(std_text.begin(), std_text.end(), '_', '/');
  if (std_text.size() % 4 == 1) {
    return std::nullopt;
  }
  while (std_text.size() % 4 != 0) std_text.push_back('=');
  return base64Decode(std_text);
}

}  // namespace pepeunit::crypto
