// Input rules for names, passwords and list search strings (pepeunit_backend_spec.md §1.1,
// §1.9, §2 conventions). Validation is pure; the service maps a failure to the entity's error
// code (user 3, repo 6, unit 7).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pepeunit::domain {

inline constexpr std::size_t kNameMinLength = 4;
inline constexpr std::size_t kNameMaxLength = 20;
inline constexpr std::size_t kPasswordMinLength = 8;
inline constexpr std::size_t kPasswordMaxLength = 100;

/// User login, Repo name, Unit name: 4..20 characters of [A-Za-z0-9_.-].
bool isValidName(std::string_view name);

/// 8..100 characters, each an ASCII letter, digit or punctuation character (Python's
/// string.punctuation, i.e. every printable ASCII character except space). No spaces, control
/// characters or non-ASCII bytes.
bool isValidPassword(std::string_view password);

/// Splits a `search_string` on ASCII whitespace (what Python's str.split() splits on within
/// ASCII), dropping empty pieces. "  a\tb  " gives {"a", "b"}; "" or "   " gives {}.
std::vector<std::string> splitSearchWords(std::string_view text);

/// Escapes `\`, `%` and `_` with a backslash so the text matches literally inside
/// `LIKE/ILIKE ... ESCAPE '\'`. Quotes and other SQL need no escaping: values are always bound
/// as parameters, never spliced into SQL.
std::string escapeLikePattern(std::string_view text);

/// `%<escaped word>%`: the case-insensitive substring pattern for one search word.
std::string likeContainsPattern(std::string_view word);

}  // namespace pepeunit::domain
