// Rule-set evaluation, its indexed form, the JSON contract and the "did access shrink" test.
#include "domain/acl_rules.hpp"

#include <limits>
#include <nlohmann/json.hpp>

#include "domain/topic.hpp"

namespace pepeunit::domain {
namespace {

constexpr std::size_t kNoMatch = std::numeric_limits<std::size_t>::max();

bool hasWildcard(std::string_view filter) {
  return filter.find_first_of("+#") != std::string_view::npos;
}

bool appliesTo(const AclRule& rule, AclAction action) {
  return (rule.actions_mask & actionBit(action)) != 0;
}

/// Whether `rule` applies to a SUBSCRIBE of `filter` (already stripped of `$share/`).
bool subscribeApplies(const AclRule& rule, std::string_view filter) {
  return rule.allow ? filterContains(rule.filter, filter) : filtersIntersect(rule.filter, filter);
}

/// The filter a SUBSCRIBE is judged by, or nullopt when it can only be denied.
std::optional<std::string_view> subscribeFilter(std::string_view requested) {
  const auto inner = stripSharePrefix(requested);
  if (!inner || !isValidMqttFilter(*inner)) {
    return std::nullopt;
  }
  return inner;
}

std::optional<std::uint8_t> actionMaskFromName(std::string_view name) {
  if (const auto action = parseAclAction(name)) {
    return actionBit(*action);
  }
  if (name == "all") {
    return kAllActions;
  }
  return std::nullopt;
}

std::optional<std::int64_t> nonNegativeInt(const nlohmann::json& json, const char* key) {
  const auto it = json.find(key);
  if (it == json.end() || it->is_null()) {
    return std::int64_t{0};
  }
  if (!it->is_number_integer()) {
    return std::nullopt;
  }
  const auto value = it->get<std::int64_t>();
  if (value < 0) {
    return std::nullopt;
  }
  return value;
}

std::optional<AclRule> ruleFromJson(const nlohmann::json& json) {
  if (!json.is_object()) {
    return std::nullopt;
  }
  for (const auto& [key, value] : json.items()) {
    if (key != "permission" && key != "actions" && key != "filter") {
      return std::nullopt;
    }
  }
  AclRule rule;
  const auto permission = json.find("permission");
  if (permission == json.end() || !permission->is_string()) {
    return std::nullopt;
  }
  if (*permission == "allow") {
    rule.allow = true;
  } else if (*permission != "deny") {
    return std::nullopt;
  }
  const auto actions = json.find("actions");
  if (actions == json.end() || !actions->is_array() || actions->empty()) {
    return std::nullopt;
  }
  for (const auto& action : *actions) {
    if (!action.is_string()) {
      return std::nullopt;
    }
    const auto mask = actionMaskFromName(action.get_ref<const std::string&>());
    if (!mask) {
      return std::nullopt;
    }
    rule.actions_mask |= *mask;
  }
  const auto filter = json.find("filter");
  if (filter == json.end() || !filter->is_string() ||
      !isValidMqttFilter(filter->get_ref<const std::string&>())) {
    return std::nullopt;
  }
  rule.filter = filter->get<std::string>();
  return rule;
}

/// Every allow of `old` is contained by an allow of `now` for each of its actions.
bool allowsCovered(const RuleSet& old, const RuleSet& now) {
  for (const auto& rule : old.rules) {
    for (std::uint8_t bit = 1; bit <= 8; bit <<= 1) {
      if ((rule.actions_mask & bit) == 0) {
        continue;
      }
      bool covered = false;
      for (const auto& candidate : now.rules) {
        if ((candidate.actions_mask & bit) != 0 && filterContains(candidate.filter, rule.filter)) {
          covered = true;
          break;
        }
      }
      if (!covered) {
        return false;
      }
    }
  }
  return true;
}

bool hasDeny(const RuleSet& rules) {
  for (const auto& rule : rules.rules) {
    if (!rule.allow) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string_view actionName(AclAction action) {
  switch (action) {
    case AclAction::kPublish:
      return "publish";
    case AclAction::kSubscribe:
      return "subscribe";
    case AclAction::kRead:
      return "read";
    case AclAction::kUnsubscribe:
      return "unsubscribe";
  }
  return "unknown";
}

std::optional<AclAction> parseAclAction(std::string_view name) {
  for (const auto action :
       {AclAction::kPublish, AclAction::kSubscribe, AclAction::kRead, AclAction::kUnsubscribe}) {
    if (name == actionName(action)) {
      return action;
    }
  }
  return std::nullopt;
}

bool decide(const RuleSet& rules, AclAction action, std::string_view topic_or_filter) {
  if (action == AclAction::kUnsubscribe) {
    return true;
  }
  if (rules.superuser) {
    return true;
  }
  if (action == AclAction::kSubscribe) {
    const auto filter = subscribeFilter(topic_or_filter);
    if (!filter) {
      return false;
    }
    for (const auto& rule : rules.rules) {
      if (appliesTo(rule, action) && subscribeApplies(rule, *filter)) {
        return rule.allow;
      }
    }
    return false;
  }
  if (!isValidMqttTopic(topic_or_filter)) {
    return false;
  }
  for (const auto& rule : rules.rules) {
    if (appliesTo(rule, action) && topicMatchesFilter(topic_or_filter, rule.filter)) {
      return rule.allow;
    }
  }
  return false;
}

RuleIndex::RuleIndex(RuleSet rules) : rules_(std::move(rules)) {
  for (std::uint32_t i = 0; i < rules_.rules.size(); ++i) {
    const std::string& filter = rules_.rules[i].filter;
    if (hasWildcard(filter)) {
      wildcard_.push_back(i);
    } else {
      literal_[std::string_view(filter)].push_back(i);
    }
  }
}

std::size_t RuleIndex::firstMatch(AclAction action, std::string_view topic) const {
  std::size_t best = kNoMatch;
  if (const auto it = literal_.find(topic); it != literal_.end()) {
    for (const auto index : it->second) {
      if (appliesTo(rules_.rules[index], action)) {
        best = index;
        break;
      }
    }
  }
  for (const auto index : wildcard_) {
    if (index >= best) {
      break;
    }
    const auto& rule = rules_.rules[index];
    if (appliesTo(rule, action) && topicMatchesFilter(topic, rule.filter)) {
      best = index;
      break;
    }
  }
  return best;
}

bool RuleIndex::decide(AclAction action, std::string_view topic_or_filter) const {
  if (action == AclAction::kUnsubscribe || rules_.superuser) {
    return true;
  }
  std::string_view topic = topic_or_filter;
  if (action == AclAction::kSubscribe) {
    const auto filter = subscribeFilter(topic_or_filter);
    if (!filter) {
      return false;
    }
    if (hasWildcard(*filter)) {
      return domain::decide(rules_, action, *filter);  // rare: wildcard subscriptions
    }
    // A literal filter is contained by / intersects a rule exactly when it matches it as a topic.
    topic = *filter;
  }
  if (!isValidMqttTopic(topic)) {
    return false;
  }
  const auto index = firstMatch(action, topic);
  return index != kNoMatch && rules_.rules[index].allow;
}

std::optional<RuleSet> ruleSetFromJson(const nlohmann::json& json) {
  if (!json.is_object()) {
    return std::nullopt;
  }
  RuleSet set;
  const auto version = json.find("version");
  if (version == json.end() || !version->is_number_integer()) {
    return std::nullopt;
  }
  if (!version->is_number_unsigned() && version->get<std::int64_t>() < 0) {
    return std::nullopt;
  }
  set.version = version->get<std::uint64_t>();
  const auto ttl = nonNegativeInt(json, "ttl");
  const auto stale_ttl = nonNegativeInt(json, "stale_ttl");
  const auto expires_at = nonNegativeInt(json, "expires_at");
  if (!ttl || !stale_ttl || !expires_at) {
    return std::nullopt;
  }
  set.ttl_s = *ttl;
  set.stale_ttl_s = *stale_ttl;
  set.expires_at = *expires_at;
  if (const auto superuser = json.find("superuser"); superuser != json.end()) {
    if (!superuser->is_boolean()) {
      return std::nullopt;
    }
    set.superuser = superuser->get<bool>();
  }
  if (const auto partial = json.find("partial"); partial != json.end()) {
    if (!partial->is_boolean()) {
      return std::nullopt;
    }
    set.partial = partial->get<bool>();
  }
  const auto rules = json.find("rules");
  if (rules == json.end() || !rules->is_array()) {
    return std::nullopt;
  }
  set.rules.reserve(rules->size());
  for (const auto& item : *rules) {
    auto rule = ruleFromJson(item);
    if (!rule) {
      return std::nullopt;
    }
    set.rules.push_back(std::move(*rule));
  }
  return set;
}

std::optional<RuleSet> parseRuleSet(std::string_view text) {
  const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return std::nullopt;
  }
  return ruleSetFromJson(json);
}

nlohmann::json ruleSetToJson(const RuleSet& rules) {
  nlohmann::json out = {{"version", rules.version},
                        {"ttl", rules.ttl_s},
                        {"stale_ttl", rules.stale_ttl_s},
                        {"superuser", rules.superuser},
                        {"rules", nlohmann::json::array()}};
  if (rules.expires_at != 0) {
    out["expires_at"] = rules.expires_at;
  }
  if (rules.partial) {
    out["partial"] = true;
  }
  for (const auto& rule : rules.rules) {
    nlohmann::json actions = nlohmann::json::array();
    for (const auto action :
         {AclAction::kPublish, AclAction::kSubscribe, AclAction::kRead, AclAction::kUnsubscribe}) {
      if (appliesTo(rule, action)) {
        actions.push_back(actionName(action));
      }
    }
    out["rules"].push_back({{"permission", rule.allow ? "allow" : "deny"},
                            {"actions", std::move(actions)},
                            {"filter", rule.filter}});
  }
  return out;
}

namespace {

/// `text` as a JSON string literal (RFC 8259 §7: quote, backslash and control characters
/// escaped; everything else, UTF-8 included, as is).
void appendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t plain = 0;  // start of the run not yet copied
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x20 && byte != '"' && byte != '\\') {
      continue;
    }
    out.append(text.data() + plain, i - plain);  // filters are mostly plain: copy runs
    plain = i + 1;
    if (byte >= 0x20) {
      out += '\\';
      out += static_cast<char>(byte);
    } else {
      out += "\\u00";
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0f];
    }
  }
  out.append(text.data() + plain, text.size() - plain);
  out += '"';
}

}  // namespace

