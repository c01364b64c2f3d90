// Pure ingest decisions; see ingest_rules.hpp for the rules themselves.
#include "service/ingest_rules.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

namespace pepeunit::service::ingest {
namespace {

constexpr std::string_view kSuffix = "pepeunit";

std::vector<std::string_view> split(std::string_view topic) {
  std::vector<std::string_view> levels;
  std::size_t start = 0;
  while (true) {
    const auto slash = topic.find('/', start);
    if (slash == std::string_view::npos) {
      levels.push_back(topic.substr(start));
      return levels;
    }
    levels.push_back(topic.substr(start, slash - start));
    start = slash + 1;
  }
}

nlohmann::json floatOrNull(const nlohmann::json& v) {
  if (v.is_number())
    return v.get<double>();
  return nullptr;
}

nlohmann::json listOrEmpty(const nlohmann::json& v) {
  if (v.is_array())
    return v;
  return nlohmann::json::array();
}

std::optional<std::string> capitalizedLevel(std::string_view level) {
  static constexpr std::array<std::string_view, 5> kLevels = {"Debug", "Info", "Warning", "Error",
                                                              "Critical"};
  for (const auto candidate : kLevels) {
    if (candidate.size() != level.size())
      continue;
    bool same = true;
    for (std::size_t i = 0; i < level.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(candidate[i])) ==
             std::tolower(static_cast<unsigned char>(level[i]));
    }
    if (same)
      return std::string(candidate);
  }
  return std::nullopt;
}

bool digits(std::string_view text, std::size_t pos, std::size_t count, int& out) {
  if (pos + count > text.size())
    return false;
  out = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9')
      return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

// Entries longer than this are cut: the UI shows ~256 chars and devices cap at PU_MAX_LOG_LENGTH.
constexpr std::size_t kMaxLogText = 4096;

}  // namespace

std::string_view dropReasonName(DropReason reason) {
  static constexpr std::array<std::string_view, kDropReasonCount> kNames = {
      "oversize",    "invalid_utf8",   "bad_topic",   "wrong_domain",    "wrong_destination",
      "own_command", "unknown_node",   "bad_state",   "state_too_early", "unknown_unit",
      "bad_log",     "queue_overflow", "write_failed"};
  const auto i = static_cast<std::size_t>(reason);
  return i < kNames.size() ? kNames[i] : "unknown";
}

IngestTopic parseIngestTopic(std::string_view topic, std::string_view domain) {
  const auto levels = split(topic);
  if (levels.size() != 3 && levels.size() != 5)
    return DropReason::kBadTopic;
  if (levels.back() != kSuffix)
    return DropReason::kBadTopic;
  if (levels.front() != domain)
    return DropReason::kWrongDomain;
  if (levels.size() == 3) {
    const auto node = domain::Uuid::parse(levels[1]);
    if (!node)
      return DropReason::kBadTopic;
    return ValueTopic{*node};
  }
  if (levels[1] == "input_base_topic")
    return DropReason::kOwnCommand;
  if (levels[1] != "output_base_topic")
    return DropReason::kWrongDestination;
  const auto unit = domain::Uuid::parse(levels[2]);
  if (!unit)
    return DropReason::kBadTopic;
  if (levels[3] == "state")
    return StateTopic{*unit};
  if (levels[3] == "log")
    return LogTopic{*unit};
  return DropReason::kWrongDestination;
}

bool isStorableText(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      if (c == 0)
        return false;
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n)
      return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

std::optional<double> parseNumeric(std::string_view text) {
  if (text.empty() || text.size() > 64)
    return std::nullopt;
  const char first = text.front();
  if (!(first == '-' || first == '+' || first == '.' || (first >= '0' && first <= '9'))) {
    return std::nullopt;
  }
  if (first == '+')
    text.remove_prefix(1);
  double value = 0;
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value, std::chars_format::general);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<HistoryPolicy> parseHistoryPolicy(std::string_view text) {
  if (text == "off")
    return HistoryPolicy::kOff;
  if (text == "changes")
    return HistoryPolicy::kChanges;
  if (text == "all")
    return HistoryPolicy::kAll;
  return std::nullopt;
}

ValueDecision decideValue(NodeMemory& memory, std::string_view value, std::optional<double> numeric,
                          store::Timestamp at) {
  ValueDecision d;
  d.update_last = !memory.last_value || *memory.last_value != value;
  switch (memory.policy) {
    case HistoryPolicy::kOff:
      break;
    case HistoryPolicy::kAll:
      d.write_history = true;
      break;
    case HistoryPolicy::kChanges:
      if (d.update_last) {
        d.write_history = !(memory.deadband && numeric && memory.last_history_numeric &&
                            std::fabs(*numeric - *memory.last_history_numeric) < *memory.deadband);
      }
      break;
  }
  if (d.update_last) {
    memory.last_value = std::string(value);
    memory.last_at = at;
  }
  if (d.write_history)
    memory.last_history_numeric = numeric;
  return d;
}

std::optional<FilteredState> filterState(std::string_view payload) {
  const auto parsed = nlohmann::json::parse(payload, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return std::nullopt;
  const auto get = [&](const char* key) {
    const auto it = parsed.find(key);
    return it == parsed.end() ? nlohmann::json() : *it;
  };
  FilteredState out;
  const auto pu = get("pu_commit_version");
  const auto old = get("commit_version");
  if (pu.is_string()) {
    out.version = pu.get<std::string>();
  } else if (old.is_string()) {
    out.version = old.get<std::string>();
  }
  nlohmann::ordered_json dict;
  dict["ifconfig"] = listOrEmpty(get("ifconfig"));
  dict["millis"] = floatOrNull(get("millis"));
  dict["mem_free"] = floatOrNull(get("mem_free"));
  dict["mem_alloc"] = floatOrNull(get("mem_alloc"));
  dict["freq"] = floatOrNull(get("freq"));
  dict["statvfs"] = listOrEmpty(get("statvfs"));
  dict["commit_version"] = out.version ? nlohmann::json(*out.version) : nlohmann::json();
  if (parsed.contains("pu_commit_version")) {
    dict["pu_commit_version"] = pu.is_string() ? pu : nlohmann::json();
  }
  out.json = dict.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return out;
}

bool StateThrottle::admit(const domain::Uuid& unit, const std::optional<std::string>& version,
                          store::Timestamp now) {
  auto [it, inserted] = last_.try_emplace(unit);
  if (!inserted) {
    const auto tolerance =
        std::min<std::chrono::milliseconds>(interval_ / 10, std::chrono::seconds(1));
    const bool early = now - it->second.at < interval_ - tolerance;
    if (early && version == it->second.version)
      return false;
  }
  it->second.at = now;
  it->second.version = version;
  return true;
}

std::string updateTimeoutError(std::int64_t interval_s) {
  return "11: Update Error: Device firmware update time is twice as fast as " +
         std::to_string(interval_s) + "s times";
}

std::optional<store::UpdateStatusChange> advanceUpdateStatus(
    const store::UpdateStatusView& current, const std::optional<std::string>& reported,
    store::Timestamp now, std::chrono::seconds interval) {
  if (current.status != "RequestSent")
    return std::nullopt;
  if (reported && current.target && *reported == *current.target) {
    return store::UpdateStatusChange{"Success", std::nullopt};
  }
  if (current.requested_at && now - *current.requested_at > 2 * interval) {
    return store::UpdateStatusChange{"Error", updateTimeoutError(interval.count())};
  }
  return std::nullopt;
}

std::optional<store::Timestamp> parseIsoTimestamp(std::string_view t) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!digits(t, 0, 4, y) || t.size() < 19 || t[4] != '-' || !digits(t, 5, 2, mo) || t[7] != '-' ||
      !digits(t, 8, 2, d) || (t[10] != 'T' && t[10] != ' ') || !digits(t, 11, 2, h) ||
      t[13] != ':' || !digits(t, 14, 2, mi) || t[16] != ':' || !digits(t, 17, 2, s)) {
    return std::nullopt;
  }
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(mo),
                                        std::chrono::day(d)};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60)
    return std::nullopt;
  std::size_t pos = 19;
  std::int64_t micros = 0;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    int n = 0;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      if (n < 6) {
        micros = micros * 10 + (t[pos] - '0');
        ++n;
      }
      ++pos;
    }
    if (n == 0)
      return std::nullopt;
    for (; n < 6; ++n)
      micros *= 10;
  }
  std::chrono::minutes offset{0};
  if (pos < t.size()) {
    if (t[pos] == 'Z' && pos + 1 == t.size()) {
      pos = t.size();
    } else if ((t[pos] == '+' || t[pos] == '-') && t.size() == pos + 6 && t[pos + 3] == ':') {
      int oh = 0, om = 0;
      if (!digits(t, pos + 1, 2, oh) || !digits(t, pos + 4, 2, om))
        return std::nullopt;
      offset = std::chrono::hours(oh) + std::chrono::minutes(om);
      if (t[pos] == '-')
        offset = -offset;
      pos = t.size();
    } else {
      return std::nullopt;
    }
  }
  const auto local = std::chrono::sys_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(mi) +
                     std::chrono::seconds(s) + std::chrono::microseconds(micros);
  return std::chrono::time_point_cast<std::chrono::microseconds>(local - offset);
}

