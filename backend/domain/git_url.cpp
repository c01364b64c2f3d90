// repo_url rules: a small hand-written parser, because every accepted byte is later read by
// libgit2 (and shown to users) and a general URL library would accept far more than we want.
#include "domain/git_url.hpp"

#include <vector>

namespace pepeunit::domain {
namespace {

constexpr std::string_view kHttp = "http://";
constexpr std::string_view kHttps = "https://";
constexpr std::string_view kFile = "file://";
constexpr std::string_view kGitSuffix = ".git";

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool isHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return c - 'A' + 10;
}

// RFC 3986 `pchar` minus `%` (handled separately): unreserved / sub-delims / ":" / "@".
bool isPathChar(char c) {
  if (isAlnum(c)) {
    return true;
  }
  switch (c) {
    case '-':
    case '.':
    case '_':
    case '~':
    case '!':
    case '$':
    case '&':
    case '\'':
    case '(':
    case ')':
    case '*':
    case '+':
    case ',':
    case ';':
    case '=':
    case ':':
    case '@':
      return true;
    default:
      return false;
  }
}

std::vector<std::string_view> splitSegments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = path.find('/', start);
    out.push_back(path.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) {
      return out;
    }
    start = slash + 1;
  }
}

// Percent-decodes one http(s) path segment; nullopt on a malformed escape. The decoded form is
// what a server sees, so `%2e%2e` must be judged like `..`.
std::optional<std::string> decodeSegment(std::string_view segment) {
  std::string out;
  out.reserve(segment.size());
  for (std::size_t i = 0; i < segment.size(); ++i) {
    const char c = segment[i];
    if (c == '%') {
      if (i + 2 >= segment.size() || !isHexDigit(segment[i + 1]) || !isHexDigit(segment[i + 2])) {
        return std::nullopt;
      }
      out.push_back(static_cast<char>(hexValue(segment[i + 1]) * 16 + hexValue(segment[i + 2])));
      i += 2;
    } else if (isPathChar(c)) {
      out.push_back(c);
    } else {
      return std::nullopt;
    }
  }
  return out;
}

// Shared segment rules; `segment` is already decoded for http(s).
std::optional<std::string> checkSegment(std::string_view segment) {
  if (segment.empty()) {
    return "repo_url path must not contain empty segments";
  }
  if (segment == "." || segment == "..") {
    return "repo_url path must not contain '.' or '..' segments";
  }
  if (segment.front() == '-') {
    return "repo_url path segments must not start with '-'";
  }
  for (const char c : segment) {
    const auto byte = static_cast<unsigned char>(c);
    // Bytes >= 0x80 only reach here percent-encoded (UTF-8 names), which servers accept.
    if (byte <= 0x20 || byte == 0x7f || c == '/' || c == '\\') {
      return "repo_url path contains a forbidden character";
    }
  }
  return std::nullopt;
}

std::optional<std::string> checkGitSuffix(std::string_view last_segment) {
  if (last_segment.size() <= kGitSuffix.size() || !last_segment.ends_with(kGitSuffix)) {
    return "repo_url must end with .git";
  }
  return std::nullopt;
}

std::optional<std::string> checkHttpPath(std::string_view path) {
  if (path.find_first_of("?#") != std::string_view::npos) {
    return "repo_url must not contain a query or fragment";
  }
  if (path.empty() || path.front() != '/') {
    return "repo_url must have a path ending with .git";
  }
  const auto segments = splitSegments(path.substr(1));
  for (const auto raw : segments) {
    const auto decoded = decodeSegment(raw);
    if (!decoded) {
      return "repo_url path contains a forbidden character";
    }
    if (auto error = checkSegment(*decoded)) {
      return error;
    }
  }
  return checkGitSuffix(segments.back());
}

std::optional<std::string> checkLocalPath(std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return "Local repository paths must be absolute";
  }
  // file:// URLs are percent-decoded by libgit2; refusing '%' keeps what we check equal to what
  // is opened.
  if (path.find_first_of("%?#") != std::string_view::npos) {
    return "Local repository paths must not contain '%', '?' or '#'";
  }
  const auto segments = splitSegments(path.substr(1));
  for (const auto segment : segments) {
    if (auto error = checkSegment(segment)) {
      return error;
    }
  }
  // `/srv/unit/.git`: the git directory of a working copy.
  if (segments.size() >= 2 && segments.back() == kGitSuffix) {
    return std::nullopt;
  }
  return checkGitSuffix(segments.back());
}