// Written directly instead of through ruleSetToJson(): the backend serializes every rule set it
// computes, and building the nlohmann tree first cost more than computing the set (B6 profile).
// The output is the same JSON object (keys in another order); the unit tests hold the two together.
std::string serializeRuleSet(const RuleSet& rules) {
  std::string out;
  out.reserve(96 + rules.rules.size() * 96);
  out += R"({"rules":[)";
  bool first_rule = true;
  for (const auto& rule : rules.rules) {
    out += first_rule ? R"({"actions":[)" : R"(,{"actions":[)";
    first_rule = false;
    bool first_action = true;
    for (const auto action :
         {AclAction::kPublish, AclAction::kSubscribe, AclAction::kRead, AclAction::kUnsubscribe}) {
      if (appliesTo(rule, action)) {
        if (!first_action) {
          out += ',';
        }
        first_action = false;
        appendJsonString(out, actionName(action));
      }
    }
    out += R"(],"filter":)";
    appendJsonString(out, rule.filter);
    out += rule.allow ? R"(,"permission":"allow"})" : R"(,"permission":"deny"})";
  }
  out += R"(],"stale_ttl":)";
  out += std::to_string(rules.stale_ttl_s);
  out += R"(,"superuser":)";
  out += rules.superuser ? "true" : "false";
  out += R"(,"ttl":)";
  out += std::to_string(rules.ttl_s);
  out += R"(,"version":)";
  out += std::to_string(rules.version);
  if (rules.expires_at != 0) {
    out += R"(,"expires_at":)";
    out += std::to_string(rules.expires_at);
  }
  if (rules.partial) {
    out += R"(,"partial":true)";
  }
  out += '}';
  return out;
}

bool shrank(const RuleSet& old, const RuleSet& now) {
  if (now.superuser) {
    return false;
  }
  if (old.superuser) {
    return true;
  }
  // `now` = `old` + trailing allows: the new rules apply only where nothing applied before.
  if (now.rules.size() >= old.rules.size()) {
    bool prefix = true;
    for (std::size_t i = 0; i < old.rules.size() && prefix; ++i) {
      prefix = old.rules[i] == now.rules[i];
    }
    for (std::size_t i = old.rules.size(); i < now.rules.size() && prefix; ++i) {
      prefix = now.rules[i].allow;
    }
    if (prefix) {
      return false;
    }
  }
  if (hasDeny(old) || hasDeny(now)) {
    return true;
  }
  return !allowsCovered(old, now);
}

}  // namespace pepeunit::domain
