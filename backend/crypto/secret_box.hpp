// Authenticated encryption of secrets at rest (user salts, repo credentials, unit env, state
// storage), compatible with the original Pepeunit's AES-CBC format (spec §3.5, DESIGN §3).
//
// Written form (always):   base64(iv) "." base64(ct) "." base64(mac)
// Legacy form (read only): base64(iv) "." base64(ct)            -- what the original writes
//
//   iv  = 16 random bytes; ct = AES-CBC(key, iv, PKCS#7(plaintext)); AES-128/192/256 by key size
//   mac = HMAC-SHA256(mac_key, iv || ct), checked in constant time BEFORE any decryption
//   mac_key = HMAC-SHA256(key = encrypt key, data = "pepeunit secret box mac v1")
// All base64 is the standard alphabet with padding, as Python's base64.b64encode writes it.
//
// Compatibility note: dropping the third segment gives exactly the original's format. The
// original decoder (split on the first '.', lenient b64decode of the rest) reads the 3-segment
// form as-is only when base64(ct) ends in '=' (len(ct) % 3 != 0); Python's lenient decoder
// stops at padding but otherwise also decodes the MAC characters into the ciphertext.
//
// Errors (both are pepeunit::Error with kind kCipher, code 12):
//   * encrypt: plaintext longer than the limit -> pepeunit::CipherError (the E3 error 12).
//   * decrypt: wrong segment count, bad base64, bad IV/ciphertext length, MAC mismatch, wrong
//     key, bad padding, legacy form while legacy is rejected -> crypto::DecryptError. Its what()
//     is a fixed public text; internal() names the reason. Neither ever contains plaintext,
//     ciphertext or key material.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/errors.hpp"

namespace pepeunit::crypto {

/// A ciphertext could not be authenticated or decrypted (see the file comment).
class DecryptError : public Error {
 public:
  explicit DecryptError(std::string reason)
      : Error(ErrorKind::kCipher, "Encrypted data cannot be decrypted", std::move(reason)) {}
};

class SecretBox {
 public:
  static constexpr size_t kDefaultMaxPlaintextLength = 50000;  // BACKEND_MAX_CIPHER_LENGTH
  static constexpr size_t kIvSize = 16;
  static constexpr size_t kMacSize = 32;
  static constexpr std::string_view kMacKeyLabel = "pepeunit secret box mac v1";

  /// Whether the unauthenticated 2-segment form of the original is still readable.
  enum class Legacy { kAccept, kReject };

  /// `key` is the raw key (base64-decoded BACKEND_ENCRYPT_KEY): 16, 24 or 32 bytes, else throws
  /// CipherError. `max_plaintext_length` counts characters (UTF-8 code points, like Python's
  /// len(str)), not bytes.
  explicit SecretBox(std::string_view key, size_t max_plaintext_length = kDefaultMaxPlaintextLength,
                     Legacy legacy = Legacy::kAccept);
  SecretBox(const SecretBox&) = default;
  SecretBox& operator=(const SecretBox&) = default;
  SecretBox(SecretBox&&) = default;
  SecretBox& operator=(SecretBox&&) = default;
  ~SecretBox();  // wipes the keys

  /// Thread-safe (const, no shared OpenSSL state). Throws CipherError when too long.
  std::string encrypt(std::string_view plaintext) const;
  /// Accepts the 3-segment form (MAC verified) and, unless Legacy::kReject, the 2-segment form.
  /// Throws DecryptError.
  std::string decrypt(std::string_view ciphertext) const;

  size_t maxPlaintextLength() const noexcept { return max_plaintext_length_; }

  /// The MAC key for an encrypt key (exposed so tests and other tools can reproduce the MAC).
  static std::string deriveMacKey(std::string_view key);

 private:
  std::string key_;
  std::string mac_key_;
  size_t max_plaintext_length_;
  Legacy legacy_;
};

}  // namespace pepeunit::crypto
