// .pepeignore parsing, matching and application.
#include "firmware/pepeignore.hpp"

#include <algorithm>
#include <fstream>
#include <optional>
#include <system_error>

#include "common/errors.hpp"

namespace pepeunit::firmware {
namespace {

namespace fs = std::filesystem;

// POSIX character classes in the "C" locale (ASCII only), independent of the process locale.
bool classMatches(std::string_view name_of_class, unsigned char c) {
  const bool upper = c >= 'A' && c <= 'Z';
  const bool lower = c >= 'a' && c <= 'z';
  const bool digit = c >= '0' && c <= '9';
  const bool graph = c > ' ' && c < 0x7f;
  struct Named {
    std::string_view name;
    bool value;
  };
  const Named classes[] = {
      {"alnum", upper || lower || digit},
      {"alpha", upper || lower},
      {"blank", c == ' ' || c == '\t'},
      {"cntrl", c < ' ' || c == 0x7f},
      {"digit", digit},
      {"graph", graph},
      {"lower", lower},
      {"print", graph || c == ' '},
      {"punct", graph && !upper && !lower && !digit},
      {"space", c == ' ' || (c >= '\t' && c <= '\r')},
      {"upper", upper},
      {"xdigit", digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')},
  };
  for (const auto& named : classes) {
    if (named.name == name_of_class) {
      return named.value;
    }
  }
  return false;
}

// Matches the bracket expression starting at pattern[pos] == '[' against `c`. Returns the
// position after the closing ']' and whether it matched; nullopt if the bracket is unclosed
// (then '[' is a literal character).
struct BracketResult {
  std::size_t end;
  bool matched;
};

std::optional<BracketResult> matchBracket(std::string_view pattern, std::size_t pos, char c) {
  std::size_t i = pos + 1;
  bool negate = false;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    ++i;
  }
  bool matched = false;
  bool first = true;
  const auto uc = static_cast<unsigned char>(c);
  while (i < pattern.size()) {
    char lo = pattern[i];
    if (lo == ']' && !first) {
      return BracketResult{i + 1, matched != negate};
    }
    first = false;
    if (lo == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
      const auto close = pattern.find(":]", i + 2);
      if (close != std::string_view::npos) {
        matched = matched || classMatches(pattern.substr(i + 2, close - i - 2), uc);
        i = close + 2;
        continue;
      }
    }
    if (lo == '\\' && i + 1 < pattern.size()) {
      lo = pattern[++i];
    }
    ++i;
    char hi = lo;
    if (i + 1 < pattern.size() && pattern[i] == '-' && pattern[i + 1] != ']') {
      hi = pattern[i + 1];
      i += 2;
      if (hi == '\\' && i < pattern.size()) {
        hi = pattern[i++];
      }
    }
    if (static_cast<unsigned char>(lo) <= uc && uc <= static_cast<unsigned char>(hi)) {
      matched = true;
    }
  }
  return std::nullopt;
}

// Iterative glob with single-star backtracking (linear in practice, no exponential blow-up on
// hostile patterns such as "*a*a*a*a*b").
bool globMatch(std::string_view p, std::string_view s) {
  std::size_t pi = 0;
  std::size_t si = 0;
  std::size_t star_p = std::string_view::npos;
  std::size_t star_s = 0;
  while (si < s.size()) {
    if (pi < p.size()) {
      const char pc = p[pi];
      if (pc == '*') {
        while (pi < p.size() && p[pi] == '*') {
          ++pi;
        }
        star_p = pi;
        star_s = si;
        continue;
      }
      if (pc == '?') {
        ++pi;
        ++si;
        continue;
      }
      if (pc == '[') {
        if (auto bracket = matchBracket(p, pi, s[si])) {
          if (bracket->matched) {
            pi = bracket->end;
            ++si;
            continue;
          }
        } else if (s[si] == '[') {  // unclosed: literal '['
          ++pi;
          ++si;
          continue;
        }
      } else if (pc == '\\' && pi + 1 < p.size()) {
        if (p[pi + 1] == s[si]) {
          pi += 2;
          ++si;
          continue;
        }
      } else if (pc == s[si]) {
        ++pi;
        ++si;
        continue;
      }
    }
    if (star_p == std::string_view::npos) {
      return false;
    }
    pi = star_p;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '*') {
    ++pi;
  }
  return pi == p.size();
}

// Matches all pattern segments against path segments [0, end). Dynamic programming over
// (pattern index, path index), so hostile patterns with many "**" stay polynomial.
bool matchSegments(const std::vector<std::string>& pat, const std::vector<std::string_view>& path,
                   std::size_t end, bool trailing_nonempty) {
  const std::size_t np = pat.size();
  // row[j] for pattern index i+1 while computing index i; rows have end + 1 entries.
  std::vector<char> next(end + 1, 0);
  std::vector<char> cur(end + 1, 0);
  next[end] = 1;                     // empty pattern suffix matches the empty path suffix
  bool only_globstars_after = true;  // pat[i+1..] are all "**"
  for (std::size_t i = np; i-- > 0;) {
    const bool globstar = pat[i] == "**";
    if (globstar && only_globstars_after) {
      // Trailing "/**": everything inside, i.e. at least one more level when asked.
      for (std::size_t j = 0; j <= end; ++j) {
        cur[j] = static_cast<char>(!trailing_nonempty || j < end);
      }
    } else if (globstar) {
      // Zero or more whole segments.
      cur[end] = next[end];
      for (std::size_t j = end; j-- > 0;) {
        cur[j] = static_cast<char>(next[j] != 0 || cur[j + 1] != 0);
      }
    } else {
      cur[end] = 0;
      for (std::size_t j = 0; j < end; ++j) {
        cur[j] = static_cast<char>(next[j + 1] != 0 && globMatch(pat[i], path[j]));
      }
    }
    only_globstars_after = only_globstars_after && globstar;
    std::swap(cur, next);
  }
  return next[0] != 0;
}

// Strips trailing unescaped spaces (gitignore: "Trailing spaces are ignored unless they are
// quoted with backslash").
std::string_view trimTrailingSpaces(std::string_view line) {
  while (!line.empty() && line.back() == ' ') {
    std::size_t backslashes = 0;
    for (std::size_t i = line.size() - 1; i > 0 && line[i - 1] == '\\'; --i) {
      ++backslashes;
    }
    if (backslashes % 2 == 1) {
      break;  // escaped space stays
    }
    line.remove_suffix(1);
  }
  return line;
}

std::optional<PepeIgnore::Rule> parseLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  line = trimTrailingSpaces(line);
  if (line.empty() || line.front() == '#') {
    return std::nullopt;
  }
  PepeIgnore::Rule rule;
  if (line.front() == '!') {
    rule.negated = true;
    line.remove_prefix(1);
  } else if (line.size() >= 2 && line[0] == '\\' && (line[1] == '!' || line[1] == '#')) {
    line.remove_prefix(1);  // the escaped character is a literal first character
  }
  if (!line.empty() && line.back() == '/') {
    rule.dir_only = true;
    while (!line.empty() && line.back() == '/') {
      line.remove_suffix(1);
    }
  }
  // A slash at the start or in the middle anchors the pattern at the root.
  const bool anchored = line.find('/') != std::string_view::npos;
  while (!line.empty() && line.front() == '/') {
    line.remove_prefix(1);
  }
  if (line.empty()) {
    return std::nullopt;
  }
  std::size_t start = 0;
  while (start <= line.size()) {
    const auto slash = line.find('/', start);
    const auto piece =
        line.substr(start, slash == std::string_view::npos ? line.npos : slash - start);
    if (!piece.empty()) {
      rule.segments.emplace_back(piece);
    }
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  if (rule.segments.empty()) {
    return std::nullopt;
  }
  if (rule.segments.size() > 1 && rule.segments.back() == "**") {
    rule.match_trailing_globstar_nonempty = true;
  }
  if (!anchored && rule.segments.front() != "**") {
    rule.segments.insert(rule.segments.begin(), "**");
  }
  return rule;
}

std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto piece =
        path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    if (!piece.empty() && piece != ".") {
      parts.push_back(piece);
    }
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  return parts;
}

bool ruleMatchesFile(const PepeIgnore::Rule& rule, const std::vector<std::string_view>& path) {
  // The file itself (not for directory-only rules)...
  if (!rule.dir_only &&
      matchSegments(rule.segments, path, path.size(), rule.match_trailing_globstar_nonempty)) {
    return true;
  }
  // ...or any directory above it.
  for (std::size_t depth = 1; depth < path.size(); ++depth) {
    if (matchSegments(rule.segments, path, depth, rule.match_trailing_globstar_nonempty)) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool matchSegment(std::string_view pattern, std::string_view name) {
  return globMatch(pattern, name);
}

PepeIgnore PepeIgnore::parse(std::string_view text) {
  PepeIgnore result;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    if (auto rule = parseLine(text.substr(start, end - start))) {
      result.rules_.push_back(std::move(*rule));
    }
    start = end + 1;
  }
  return result;
}

bool PepeIgnore::matchesFile(std::string_view relative_path) const {
  const auto path = splitPath(relative_path);
  if (path.empty()) {
    return false;
  }
  bool ignored = false;
  for (const auto& rule : rules_) {
    // Only a rule that could flip the current decision needs evaluating.
    if (rule.negated == ignored && ruleMatchesFile(rule, path)) {
      ignored = !rule.negated;
    }
  }
  return ignored;
}

std::vector<std::string> applyPepeIgnore(const std::filesystem::path& root) {
  std::error_code ec;
  const auto ignore_path = root / ".pepeignore";
  const auto status = fs::symlink_status(ignore_path, ec);
  // Only a regular file counts: a symlinked .pepeignore could point anywhere on the host.
  if (ec || !fs::is_regular_file(status)) {
    return {};
  }
  std::ifstream in(ignore_path, std::ios::binary);
  if (!in) {
    throw Error(ErrorKind::kInternal, "Cannot read .pepeignore",
                "cannot open " + ignore_path.string());
  }
  // A .pepeignore is a few lines; cap what we read so a hostile one cannot exhaust memory.
  constexpr std::size_t kMaxPepeIgnoreBytes = 1 << 20;
  std::string text(kMaxPepeIgnoreBytes, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  const auto ignore = PepeIgnore::parse(text);

  std::vector<std::string> removed;
  std::vector<fs::path> to_remove;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec);
  if (ec) {
    throw Error(ErrorKind::kInternal, "Cannot read the firmware tree",
                "cannot list " + root.string() + ": " + ec.message());
  }
  for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    if (ec) {
      throw Error(ErrorKind::kInternal, "Cannot read the firmware tree",
                  "cannot list " + root.string() + ": " + ec.message());
    }
    const auto entry_status = it->symlink_status(ec);
    if (ec) {
      continue;
    }
    if (fs::is_directory(entry_status)) {
      continue;  // the iterator does not follow directory symlinks (no follow_directory_symlink)
    }
    const auto relative = it->path().lexically_relative(root).generic_string();
    if (ignore.matchesFile(relative)) {
      to_remove.push_back(it->path());
      removed.push_back(relative);
    }
  }
  for (const auto& path : to_remove) {
    if (!fs::remove(path, ec) && ec) {
      throw Error(ErrorKind::kInternal, "Cannot clean the firmware tree",
                  "cannot remove " + path.string() + ": " + ec.message());
    }
  }
  std::sort(removed.begin(), removed.end());
  return removed;
}

}  // namespace pepeunit::firmware
