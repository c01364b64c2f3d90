// A 128-bit UUID value type: every primary key, JWT `uuid` claim and MQTT node topic id.
// Parsing is strict (path parameters that are not UUIDs must be rejected, §2 conventions);
// generation takes its randomness from an injected source so this layer stays free of I/O.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pepeunit::domain {

/// Supplies random bytes for UUID generation. The service layer implements it over the CSPRNG
/// of crypto/random.hpp; tests implement it deterministically.
class RandomSource {
 public:
  virtual ~RandomSource() = default;
  /// Fills every byte of `out`. May throw if the generator cannot deliver.
  virtual void fill(std::span<std::uint8_t> out) = 0;
};

class Uuid {
 public:
  using Bytes = std::array<std::uint8_t, 16>;

  /// The nil UUID (all zero bytes).
  constexpr Uuid() = default;
  constexpr explicit Uuid(const Bytes& bytes) : bytes_(bytes) {}

  /// Accepts the canonical 8-4-4-4-12 form and the bare 32-hex-digit form (as Python's UUID()
  /// does), hex digits in either case. Rejects everything else, including surrounding
  /// whitespace, braces, "urn:uuid:" prefixes and misplaced hyphens.
  static std::optional<Uuid> parse(std::string_view text);

  /// A random (version 4, RFC 4122 variant) UUID built from 16 bytes of `random`.
  static Uuid generateV4(RandomSource& random);

  /// Lowercase canonical form, e.g. "0f8fad5b-d9cb-469f-a165-70867728950e".
  std::string toString() const;

  const Bytes& bytes() const noexcept { return bytes_; }
  bool isNil() const noexcept;

  friend constexpr bool operator==(const Uuid&, const Uuid&) = default;
  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy misreads the defaulted <=>.
  friend constexpr std::strong_ordering operator<=>(const Uuid&, const Uuid&) = default;

 private:
  Bytes bytes_{};
};

}  // namespace pepeunit::domain

template <>
struct std::hash<pepeunit::domain::Uuid> {
  std::size_t operator()(const pepeunit::domain::Uuid& uuid) const noexcept;
};
