// SecretBox: AES-CBC + PKCS#7 with an encrypt-then-MAC HMAC-SHA256 segment (see the header).
#include "crypto/secret_box.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <limits>
#include <memory>
#include <optional>

#include "crypto/base64.hpp"
#include "crypto/digest.hpp"
#include "crypto/random.hpp"

namespace pepeunit::crypto {
namespace {

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const noexcept { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

constexpr size_t kBlockSize = 16;
// EVP takes int lengths; stay a block below INT_MAX so padding cannot overflow either.
constexpr size_t kMaxEvpLength = static_cast<size_t>(std::numeric_limits<int>::max()) - kBlockSize;

const EVP_CIPHER* cbcCipherFor(size_t key_size) {
  switch (key_size) {
    case 16:
      return EVP_aes_128_cbc();
    case 24:
      return EVP_aes_192_cbc();
    case 32:
      return EVP_aes_256_cbc();
    default:
      return nullptr;
  }
}

// Python's len(str): count UTF-8 lead bytes, i.e. everything but continuation bytes 10xxxxxx.
size_t codePointCount(std::string_view text) {
  size_t n = 0;
  for (const char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++n;
    }
  }
  return n;
}

CipherCtxPtr newCipherCtx() {
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) {
    throw Error(ErrorKind::kInternal, "Cryptographic operation failed", "EVP_CIPHER_CTX_new");
  }
  return ctx;
}

// Wipes a buffer that held plaintext when an exception leaves the scope early.
struct Wipe {
  std::string& buffer;
  ~Wipe() { OPENSSL_cleanse(buffer.data(), buffer.size()); }
};

}  // namespace

SecretBox::SecretBox(std::string_view key, size_t max_plaintext_length, Legacy legacy)
    : key_(key), max_plaintext_length_(max_plaintext_length), legacy_(legacy) {
  if (cbcCipherFor(key_.size()) == nullptr) {
    OPENSSL_cleanse(key_.data(), key_.size());
    throw CipherError("Encryption key must be 16, 24 or 32 bytes");
  }
  mac_key_ = deriveMacKey(key_);
}

SecretBox::~SecretBox() {
  OPENSSL_cleanse(key_.data(), key_.size());
  OPENSSL_cleanse(mac_key_.data(), mac_key_.size());
}

std::string SecretBox::deriveMacKey(std::string_view key) {
  return hmacSha256(key, kMacKeyLabel);
}

std::string SecretBox::encrypt(std::string_view plaintext) const {
  if (codePointCount(plaintext) > max_plaintext_length_) {
    throw CipherError("Plaintext length exceeds BACKEND_MAX_CIPHER_LENGTH");
  }
  const std::string iv = randomBytes(kIvSize);
  const CipherCtxPtr ctx = newCipherCtx();
  // PKCS#7 padding is EVP's default.
  if (EVP_EncryptInit_ex(ctx.get(), cbcCipherFor(key_.size()), nullptr,
                         reinterpret_cast<const unsigned char*>(key_.data()),
                         reinterpret_cast<const unsigned char*>(iv.data())) != 1) {
    throw Error(ErrorKind::kInternal, "Cryptographic operation failed", "EVP_EncryptInit_ex");
  }
  std::string ct(plaintext.size() + kBlockSize, '\0');
  auto* out = reinterpret_cast<unsigned char*>(ct.data());
  int n = 0;
  int final_n = 0;
  // EVP_EncryptUpdate takes an int length; the plaintext limit keeps us far below it, but a
  // huge limit must not overflow silently.
  if (plaintext.size() > kMaxEvpLength ||
      EVP_EncryptUpdate(ctx.get(), out, &n,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out + n, &final_n) != 1) {
    throw Error(ErrorKind::kInternal, "Cryptographic operation failed", "AES-CBC encrypt");
  }
  ct.resize(static_cast<size_t>(n) + static_cast<size_t>(final_n));
  const std::string mac = hmacSha256(mac_key_, iv + ct);
  return base64Encode(iv) + '.' + base64Encode(ct) + '.' + base64Encode(mac);
}

std::string SecretBox::decrypt(std::string_view ciphertext) const {
  const size_t dot1 = ciphertext.find('.');
  if (dot1 == std::string_view::npos) {
    throw DecryptError("expected 2 or 3 '.'-separated segments, found 1");
  }
  const size_t dot2 = ciphertext.find('.', dot1 + 1);
  if (dot2 != std::string_view::npos && ciphertext.find('.', dot2 + 1) != std::string_view::npos) {
    throw DecryptError("expected 2 or 3 '.'-separated segments, found more");
  }
  const bool has_mac = dot2 != std::string_view::npos;
  if (!has_mac && legacy_ == Legacy::kReject) {
    throw DecryptError("unauthenticated 2-segment ciphertext rejected");
  }
  const std::string_view iv_text = ciphertext.substr(0, dot1);
  const std::string_view ct_text =
      has_mac ? ciphertext.substr(dot1 + 1, dot2 - dot1 - 1) : ciphertext.substr(dot1 + 1);

  const std::optional<std::string> iv = base64Decode(iv_text);
  if (!iv || iv->size() != kIvSize) {
    throw DecryptError("IV segment is not base64 of 16 bytes");
  }
  const std::optional<std::string> ct = base64Decode(ct_text);
  if (!ct || ct->empty() || ct->size() % kBlockSize != 0 || ct->size() > kMaxEvpLength) {
    throw DecryptError("ciphertext segment is not base64 of whole AES blocks");
  }
  if (has_mac) {
    const std::optional<std::string> mac = base64Decode(ciphertext.substr(dot2 + 1));
    if (!mac || mac->size() != kMacSize) {
      throw DecryptError("MAC segment is not base64 of 32 bytes");
    }
    // Encrypt-then-MAC: nothing is decrypted (no padding oracle) until the MAC matches.
    if (!constantTimeEquals(hmacSha256(mac_key_, *iv + *ct), *mac)) {
      throw DecryptError("MAC mismatch (tampered data or another key)");
    }
  }

  const CipherCtxPtr ctx = newCipherCtx();
  if (EVP_DecryptInit_ex(ctx.get(), cbcCipherFor(key_.size()), nullptr,
                         reinterpret_cast<const unsigned char*>(key_.data()),
                         reinterpret_cast<const unsigned char*>(iv->data())) != 1) {
    throw Error(ErrorKind::kInternal, "Cryptographic operation failed", "EVP_DecryptInit_ex");
  }
  std::string plain(ct->size() + kBlockSize, '\0');
  Wipe wipe_on_error{plain};
  auto* out = reinterpret_cast<unsigned char*>(plain.data());
  int n = 0;
  int final_n = 0;
  if (EVP_DecryptUpdate(ctx.get(), out, &n, reinterpret_cast<const unsigned char*>(ct->data()),
                        static_cast<int>(ct->size())) != 1) {
    throw DecryptError("AES-CBC decrypt failed");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), out + n, &final_n) != 1) {
    throw DecryptError("bad PKCS#7 padding (corrupted data or another key)");
  }
  std::string result(plain.data(), static_cast<size_t>(n) + static_cast<size_t>(final_n));
  return result;
}

}  // namespace pepeunit::crypto
