// MQTT topic and topic-filter rules, and Pepeunit's topic grammar (pepeunit_backend_spec.md §4.2,
// §5.2; auth_plugin_anchors.md §6.7). Pure: the broker plugin runs this on its hot path and the
// backend's ingest uses the same grammar, so both agree on what a topic means.
//
// Matching follows MQTT 3.1.1/5 exactly, including the rule that a `+` or `#` in the first level
// never matches a topic whose first level starts with `$` (so `#` never reaches `$SYS/...`).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "domain/uuid.hpp"

namespace pepeunit::domain {

/// MQTT's limit on a topic or filter (a UTF-8 string with a 16-bit length).
inline constexpr std::size_t kMaxMqttTopicLength = 65535;

/// The levels of a topic or filter, split on `/`. "a//b" gives {"a", "", "b"}; "" gives {""}.
/// The views point into `topic`.
std::vector<std::string_view> splitTopicLevels(std::string_view topic);

/// A topic name a client may publish to: 1..65535 bytes, no NUL, no `+` or `#`.
bool isValidMqttTopic(std::string_view topic);

/// A subscription filter: 1..65535 bytes, no NUL, `+` only as a whole level, `#` only as the
/// whole last level. `$share/...` is not special here (see stripSharePrefix).
bool isValidMqttFilter(std::string_view filter);

/// True when `topic` (a valid topic name) matches `filter` (a valid filter). Invalid input of
/// either kind never matches.
bool topicMatchesFilter(std::string_view topic, std::string_view filter);

/// True when every topic matched by `requested` is also matched by `allowed`, decided level by
/// level: `#` in `allowed` contains anything from there on (including the parent level, as
/// `a/#` matches `a`); `+` contains a literal or `+` but not `#`; a literal contains only the
/// same literal. A wildcard first level of `allowed` never contains a `$...` first level.
/// Invalid filters are never contained.
bool filterContains(std::string_view allowed, std::string_view requested);

/// True when some topic is matched by both filters (used for deny rules: a subscription that
/// could receive anything a deny rule covers is denied). Invalid filters never intersect.
bool filtersIntersect(std::string_view a, std::string_view b);

/// For `$share/<group>/<filter>` the inner filter; any other filter unchanged. nullopt when
/// the shared form is malformed (empty group, a wildcard in the group, no inner filter).
std::optional<std::string_view> stripSharePrefix(std::string_view filter);

// ---- Pepeunit grammar (spec §5.2) -------------------------------------------------------------

enum class BaseTopicDestination { kInput, kOutput };

/// `D/input_base_topic/<unit>/<name>/pepeunit` or `D/output_base_topic/<unit>/<name>/pepeunit`.
struct BaseTopic {
  BaseTopicDestination destination = BaseTopicDestination::kInput;
  Uuid unit;
  std::string_view name;  ///< the fourth level, e.g. "state" (points into the parsed topic)
};

/// `D/<node>` or `D/<node>/pepeunit`.
struct NodeTopic {
  Uuid node;
  bool has_pepeunit_suffix = false;
};

/// std::monostate: not a Pepeunit topic (wrong domain, level count, destination, suffix or
/// uuid, or any wildcard).
using PepeunitTopic = std::variant<std::monostate, BaseTopic, NodeTopic>;

/// Classifies a concrete topic for `domain` (the first level must equal it exactly).
PepeunitTopic parsePepeunitTopic(std::string_view topic, std::string_view domain);

}  // namespace pepeunit::domain
