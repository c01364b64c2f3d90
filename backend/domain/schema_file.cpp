// schema_example.json validation and schema.json generation.
#include "domain/schema_file.hpp"

#include <algorithm>
#include <set>

#include "common/errors.hpp"

namespace pepeunit::domain {
namespace {

constexpr std::string_view kRequiredSections[] = {kInputBaseTopic, kOutputBaseTopic, kInputTopic,
                                                  kOutputTopic};

bool isTopicChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
         c == '_' || c == '-';
}

[[noreturn]] void fail(std::string message) {
  throw Error(ErrorKind::kGitRepoValidation, std::move(message));
}

// Keeps a short, printable excerpt of a hostile topic name for the error message.
std::string excerpt(std::string_view text) {
  constexpr std::size_t kMax = 40;
  std::string out;
  for (char c : text.substr(0, kMax)) {
    out += (c >= ' ' && c <= '~') ? c : '?';
  }
  if (text.size() > kMax) {
    out += "...";
  }
  return out;
}

SchemaExample validate(const nlohmann::ordered_json& document) {
  if (!document.is_object()) {
    fail("schema_example.json must be a JSON object");
  }
  std::vector<std::string> missing;
  for (auto key : kRequiredSections) {
    if (!document.contains(std::string(key))) {
      missing.emplace_back(key);
    }
  }
  if (!missing.empty()) {
    std::string names;
    for (const auto& name : missing) {
      names += (names.empty() ? "" : ", ") + name;
    }
    fail("This schema file has unresolved IO and base IO keys, missing: " + names);
  }

  SchemaExample result;
  std::size_t longest = 0;
  for (auto it = document.begin(); it != document.end(); ++it) {
    if (!it.value().is_array()) {
      fail("This schema file has not available value types, only list is available: key '" +
           excerpt(it.key()) + "' is not a list");
    }
    SchemaSection section{it.key(), {}};
    std::set<std::string, std::less<>> seen;
    for (const auto& item : it.value()) {
      if (!item.is_string()) {
        fail("Topics in the schema must be strings: key '" + excerpt(it.key()) +
             "' holds a non-string item");
      }
      const auto& topic = item.get_ref<const std::string&>();
      if (!isValidTopicName(topic)) {
        fail(topic.empty() ? "Topics in the schema must not be empty: key '" + excerpt(it.key()) +
                                 "' holds an empty name"
                           : "Topics in the schema use characters that are not allowed, allowed: "
                             "A-Z a-z 0-9 / _ -; topic '" +
                                 excerpt(topic) + "'");
      }
      longest = std::max(longest, topic.size());
      if (seen.insert(topic).second) {
        section.topics.push_back(topic);
      }
    }
    result.sections.push_back(std::move(section));
  }
  if (longest >= kMaxTopicNameLength) {
    fail("The length " + std::to_string(longest) +
         " of the topic title is too long, max: " + std::to_string(kMaxTopicNameLength - 1));
  }
  return result;
}

const std::vector<std::string>& emptyTopics() {
  static const std::vector<std::string> no_topics;
  return no_topics;
}

}  // namespace

const std::vector<std::string>& SchemaExample::topics(std::string_view section) const {
  for (const auto& s : sections) {
    if (s.name == section) {
      return s.topics;
    }
  }
  return emptyTopics();
}

bool SchemaExample::declares(std::string_view section, std::string_view topic) const {
  const auto& list = topics(section);
  return std::find(list.begin(), list.end(), topic) != list.end();
}

bool isValidTopicName(std::string_view topic) {
  return !topic.empty() && std::all_of(topic.begin(), topic.end(), isTopicChar);
}

SchemaExample parseSchemaExample(std::string_view text) {
  // ordered_json keeps the developer's key order, which schema.json reproduces.
  auto document = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    fail("schema_example.json is not valid JSON");
  }
  return validate(document);
}

SchemaExample validateSchemaExample(const nlohmann::ordered_json& document) {
  return validate(document);
}

std::string nodeTopic(std::string_view domain, const Uuid& node, std::string_view topic_name) {
  std::string topic;
  topic.reserve(domain.size() + 48);
  topic.append(domain).append("/").append(node.toString());
  if (topic_name.ends_with(kPepeunitSuffix)) {
    topic.append(kPepeunitSuffix);
  }
  return topic;
}

std::string baseTopic(std::string_view domain, std::string_view destination, const Uuid& unit,
                      std::string_view topic_name) {
  std::string topic;
  topic.append(domain)
      .append("/")
      .append(destination)
      .append("/")
      .append(unit.toString())
      .append("/")
      .append(topic_name);
  return topic;
}

nlohmann::ordered_json buildUnitSchema(const SchemaExample& schema, std::string_view domain,
                                       const Uuid& unit, const UnitSchemaNodes& nodes) {
  auto missing_node = [](std::string_view type, const std::string& name) {
    return Error(ErrorKind::kUnitValidation,
                 "The Unit has no " + std::string(type) + " node for topic '" + name +
                     "' of its target version; update the Unit to sync its nodes");
  };

  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const auto& section : schema.sections) {
    auto& entry = out[section.name] = nlohmann::ordered_json::object();
    const bool is_base = section.name == kInputBaseTopic || section.name == kOutputBaseTopic;
    for (const auto& name : section.topics) {
      if (is_base) {
        entry[name] = nlohmann::ordered_json::array({baseTopic(domain, section.name, unit, name)});
      } else if (section.name == kInputTopic) {
        auto own = nodes.inputs.find(name);
        if (own == nodes.inputs.end()) {
          throw missing_node("Input", name);
        }
        auto list = nlohmann::ordered_json::array({nodeTopic(domain, own->second, name)});
        if (auto linked = nodes.linked_outputs.find(name); linked != nodes.linked_outputs.end()) {
          for (const auto& output : linked->second) {
            list.push_back(nodeTopic(domain, output.uuid, output.topic_name));
          }
        }
        entry[name] = std::move(list);
      } else if (section.name == kOutputTopic) {
        auto own = nodes.outputs.find(name);
        if (own == nodes.outputs.end()) {
          throw missing_node("Output", name);
        }
        entry[name] = nlohmann::ordered_json::array({nodeTopic(domain, own->second, name)});
      }
      // Extra sections stay empty objects, as in the original.
    }
  }
  return out;
}

}  // namespace pepeunit::domain
