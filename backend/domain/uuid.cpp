// UUID parsing, formatting and v4 generation.
#include "domain/uuid.hpp"

#include <algorithm>

namespace pepeunit::domain {
namespace {

constexpr std::size_t kCanonicalLength = 36;
constexpr std::size_t kHexLength = 32;
constexpr std::array<std::size_t, 4> kHyphenPositions{8, 13, 18, 23};

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Decodes exactly 32 hex digits into bytes; nullopt on any non-hex character.
std::optional<Uuid::Bytes> decodeHex(std::string_view hex) {
  Uuid::Bytes bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const int high = hexValue(hex[2 * i]);
    const int low = hexValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) {
      return std::nullopt;
    }
    bytes[i] = static_cast<std::uint8_t>((high << 4) | low);
  }
  return bytes;
}

}  // namespace

std::optional<Uuid> Uuid::parse(std::string_view text) {
  std::string hex;
  if (text.size() == kCanonicalLength) {
    hex.reserve(kHexLength);
    for (std::size_t i = 0; i < text.size(); ++i) {
      const bool hyphen_slot =
          std::find(kHyphenPositions.begin(), kHyphenPositions.end(), i) != kHyphenPositions.end();
      if (hyphen_slot != (text[i] == '-')) {
        return std::nullopt;
      }
      if (!hyphen_slot) {
        hex.push_back(text[i]);
      }
    }
  } else if (text.size() == kHexLength) {
    hex.assign(text);
  } else {
    return std::nullopt;
  }
  auto bytes = decodeHex(hex);
  if (!bytes) {
    return std::nullopt;
  }
  return Uuid(*bytes);
}

Uuid Uuid::generateV4(RandomSource& random) {
  Bytes bytes{};
  random.fill(bytes);
  bytes[6] = static_cast<std::uint8_t>((bytes[6] & 0x0F) | 0x40);  // version 4
  bytes[8] = static_cast<std::uint8_t>((bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
  return Uuid(bytes);
}

std::string Uuid::toString() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(kCanonicalLength);
  for (std::size_t i = 0; i < bytes_.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      out.push_back('-');
    }
    out.push_back(kDigits[bytes_[i] >> 4]);
    out.push_back(kDigits[bytes_[i] & 0x0F]);
  }
  return out;
}

bool Uuid::isNil() const noexcept {
  return std::all_of(bytes_.begin(), bytes_.end(), [](std::uint8_t b) { return b == 0; });
}

}  // namespace pepeunit::domain

std::size_t std::hash<pepeunit::domain::Uuid>::operator()(
    const pepeunit::domain::Uuid& uuid) const noexcept {
  // FNV-1a over the 16 bytes: v4 UUIDs are already uniform, this just folds them to size_t.
  std::uint64_t h = 14695981039346656037ULL;
  for (std::uint8_t b : uuid.bytes()) {
    h ^= b;
    h *= 1099511628211ULL;
  }
  return static_cast<std::size_t>(h);
}
