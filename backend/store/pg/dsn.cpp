// A small libpq connection-string scanner: just enough to find the password and the
// connect_timeout parameter in either form, following libpq's own parsing rules.
#include "store/pg/dsn.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace pepeunit::store::pg {
namespace {

constexpr std::string_view kRedacted = "***";

// One parameter found in the DSN: its name, the raw text span of its value and the value as
// libpq understands it (percent-decoded or unquoted).
struct Param {
  std::string key;
  std::size_t value_begin = 0;
  std::size_t value_end = 0;
  std::string value;
};

bool isUrl(std::string_view dsn) {
  return dsn.starts_with("postgresql://") || dsn.starts_with("postgres://");
}

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

// Malformed escapes are kept verbatim: libpq rejects them anyway, and the raw text is what its
// error message would echo.
std::string percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int hi = hexValue(text[i + 1]);
      const int lo = hexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::vector<Param> urlParams(std::string_view dsn) {
  std::vector<Param> params;
  const std::size_t authority = dsn.find("://") + 3;
  // libpq: user info ends at the first '@' met before any '/'.
  std::size_t p = authority;
  while (p < dsn.size() && dsn[p] != '@' && dsn[p] != '/') {
    ++p;
  }
  if (p < dsn.size() && dsn[p] == '@') {
    const std::size_t colon = dsn.find(':', authority);
    if (colon < p) {
      params.push_back(
          {"password", colon + 1, p, percentDecode(dsn.substr(colon + 1, p - colon - 1))});
    }
  }
  const std::size_t query = dsn.find('?', authority);
  if (query == std::string_view::npos) {
    return params;
  }
  std::size_t begin = query + 1;
  while (begin <= dsn.size()) {
    std::size_t end = dsn.find('&', begin);
    if (end == std::string_view::npos) {
      end = dsn.size();
    }
    const std::string_view pair = dsn.substr(begin, end - begin);
    if (const std::size_t eq = pair.find('='); eq != std::string_view::npos) {
      params.push_back({percentDecode(pair.substr(0, eq)), begin + eq + 1, end,
                        percentDecode(pair.substr(eq + 1))});
    }
    begin = end + 1;
  }
  return params;
}

std::vector<Param> keywordParams(std::string_view dsn) {
  std::vector<Param> params;
  const auto space = [&](std::size_t i) {
    return i < dsn.size() && std::isspace(static_cast<unsigned char>(dsn[i]));
  };
  std::size_t i = 0;
  while (true) {
    while (space(i)) {
      ++i;
    }
    if (i >= dsn.size()) {
      break;
    }
    Param param;
    while (i < dsn.size() && dsn[i] != '=' && !space(i)) {
      param.key.push_back(dsn[i++]);
    }
    while (space(i)) {
      ++i;
    }
    if (i >= dsn.size() || dsn[i] != '=') {
      break;  // malformed; libpq reports it
    }
    ++i;
    while (space(i)) {
      ++i;
    }
    param.value_begin = i;
    const bool quoted = i < dsn.size() && dsn[i] == '\'';
    if (quoted) {
      ++i;
    }
    while (i < dsn.size()) {
      if (quoted ? dsn[i] == '\'' : space(i)) {
        break;
      }
      if (dsn[i] == '\\' && i + 1 < dsn.size()) {
        ++i;
      }
      param.value.push_back(dsn[i++]);
    }
    if (quoted && i < dsn.size()) {
      ++i;  // closing quote
    }
    param.value_end = i;
    params.push_back(std::move(param));
  }
  return params;
}

std::vector<Param> params(std::string_view dsn) {
  return isUrl(dsn) ? urlParams(dsn) : keywordParams(dsn);
}

void replaceAll(std::string& text, std::string_view needle) {
  if (needle.empty()) {
    return;
  }
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + kRedacted.size())) {
    text.replace(at, needle.size(), kRedacted);
  }
}

}  // namespace

std::string withDefaultConnectTimeout(const std::string& dsn, int seconds) {
  const auto all = params(dsn);
  if (std::any_of(all.begin(), all.end(),
                  [](const Param& p) { return p.key == "connect_timeout"; })) {
    return dsn;
  }
  const std::string setting = "connect_timeout=" + std::to_string(seconds);
  if (isUrl(dsn)) {
    const std::size_t authority = dsn.find("://") + 3;
    if (dsn.find('?', authority) == std::string::npos) {
      return dsn + "?" + setting;
    }
    return dsn.back() == '?' || dsn.back() == '&' ? dsn + setting : dsn + "&" + setting;
  }
  const bool blank =
      std::all_of(dsn.begin(), dsn.end(), [](unsigned char c) { return std::isspace(c) != 0; });
  return blank ? setting : dsn + " " + setting;
}

std::optional<std::string> dsnPassword(std::string_view dsn) {
  std::optional<std::string> password;
  for (const auto& p : params(dsn)) {
    if (p.key == "password") {
      password = p.value;  // the last one wins, as in libpq
    }
  }
  return password;
}

std::string redactDsn(std::string_view dsn) {
  std::string out(dsn);
  auto all = params(dsn);
  // Replace from the end so earlier offsets stay valid.
  std::sort(all.begin(), all.end(),
            [](const Param& a, const Param& b) { return a.value_begin > b.value_begin; });
  for (const auto& p : all) {
    if (p.key == "password" && p.value_end > p.value_begin) {
      out.replace(p.value_begin, p.value_end - p.value_begin, kRedacted);
    }
  }
  return out;
}

std::string scrubPassword(std::string message, std::string_view dsn) {
  for (const auto& p : params(dsn)) {
    if (p.key != "password") {
      continue;
    }
    // Longest first, so a decoded form that is a prefix of the raw one cannot leave a tail.
    std::string raw(dsn.substr(p.value_begin, p.value_end - p.value_begin));
    if (raw.size() >= p.value.size()) {
      replaceAll(message, raw);
      replaceAll(message, p.value);
    } else {
      replaceAll(message, p.value);
      replaceAll(message, raw);
    }
  }
  return message;
}

}  // namespace pepeunit::store::pg
