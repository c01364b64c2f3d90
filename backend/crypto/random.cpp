// CSPRNG helpers over RAND_bytes.
#include "crypto/random.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <string_view>

#include "common/errors.hpp"
#include "crypto/base64.hpp"

namespace pepeunit::crypto {

std::string randomBytes(size_t n) {
  std::string out(n, '\0');
  size_t done = 0;
  // RAND_bytes takes an int length; feed it in chunks.
  while (done < n) {
    const size_t chunk = std::min<size_t>(n - done, INT_MAX);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data() + done), static_cast<int>(chunk)) !=
        1) {
      throw Error(ErrorKind::kInternal, "Random generator failure", "RAND_bytes failed");
    }
    done += chunk;
  }
  return out;
}

std::string randomToken(size_t n_bytes) {
  return base64UrlEncode(randomBytes(n_bytes));
}

std::string randomAlphanumeric(size_t length) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  // Rejection sampling keeps the distribution uniform: 62 * 4 = 248 is the largest multiple of
  // 62 that fits in a byte, so bytes >= 248 are discarded instead of biasing the first letters.
  static constexpr unsigned kLimit = 248;
  std::string out;
  out.reserve(length);
  while (out.size() < length) {
    for (const char c : randomBytes(length - out.size() + 8)) {
      const auto b = static_cast<unsigned char>(c);
      if (b < kLimit && out.size() < length) {
        out.push_back(kAlphabet[b % kAlphabet.size()]);
      }
    }
  }
  return out;
}

}  // namespace pepeunit::crypto
