// MQTT matching, filter containment/intersection and the Pepeunit topic grammar. The matchers
// walk both strings level by level without allocating: they run on every broker ACL check.
#include "domain/topic.hpp"

namespace pepeunit::domain {
namespace {

constexpr std::string_view kInputBase = "input_base_topic";
constexpr std::string_view kOutputBase = "output_base_topic";
constexpr std::string_view kSuffix = "pepeunit";

/// Walks the `/`-separated levels of a string. A string with k slashes has k + 1 levels.
class Levels {
 public:
  explicit Levels(std::string_view text) : text_(text) {}

  bool done() const { return pos_ == std::string_view::npos; }

  /// The next level; only call while !done().
  std::string_view next() {
    const auto slash = text_.find('/', pos_);
    std::string_view level;
    if (slash == std::string_view::npos) {
      level = text_.substr(pos_);
      pos_ = std::string_view::npos;
    } else {
      level = text_.substr(pos_, slash - pos_);
      pos_ = slash + 1;
    }
    return level;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

bool isWildcardLevel(std::string_view level) {
  return level == "+" || level == "#";
}

std::string_view firstLevel(std::string_view text) {
  return text.substr(0, text.find('/'));
}

bool startsWithDollar(std::string_view level) {
  return !level.empty() && level.front() == '$';
}

/// `filter`'s first level is a wildcard and `other`'s first level is a `$...` literal: the
/// wildcard can never stand for it (MQTT §4.7.2).
bool wildcardMeetsDollar(std::string_view filter, std::string_view other) {
  return isWildcardLevel(firstLevel(filter)) && startsWithDollar(firstLevel(other));
}

}  // namespace

std::vector<std::string_view> splitTopicLevels(std::string_view topic) {
  std::vector<std::string_view> levels;
  Levels walker(topic);
  while (!walker.done()) {
    levels.push_back(walker.next());
  }
  return levels;
}

bool isValidMqttTopic(std::string_view topic) {
  if (topic.empty() || topic.size() > kMaxMqttTopicLength) {
    return false;
  }
  for (const char c : topic) {
    if (c == '+' || c == '#' || c == '\0') {
      return false;
    }
  }
  return true;
}

bool isValidMqttFilter(std::string_view filter) {
  if (filter.empty() || filter.size() > kMaxMqttTopicLength) {
    return false;
  }
  for (std::size_t i = 0; i < filter.size(); ++i) {
    const char c = filter[i];
    if (c == '\0') {
      return false;
    }
    if (c == '+' || c == '#') {
      const bool starts_level = i == 0 || filter[i - 1] == '/';
      const bool ends_level = i + 1 == filter.size() || filter[i + 1] == '/';
      if (!starts_level || !ends_level) {
        return false;
      }
      if (c == '#' && i + 1 != filter.size()) {
        return false;
      }
    }
  }
  return true;
}

bool topicMatchesFilter(std::string_view topic, std::string_view filter) {
  if (!isValidMqttTopic(topic) || !isValidMqttFilter(filter)) {
    return false;
  }
  if (wildcardMeetsDollar(filter, topic)) {
    return false;
  }
  Levels t(topic);
  Levels f(filter);
  while (true) {
    if (f.done()) {
      return t.done();
    }
    const auto filter_level = f.next();
    if (filter_level == "#") {
      return true;  // also matches the parent level: `a/#` matches `a`
    }
    if (t.done()) {
      return false;
    }
    const auto topic_level = t.next();
    if (filter_level != "+" && filter_level != topic_level) {
      return false;
    }
  }
}

bool filterContains(std::string_view allowed, std::string_view requested) {
  if (!isValidMqttFilter(allowed) || !isValidMqttFilter(requested)) {
    return false;
  }
  if (wildcardMeetsDollar(allowed, requested)) {
    return false;
  }
  Levels r(allowed);
  Levels f(requested);
  while (true) {
    if (r.done()) {
      return f.done();
    }
    const auto rule_level = r.next();
    if (rule_level == "#") {
      return true;
    }
    if (f.done()) {
      return false;  // `requested` matches its parent level; `allowed` needs more levels
    }
    const auto requested_level = f.next();
    if (requested_level == "#") {
      return false;  // only `#` contains `#`
    }
    if (rule_level == "+") {
      continue;  // contains a literal or `+`
    }
    if (requested_level != rule_level) {
      return false;  // a literal contains only itself (not `+`)
    }
  }
}

bool filtersIntersect(std::string_view a, std::string_view b) {
  if (!isValidMqttFilter(a) || !isValidMqttFilter(b)) {
    return false;
  }
  if (wildcardMeetsDollar(a, b) || wildcardMeetsDollar(b, a)) {
    return false;
  }
  Levels x(a);
  Levels y(b);
  while (true) {
    if (x.done() || y.done()) {
      // The common prefix is a topic of both iff the longer one goes on with just `#`.
      Levels& rest = x.done() ? y : x;
      return rest.done() || rest.next() == "#";
    }
    const auto xl = x.next();
    const auto yl = y.next();
    if (xl == "#" || yl == "#") {
      return true;
    }
    if (xl != "+" && yl != "+" && xl != yl) {
      return false;
    }
  }
}

std::optional<std::string_view> stripSharePrefix(std::string_view filter) {
  constexpr std::string_view kShare = "$share/";
  if (filter.substr(0, kShare.size()) != kShare) {
    if (filter == "$share") {
      return std::nullopt;
    }
    return filter;
  }
  const auto rest = filter.substr(kShare.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) {
    return std::nullopt;
  }
  const auto group = rest.substr(0, slash);
  if (group.find_first_of("+#") != std::string_view::npos) {
    return std::nullopt;
  }
  const auto inner = rest.substr(slash + 1);
  if (inner.empty()) {
    return std::nullopt;
  }
  return inner;
}

PepeunitTopic parsePepeunitTopic(std::string_view topic, std::string_view domain) {
  if (!isValidMqttTopic(topic)) {
    return std::monostate{};
  }
  std::string_view levels[6];
  std::size_t count = 0;
  Levels walker(topic);
  while (!walker.done()) {
    if (count == 6) {
      return std::monostate{};
    }
    levels[count++] = walker.next();
  }
  if (levels[0] != domain) {
    return std::monostate{};
  }
  if (count == 5) {
    BaseTopic base;
    if (levels[1] == kInputBase) {
      base.destination = BaseTopicDestination::kInput;
    } else if (levels[1] == kOutputBase) {
      base.destination = BaseTopicDestination::kOutput;
    } else {
      return std::monostate{};
    }
    const auto unit = Uuid::parse(levels[2]);
    if (!unit || levels[3].empty() || levels[4] != kSuffix) {
      return std::monostate{};
    }
    base.unit = *unit;
    base.name = levels[3];
    return base;
  }
  if (count == 2 || count == 3) {
    const auto node = Uuid::parse(levels[1]);
    if (!node || (count == 3 && levels[2] != kSuffix)) {
      return std::monostate{};
    }
    return NodeTopic{*node, count == 3};
  }
  return std::monostate{};
}

}  // namespace pepeunit::domain
