// Uuid: strict parsing, lowercase canonical formatting, v4 generation from injected randomness,
// ordering and hashing.
#include "domain/uuid.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <set>
#include <string>
#include <unordered_set>

namespace pd = pepeunit::domain;

namespace {

// Every byte the same value: makes the version/variant bits easy to read in the output.
class ConstantSource : public pd::RandomSource {
 public:
  explicit ConstantSource(std::uint8_t value) : value_(value) {}
  void fill(std::span<std::uint8_t> out) override {
    for (auto& b : out) {
      b = value_;
    }
  }

 private:
  std::uint8_t value_;
};

// Distinct bytes on every call.
class CounterSource : public pd::RandomSource {
 public:
  void fill(std::span<std::uint8_t> out) override {
    for (auto& b : out) {
      b = next_++;
    }
  }

 private:
  std::uint8_t next_ = 0;
};

}  // namespace

TEST_CASE("domain: Uuid parses canonical and 32-hex forms, any hex case") {
  const std::string canonical = "0f8fad5b-d9cb-469f-a165-70867728950e";
  struct Row {
    std::string input;
  };
  const Row rows[] = {
      {canonical},
      {"0F8FAD5B-D9CB-469F-A165-70867728950E"},
      {"0f8FaD5b-D9cb-469F-a165-70867728950E"},
      {"0f8fad5bd9cb469fa16570867728950e"},
      {"0F8FAD5BD9CB469FA16570867728950E"},
  };
  for (const Row& row : rows) {
    INFO("input: " << row.input);
    const auto parsed = pd::Uuid::parse(row.input);
    REQUIRE(parsed.has_value());
    CHECK(parsed->toString() == canonical);
  }
  const auto parsed = pd::Uuid::parse(canonical).value();
  CHECK(parsed.bytes()[0] == 0x0f);
  CHECK(parsed.bytes()[15] == 0x0e);
  CHECK(pd::Uuid::parse(parsed.toString()).value() == parsed);
}

TEST_CASE("domain: Uuid rejects garbage") {
  const std::string rejected[] = {
      "",
      "not-a-uuid",
      "0f8fad5b-d9cb-469f-a165-70867728950",     // 35 chars
      "0f8fad5b-d9cb-469f-a165-70867728950e0",   // 37 chars
      "0f8fad5bd9cb469fa16570867728950",         // 31 hex
      "0f8fad5bd9cb469fa16570867728950e0",       // 33 hex
      "{0f8fad5b-d9cb-469f-a165-70867728950e}",  // braces
      "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
      " 0f8fad5b-d9cb-469f-a165-70867728950e",
      "0f8fad5b-d9cb-469f-a165-70867728950e ",
      "0f8fad5bd-9cb-469f-a165-70867728950e",  // hyphen moved
      "0f8fad5b-d9cb-469f-a16570867728950e-",  // hyphen moved to the end
      "0f8fad5b_d9cb_469f_a165_70867728950e",  // wrong separator
      "0f8fad5g-d9cb-469f-a165-70867728950e",  // non-hex digit
      "0f8fad5bd9cb469fa16570867728950-",      // hyphen in the 32-char form
      "0f8fad5b-d9cb-469f-a165-7086772895\xc3\xa9",
      std::string("0f8fad5b-d9cb-469f-a165-70867728950") + '\0',
      "1; DROP TABLE users; --",
      "%' OR '1'='1",
  };
  for (const std::string& text : rejected) {
    INFO("input: " << text);
    CHECK_FALSE(pd::Uuid::parse(text).has_value());
  }
}

TEST_CASE("domain: Uuid nil, ordering and hashing") {
  const pd::Uuid nil;
  CHECK(nil.isNil());
  CHECK(nil.toString() == "00000000-0000-0000-0000-000000000000");
  CHECK(pd::Uuid::parse("00000000-0000-0000-0000-000000000000").value() == nil);

  const auto a = pd::Uuid::parse("00000000-0000-0000-0000-000000000001").value();
  const auto b = pd::Uuid::parse("00000000-0000-0000-0000-000000000002").value();
  const auto c = pd::Uuid::parse("10000000-0000-0000-0000-000000000000").value();
  CHECK_FALSE(a.isNil());
  CHECK(nil < a);
  CHECK(a < b);
  CHECK(b < c);  // byte order: the first byte is most significant
  CHECK(a != b);
  CHECK(a == pd::Uuid::parse("00000000000000000000000000000001").value());

  const std::hash<pd::Uuid> hasher;
  CHECK(hasher(a) == hasher(pd::Uuid::parse("00000000000000000000000000000001").value()));
  std::unordered_set<pd::Uuid> set{a, b, c, a};
  CHECK(set.size() == 3);
  CHECK(set.count(b) == 1);
  CHECK(set.count(nil) == 0);
}

TEST_CASE("domain: Uuid::generateV4 sets version and variant over the injected bytes") {
  ConstantSource ones(0xFF);
  CHECK(pd::Uuid::generateV4(ones).toString() == "ffffffff-ffff-4fff-bfff-ffffffffffff");
  ConstantSource zeros(0x00);
  CHECK(pd::Uuid::generateV4(zeros).toString() == "00000000-0000-4000-8000-000000000000");

  CounterSource counter;
  std::set<std::string> seen;
  for (int i = 0; i < 16; ++i) {
    const pd::Uuid uuid = pd::Uuid::generateV4(counter);
    const std::string text = uuid.toString();
    CHECK(text[14] == '4');
    CHECK(std::string("89ab").find(text[19]) != std::string::npos);
    CHECK(pd::Uuid::parse(text).value() == uuid);
    seen.insert(text);
  }
  CHECK(seen.size() == 16);
}
