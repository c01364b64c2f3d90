// Topic matching, filter containment/intersection, $share stripping and the Pepeunit grammar.
// The matcher is compared with libmosquitto's own (`mosquitto_topic_matches_sub`, the broker's
// reference) over every topic/filter of a small alphabet; containment and intersection are
// compared with brute force over the same topics.
#include "domain/topic.hpp"

#include <doctest/doctest.h>
#include <mosquitto.h>

#include <random>
#include <string>
#include <variant>
#include <vector>

namespace pd = pepeunit::domain;

namespace {

bool oracleMatches(const std::string& topic, const std::string& filter) {
  bool result = false;
  REQUIRE(mosquitto_topic_matches_sub(filter.c_str(), topic.c_str(), &result) == MOSQ_ERR_SUCCESS);
  return result;
}

/// Every string of 1..max_levels levels drawn from `alphabet`, joined with '/'.
std::vector<std::string> enumerate(const std::vector<std::string>& alphabet, int max_levels) {
  std::vector<std::string> out;
  std::vector<std::string> previous = {""};
  for (int levels = 1; levels <= max_levels; ++levels) {
    std::vector<std::string> next;
    for (const auto& prefix : previous) {
      for (const auto& level : alphabet) {
        next.push_back(levels == 1 ? level : prefix + "/" + level);
      }
    }
    for (const auto& s : next) {
      if (!s.empty()) {  // "" is neither a topic nor a filter
        out.push_back(s);
      }
    }
    previous = std::move(next);
  }
  return out;
}

std::vector<std::string> validFilters(int max_levels) {
  std::vector<std::string> out;
  for (const auto& f : enumerate({"a", "b", "", "+", "#", "$s"}, max_levels)) {
    if (mosquitto_sub_topic_check(f.c_str()) == MOSQ_ERR_SUCCESS) {
      out.push_back(f);
    }
  }
  return out;
}

// Topics one level longer than the longest filter, with a symbol ("z") no filter mentions, so
// that "for all topics" over this set decides containment exactly.
std::vector<std::string> probeTopics(int max_levels) {
  return enumerate({"a", "b", "", "z", "$s"}, max_levels);
}

}  // namespace

TEST_CASE("domain/topic: splitTopicLevels keeps empty levels") {
  CHECK(pd::splitTopicLevels("a/b/c") == std::vector<std::string_view>{"a", "b", "c"});
  CHECK(pd::splitTopicLevels("a//b") == std::vector<std::string_view>{"a", "", "b"});
  CHECK(pd::splitTopicLevels("/a/") == std::vector<std::string_view>{"", "a", ""});
  CHECK(pd::splitTopicLevels("") == std::vector<std::string_view>{""});
}

TEST_CASE("domain/topic: topic and filter validity agree with libmosquitto") {
  std::mt19937 rng(1234);
  const std::string alphabet = "ab/+#$";
  for (int i = 0; i < 20000; ++i) {
    std::string s(1 + rng() % 8, 'a');
    for (auto& c : s) {
      c = alphabet[rng() % alphabet.size()];
    }
    INFO("string: " << s);
    CHECK(pd::isValidMqttFilter(s) == (mosquitto_sub_topic_check(s.c_str()) == MOSQ_ERR_SUCCESS));
    CHECK(pd::isValidMqttTopic(s) == (mosquitto_pub_topic_check(s.c_str()) == MOSQ_ERR_SUCCESS));
  }
  CHECK_FALSE(pd::isValidMqttTopic(""));
  CHECK_FALSE(pd::isValidMqttFilter(""));
  CHECK_FALSE(pd::isValidMqttTopic(std::string("a\0b", 3)));
  CHECK_FALSE(pd::isValidMqttTopic(std::string(65536, 'a')));
  CHECK(pd::isValidMqttTopic(std::string(65535, 'a')));
}

TEST_CASE("domain/topic: topicMatchesFilter examples") {
  CHECK(pd::topicMatchesFilter("a/b", "a/b"));
  CHECK(pd::topicMatchesFilter("a/b", "a/+"));
  CHECK(pd::topicMatchesFilter("a/b", "#"));
  CHECK(pd::topicMatchesFilter("a", "a/#"));  // `#` includes the parent level
  CHECK(pd::topicMatchesFilter("a/", "a/+"));
  CHECK_FALSE(pd::topicMatchesFilter("a", "a/+"));
  CHECK_FALSE(pd::topicMatchesFilter("a/b/c", "a/+"));
  CHECK_FALSE(pd::topicMatchesFilter("$SYS/x", "#"));
  CHECK_FALSE(pd::topicMatchesFilter("$SYS/x", "+/x"));
  CHECK(pd::topicMatchesFilter("$SYS/x", "$SYS/#"));
  CHECK_FALSE(pd::topicMatchesFilter("a/+", "a/+"));    // a topic may not hold wildcards
  CHECK_FALSE(pd::topicMatchesFilter("a/b", "a/#/b"));  // invalid filter
}

