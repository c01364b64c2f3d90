// PBKDF2-HMAC-SHA256 password hashing over PKCS5_PBKDF2_HMAC.
#include "crypto/password.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <limits>
#include <string>

#include "common/errors.hpp"
#include "crypto/base64.hpp"
#include "crypto/digest.hpp"
#include "crypto/random.hpp"

namespace pepeunit::crypto {

std::string pbkdf2HmacSha256(std::string_view password, std::string_view salt, int iterations,
                             size_t dk_len) {
  constexpr auto kIntMax = static_cast<size_t>(std::numeric_limits<int>::max());
  if (iterations < 1 || dk_len == 0 || dk_len > kIntMax || password.size() > kIntMax ||
      salt.size() > kIntMax) {
    throw Error(ErrorKind::kInternal, "Cryptographic operation failed", "PBKDF2 bad parameters");
  }
  std::string out(dk_len, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(dk_len),
                        reinterpret_cast<unsigned char*>(out.data())) != 1) {
    throw Error(ErrorKind::kInternal, "Cryptographic operation failed", "PKCS5_PBKDF2_HMAC");
  }
  return out;
}

std::string hashPassword(std::string_view password, std::string_view dynamic_salt,
                         std::string_view static_salt, int iterations) {
  std::string salt;
  salt.reserve(dynamic_salt.size() + static_salt.size());
  salt.append(dynamic_salt).append(static_salt);
  std::string raw = pbkdf2HmacSha256(password, salt, iterations, kPasswordHashSize);
  std::string encoded = base64Encode(raw);
  OPENSSL_cleanse(raw.data(), raw.size());
  return encoded;
}

std::string newDynamicSalt() {
  return base64Encode(randomBytes(kDynamicSaltBytes));
}

bool verifyPassword(std::string_view password, std::string_view dynamic_salt,
                    std::string_view static_salt, std::string_view expected_hash_b64,
                    int iterations) {
  return constantTimeEquals(hashPassword(password, dynamic_salt, static_salt, iterations),
                            expected_hash_b64);
}

}  // namespace pepeunit::crypto