std::optional<std::string> checkHostLabel(std::string_view label) {
  if (label.empty() || label.front() == '-' || label.back() == '-') {
    return "repo_url has an invalid host";
  }
  for (const char c : label) {
    if (!isAlnum(c) && c != '-' && c != '_') {
      return "repo_url has an invalid host";
    }
  }
  return std::nullopt;
}

std::optional<std::string> checkPort(std::string_view port) {
  if (port.empty() || port.size() > 5) {
    return "repo_url has an invalid port";
  }
  int value = 0;
  for (const char c : port) {
    if (c < '0' || c > '9') {
      return "repo_url has an invalid port";
    }
    value = value * 10 + (c - '0');
  }
  if (value < 1 || value > 65535) {
    return "repo_url has an invalid port";
  }
  return std::nullopt;
}

std::optional<std::string> checkAuthority(std::string_view authority) {
  if (authority.find('@') != std::string_view::npos) {
    return "repo_url must not contain credentials; set them as the repository credentials";
  }
  if (authority.empty()) {
    return "repo_url must have a host";
  }
  std::string_view host = authority;
  std::string_view port;
  bool has_port = false;
  if (authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1) {
      return "repo_url has an invalid host";
    }
    for (const char c : authority.substr(1, close - 1)) {
      if (!isHexDigit(c) && c != ':' && c != '.') {
        return "repo_url has an invalid host";
      }
    }
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return "repo_url has an invalid host";
      }
      has_port = true;
      port = rest.substr(1);
    }
  } else {
    const std::size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      has_port = true;
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
    if (host.empty()) {
      return "repo_url must have a host";
    }
    std::size_t start = 0;
    while (true) {
      const std::size_t dot = host.find('.', start);
      const auto label = host.substr(start, dot == std::string_view::npos ? dot : dot - start);
      if (auto error = checkHostLabel(label)) {
        return error;
      }
      if (dot == std::string_view::npos) {
        break;
      }
      start = dot + 1;
    }
  }
  if (has_port) {
    return checkPort(port);
  }
  return std::nullopt;
}

}  // namespace

bool isLocalRepoUrl(std::string_view url) {
  return url.starts_with(kFile) || url.starts_with('/');
}

std::optional<std::string> validateRepoUrl(std::string_view url, bool allow_local) {
  if (url.empty()) {
    return "repo_url must not be empty";
  }
  if (url.size() > kRepoUrlMaxLength) {
    return "repo_url is too long";
  }
  for (const char c : url) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) {
      return "repo_url must be printable ASCII without whitespace";
    }
  }
  if (url.front() == '-') {
    return "repo_url must not start with '-'";
  }
  for (const auto scheme : {kHttp, kHttps}) {
    if (url.starts_with(scheme)) {
      const std::string_view rest = url.substr(scheme.size());
      const std::size_t slash = rest.find('/');
      const std::string_view authority = rest.substr(0, slash);
      // A '?' or '#' before the first '/' would end the authority for a URL parser.
      if (authority.find_first_of("?#") != std::string_view::npos) {
        return "repo_url must not contain a query or fragment";
      }
      if (auto error = checkAuthority(authority)) {
        return error;
      }
      if (slash == std::string_view::npos) {
        return "repo_url must have a path ending with .git";
      }
      return checkHttpPath(rest.substr(slash));
    }
  }
  if (isLocalRepoUrl(url)) {
    if (!allow_local) {
      return "Local repositories are not allowed (BACKEND_ALLOW_LOCAL_REPOS is off)";
    }
    if (url.starts_with(kFile)) {
      const std::string_view path = url.substr(kFile.size());
      if (path.empty() || path.front() != '/') {
        return "file:// URLs must have an empty host (file:///absolute/path.git)";
      }
      return checkLocalPath(path);
    }
    return checkLocalPath(url);
  }
  return "repo_url must start with http:// or https://";
}

}  // namespace pepeunit::domain