TEST_CASE("domain/topic: topicMatchesFilter equals mosquitto_topic_matches_sub on all pairs") {
  const auto filters = validFilters(3);
  const auto topics = probeTopics(4);
  REQUIRE(filters.size() > 100);
  std::size_t matches = 0;
  for (const auto& filter : filters) {
    for (const auto& topic : topics) {
      const bool expected = oracleMatches(topic, filter);
      matches += expected ? 1 : 0;
      if (pd::topicMatchesFilter(topic, filter) != expected) {
        FAIL_CHECK("topic '" << topic << "' filter '" << filter << "' expected " << expected);
      }
    }
  }
  CHECK(matches > 1000);  // the sample is not trivially "nothing matches"
}

TEST_CASE("domain/topic: topicMatchesFilter equals libmosquitto on random long topics") {
  std::mt19937 rng(42);
  const std::vector<std::string> topic_levels = {"a", "b", "", "c", "$x"};
  const std::vector<std::string> filter_levels = {"a", "b", "", "+", "c"};
  for (int i = 0; i < 20000; ++i) {
    std::string topic;
    std::string filter;
    const int t_levels = 1 + static_cast<int>(rng() % 9);
    const int f_levels = 1 + static_cast<int>(rng() % 9);
    for (int l = 0; l < t_levels; ++l) {
      topic += (l ? "/" : "") + topic_levels[rng() % topic_levels.size()];
    }
    for (int l = 0; l < f_levels; ++l) {
      filter += (l ? "/" : "") + filter_levels[rng() % filter_levels.size()];
    }
    if (rng() % 3 == 0) {
      filter += "/#";
    }
    if (topic.empty() || filter.empty()) {
      continue;
    }
    INFO("topic '" << topic << "' filter '" << filter << "'");
    CHECK(pd::topicMatchesFilter(topic, filter) == oracleMatches(topic, filter));
  }
}

TEST_CASE("domain/topic: filterContains and filtersIntersect against brute force") {
  const auto filters = validFilters(3);
  const auto topics = probeTopics(4);
  // matched[f][t]: does topic t match filter f (by the broker's own matcher). One extra column
  // is the empty topic, read as a single empty level: the broker rejects it, but the level rules
  // treat it as a topic (`#`, `+`, `+/#` and `/#` match it), so counting it keeps the comparison
  // exact; it only makes "contained" harder and "intersects" easier, i.e. more conservative.
  std::vector<std::vector<bool>> matched(filters.size(), std::vector<bool>(topics.size() + 1));
  for (std::size_t f = 0; f < filters.size(); ++f) {
    for (std::size_t t = 0; t < topics.size(); ++t) {
      matched[f][t] = oracleMatches(topics[t], filters[f]);
    }
    const auto& filter = filters[f];
    matched[f][topics.size()] = filter == "#" || filter == "+" || filter == "+/#" || filter == "/#";
  }
  std::size_t contained = 0;
  for (std::size_t r = 0; r < filters.size(); ++r) {
    for (std::size_t f = 0; f < filters.size(); ++f) {
      bool subset = true;
      bool overlap = false;
      for (std::size_t t = 0; t <= topics.size(); ++t) {
        if (matched[f][t] && !matched[r][t]) {
          subset = false;
        }
        if (matched[f][t] && matched[r][t]) {
          overlap = true;
        }
      }
      const auto& allowed = filters[r];
      const auto& requested = filters[f];
      const bool contains = pd::filterContains(allowed, requested);
      contained += contains ? 1 : 0;
      // Sound always: a "contains" answer never lets through a topic `allowed` does not match.
      if (contains && !subset) {
        FAIL_CHECK("'" << allowed << "' claimed to contain '" << requested << "'");
      }
      // Complete except for the one equivalence the level-by-level rule does not see (`+/#`
      // matches exactly what `#` does, but `+` never contains `#`, by design).
      const bool known_gap = requested == "#" && allowed == "+/#";
      if (subset && !contains && !known_gap) {
        FAIL_CHECK("'" << allowed << "' should contain '" << requested << "'");
      }
      if (pd::filtersIntersect(allowed, requested) != overlap) {
        FAIL_CHECK("intersect('" << allowed << "', '" << requested << "') expected " << overlap);
      }
    }
  }
  CHECK(contained > 500);
}

