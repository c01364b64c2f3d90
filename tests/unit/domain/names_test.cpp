// Name and password rules (boundary lengths, every bad character class, SQL metacharacters) and
// the search-string helpers.
#include "domain/names.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace pd = pepeunit::domain;

TEST_CASE("domain: isValidName lengths and characters") {
  struct Row {
    std::string name;
    bool valid;
  };
  const Row rows[] = {
      // Boundary lengths.
      {"", false},
      {"abc", false},
      {"abcd", true},
      {std::string(20, 'a'), true},
      {std::string(21, 'a'), false},
      {std::string(1000, 'a'), false},
      // Every allowed class.
      {"ABCD", true},
      {"abcd", true},
      {"0123", true},
      {"____", true},
      {"....", true},
      {"----", true},
      {"My_Unit.v2-01", true},
      // Spaces and control characters.
      {"ab cd", false},
      {" abcd", false},
      {"abcd ", false},
      {"ab\tcd", false},
      {"ab\ncd", false},
      {std::string("ab\0cd", 5), false},
      {"ab\x7f"
       "cd",
       false},
      // Non-ASCII (UTF-8 bytes), even when short enough in code points.
      {"\xd0\xb8\xd0\xbc\xd1\x8f\xd0\xb0", false},
      {"caf\xc3\xa9", false},
      // Punctuation outside [_.-], including SQL metacharacters.
      {"ab'cd", false},
      {"ab\"cd", false},
      {"ab;cd", false},
      {"ab%cd", false},
      {"ab*cd", false},
      {"ab/cd", false},
      {"ab\\cd", false},
      {"ab@cd", false},
      {"ab+cd", false},
      {"ab=cd", false},
      {"ab(cd)", false},
      {"x';--", false},
      {"a' OR '1'='1", false},
      {"1;DROP TABLE", false},
      // "--" is two allowed hyphens: harmless, since every value is bound as a parameter.
      {"ab--cd", true},
  };
  for (const Row& row : rows) {
    INFO("name: " << row.name);
    CHECK(pd::isValidName(row.name) == row.valid);
  }
}

TEST_CASE("domain: isValidPassword lengths and characters") {
  const std::string punctuation = R"(!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~)";  // string.punctuation
  REQUIRE(punctuation.size() == 32);
  struct Row {
    std::string password;
    bool valid;
  };
  const Row rows[] = {
      {"", false},
      {std::string(7, 'a'), false},
      {std::string(8, 'a'), true},
      {std::string(100, 'a'), true},
      {std::string(101, 'a'), false},
      {"Passw0rd", true},
      {"12345678", true},
      {"ABCDEFGH", true},
      {punctuation, true},
      {"pass' OR 1=1;--", false},  // has spaces
      {"pass'OR1=1;--", true},     // every character allowed: stored hashed, never spliced
      {"pass word", false},
      {"password\t", false},
      {"password\n", false},
      {std::string("pass\0word", 9), false},
      {"password\x7f", false},
      {"pass\xc3\xa9word", false},
      {"\xd0\xbf\xd0\xb0\xd1\x80\xd0\xbe\xd0\xbb\xd1\x8c", false},
  };
  for (const Row& row : rows) {
    INFO("password: " << row.password);
    CHECK(pd::isValidPassword(row.password) == row.valid);
  }
  for (char c : punctuation) {
    INFO("punctuation char: " << c);
    CHECK(pd::isValidPassword(std::string(7, 'a') + c));
  }
}

TEST_CASE("domain: splitSearchWords") {
  struct Row {
    std::string text;
    std::vector<std::string> words;
  };
  const Row rows[] = {
      {"", {}},
      {"   ", {}},
      {"\t\n\r\v\f", {}},
      {"word", {"word"}},
      {"  two   words  ", {"two", "words"}},
      {"a\tb\nc\rd\ve\ff", {"a", "b", "c", "d", "e", "f"}},
      {"a\x1c"
       "b",
       {"a", "b"}},
      {"50% off_sale", {"50%", "off_sale"}},
      {"'; DROP TABLE users; --", {"';", "DROP", "TABLE", "users;", "--"}},
      {"caf\xc3\xa9 bar", {"caf\xc3\xa9", "bar"}},
  };
  for (const Row& row : rows) {
    INFO("text: " << row.text);
    CHECK(pd::splitSearchWords(row.text) == row.words);
  }
}

TEST_CASE("domain: escapeLikePattern makes LIKE metacharacters literal") {
  struct Row {
    std::string text;
    std::string escaped;
  };
  const Row rows[] = {
      {"", ""},
      {"plain", "plain"},
      {"50%", "50\\%"},
      {"a_b", "a\\_b"},
      {"back\\slash", "back\\\\slash"},
      {"%_\\", "\\%\\_\\\\"},
      {"\\%", "\\\\\\%"},
      {"'; DROP TABLE users; --", "'; DROP TABLE users; --"},
      {"[a-z]*", "[a-z]*"},
  };
  for (const Row& row : rows) {
    INFO("text: " << row.text);
    CHECK(pd::escapeLikePattern(row.text) == row.escaped);
  }
  CHECK(pd::likeContainsPattern("a_b%") == "%a\\_b\\%%");
  CHECK(pd::likeContainsPattern("") == "%%");
}
