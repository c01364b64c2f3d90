// Name/password character rules and search-string helpers.
#include "domain/names.hpp"

#include <algorithm>

namespace pepeunit::domain {
namespace {

bool isAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool isNameChar(char c) {
  return isAsciiAlnum(c) || c == '_' || c == '.' || c == '-';
}

// Printable ASCII except space: letters, digits and exactly Python's string.punctuation.
bool isPasswordChar(char c) {
  return c > ' ' && c <= '~';
}

// ASCII characters Python's str.split() treats as whitespace: \t \n \v \f \r, \x1c-\x1f, space.
bool isSearchSpace(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

}  // namespace

bool isValidName(std::string_view name) {
  return name.size() >= kNameMinLength && name.size() <= kNameMaxLength &&
         std::all_of(name.begin(), name.end(), isNameChar);
}

bool isValidPassword(std::string_view password) {
  return password.size() >= kPasswordMinLength && password.size() <= kPasswordMaxLength &&
         std::all_of(password.begin(), password.end(), isPasswordChar);
}

std::vector<std::string> splitSearchWords(std::string_view text) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && isSearchSpace(text[i])) {
      ++i;
    }
    const std::size_t start = i;
    while (i < text.size() && !isSearchSpace(text[i])) {
      ++i;
    }
    if (i > start) {
      words.emplace_back(text.substr(start, i - start));
    }
  }
  return words;
}

std::string escapeLikePattern(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\' || c == '%' || c == '_') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  return out;
}

std::string likeContainsPattern(std::string_view word) {
  return "%" + escapeLikePattern(word) + "%";
}

}  // namespace pepeunit::domain