std::optional<ParsedLogs> parseLogs(std::string_view payload, store::Timestamp now) {
  const auto parsed = nlohmann::json::parse(payload, nullptr, false);
  if (parsed.is_discarded() || (!parsed.is_object() && !parsed.is_array()))
    return std::nullopt;
  ParsedLogs out;
  const auto read = [&](const nlohmann::json& entry, std::size_t index) {
    if (!entry.is_object()) {
      ++out.skipped;
      return;
    }
    const auto level_it = entry.find("level");
    auto text_it = entry.find("text");
    if (text_it == entry.end())
      text_it = entry.find("message");
    if (level_it == entry.end() || !level_it->is_string() || text_it == entry.end()) {
      ++out.skipped;
      return;
    }
    const auto level = capitalizedLevel(level_it->get_ref<const std::string&>());
    if (!level) {
      ++out.skipped;
      return;
    }
    ParsedLog log;
    log.level = *level;
    log.text = text_it->is_string()
                   ? text_it->get<std::string>()
                   : text_it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (log.text.size() > kMaxLogText)
      log.text.resize(kMaxLogText);
    log.create_datetime = now + std::chrono::seconds(index);
    if (const auto t = entry.find("create_datetime"); t != entry.end() && !t->is_null()) {
      if (t->is_number_integer() || t->is_number_unsigned()) {
        log.create_datetime = store::Timestamp(std::chrono::milliseconds(t->get<std::int64_t>()));
      } else if (t->is_number_float()) {
        log.create_datetime = store::Timestamp(
            std::chrono::milliseconds(static_cast<std::int64_t>(t->get<double>())));
      } else if (const auto iso =
                     t->is_string() ? parseIsoTimestamp(t->get<std::string>()) : std::nullopt) {
        log.create_datetime = *iso;
      } else {
        ++out.skipped;
        return;
      }
    }
    out.entries.push_back(std::move(log));
  };
  if (parsed.is_object()) {
    read(parsed, 0);
  } else {
    for (std::size_t i = 0; i < parsed.size(); ++i)
      read(parsed[i], i);
  }
  return out;
}

}  // namespace pepeunit::service::ingest