TEST_CASE("domain/topic: filterContains examples from the design") {
  CHECK(pd::filterContains("D/#", "D/+"));
  CHECK(pd::filterContains("D/#", "D/x/#"));
  CHECK(pd::filterContains("D/+/y", "D/+/y"));
  CHECK(pd::filterContains("D/+/y", "D/x/y"));
  CHECK_FALSE(pd::filterContains("a/+", "a/#"));  // the mosquitto-go-auth escalation
  CHECK_FALSE(pd::filterContains("D/x", "D/+"));
  CHECK_FALSE(pd::filterContains("#", "$SYS/#"));
  CHECK_FALSE(pd::filterContains("+/#", "$SYS/x"));
  CHECK(pd::filterContains("$SYS/#", "$SYS/broker/#"));
  CHECK_FALSE(pd::filterContains("D/#", "D/#/x"));  // invalid requested filter
}

TEST_CASE("domain/topic: stripSharePrefix") {
  CHECK(pd::stripSharePrefix("$share/g/D/+/pepeunit") ==
        std::optional<std::string_view>("D/+/pepeunit"));
  CHECK(pd::stripSharePrefix("D/x") == std::optional<std::string_view>("D/x"));
  CHECK(pd::stripSharePrefix("$shared/x") == std::optional<std::string_view>("$shared/x"));
  CHECK_FALSE(pd::stripSharePrefix("$share/g").has_value());
  CHECK_FALSE(pd::stripSharePrefix("$share/g/").has_value());
  CHECK_FALSE(pd::stripSharePrefix("$share//x").has_value());
  CHECK_FALSE(pd::stripSharePrefix("$share/+/x").has_value());
  CHECK_FALSE(pd::stripSharePrefix("$share").has_value());
}

TEST_CASE("domain/topic: parsePepeunitTopic") {
  const std::string unit = "0f8fad5b-d9cb-469f-a165-70867728950e";
  const std::string domain = "unit.example.com";

  const auto base =
      pd::parsePepeunitTopic(domain + "/output_base_topic/" + unit + "/state/pepeunit", domain);
  REQUIRE(std::holds_alternative<pd::BaseTopic>(base));
  CHECK(std::get<pd::BaseTopic>(base).destination == pd::BaseTopicDestination::kOutput);
  CHECK(std::get<pd::BaseTopic>(base).unit.toString() == unit);
  CHECK(std::get<pd::BaseTopic>(base).name == "state");

  const auto input =
      pd::parsePepeunitTopic(domain + "/input_base_topic/" + unit + "/update/pepeunit", domain);
  REQUIRE(std::holds_alternative<pd::BaseTopic>(input));
  CHECK(std::get<pd::BaseTopic>(input).destination == pd::BaseTopicDestination::kInput);

  const auto node = pd::parsePepeunitTopic(domain + "/" + unit + "/pepeunit", domain);
  REQUIRE(std::holds_alternative<pd::NodeTopic>(node));
  CHECK(std::get<pd::NodeTopic>(node).has_pepeunit_suffix);
  CHECK(std::get<pd::NodeTopic>(node).node.toString() == unit);

  const auto bare = pd::parsePepeunitTopic(domain + "/" + unit, domain);
  REQUIRE(std::holds_alternative<pd::NodeTopic>(bare));
  CHECK_FALSE(std::get<pd::NodeTopic>(bare).has_pepeunit_suffix);

  const std::string invalid[] = {
      "other.com/" + unit,                                          // wrong domain
      domain + "/not-a-uuid",                                       // bad uuid
      domain + "/" + unit + "/other",                               // wrong suffix
      domain + "/sideways_topic/" + unit + "/state/pepeunit",       // wrong destination
      domain + "/output_base_topic/" + unit + "/state/other",       // wrong suffix
      domain + "/output_base_topic/" + unit + "//pepeunit",         // empty name
      domain + "/output_base_topic/nope/state/pepeunit",            // bad unit uuid
      domain + "/+/pepeunit",                                       // wildcard
      domain,                                                       // one level
      domain + "/a/b/c",                                            // four levels
      domain + "/output_base_topic/" + unit + "/state/pepeunit/x",  // six levels
  };
  for (const auto& topic : invalid) {
    INFO("topic: " << topic);
    CHECK(std::holds_alternative<std::monostate>(pd::parsePepeunitTopic(topic, domain)));
  }
}
