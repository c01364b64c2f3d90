// SHA-256 / HMAC-SHA256 over OpenSSL 3 EVP_MD and EVP_MAC, every handle owned by a unique_ptr.
#include "crypto/digest.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <memory>

#include "common/errors.hpp"

namespace pepeunit::crypto {
namespace {

struct MacDeleter {
  void operator()(EVP_MAC* mac) const noexcept { EVP_MAC_free(mac); }
};
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const noexcept { EVP_MAC_CTX_free(ctx); }
};
using MacPtr = std::unique_ptr<EVP_MAC, MacDeleter>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter>;

[[noreturn]] void fail(const char* what) {
  throw Error(ErrorKind::kInternal, "Cryptographic operation failed", what);
}

// Fetching an algorithm walks the provider store; do it once. EVP_MAC is reference counted and
// safe to share between threads, each call gets its own EVP_MAC_CTX.
EVP_MAC* hmacAlgorithm() {
  static const MacPtr mac(EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr));
  if (!mac) {
    fail("EVP_MAC_fetch(HMAC)");
  }
  return mac.get();
}

}  // namespace

std::string sha256(std::string_view data) {
  std::string out(kSha256Size, '\0');
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(out.data()), &len,
                 EVP_sha256(), nullptr) != 1 ||
      len != kSha256Size) {
    fail("EVP_Digest(SHA256)");
  }
  return out;
}

std::string hmacSha256(std::string_view key, std::string_view data) {
  MacCtxPtr ctx(EVP_MAC_CTX_new(hmacAlgorithm()));
  if (!ctx) {
    fail("EVP_MAC_CTX_new");
  }
  char digest_name[] = "SHA256";
  const std::array<OSSL_PARAM, 2> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end()};
  // A zero-length key is legal for HMAC, but OpenSSL wants a non-null pointer.
  static constexpr unsigned char kEmpty = 0;
  const auto* key_bytes =
      key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  if (EVP_MAC_init(ctx.get(), key_bytes, key.size(), params.data()) != 1 ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size()) !=
          1) {
    fail("EVP_MAC_init/update(HMAC-SHA256)");
  }
  std::string out(kSha256Size, '\0');
  size_t len = 0;
  if (EVP_MAC_final(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, out.size()) !=
          1 ||
      len != kSha256Size) {
    fail("EVP_MAC_final(HMAC-SHA256)");
  }
  return out;
}

bool constantTimeEquals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string toHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

}  // namespace pepeunit::crypto
