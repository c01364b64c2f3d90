// The repo contract file `schema_example.json` (pepeunit_backend_spec.md §6.1) and the
// per-Unit `schema.json` built from it (§6.3, pepeunit_unit_protocol.md §1.4, §2.1).
// Pure: the service reads the file from git and the nodes/edges from the store, then asks here.
// The same rules are written down as a JSON Schema in schemas/json/schema_example.schema.json.
#pragma once

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "domain/uuid.hpp"

namespace pepeunit::domain {

// Section names of schema_example.json / schema.json (the `DestinationTopicType` enum).
inline constexpr std::string_view kInputBaseTopic = "input_base_topic";
inline constexpr std::string_view kOutputBaseTopic = "output_base_topic";
inline constexpr std::string_view kInputTopic = "input_topic";
inline constexpr std::string_view kOutputTopic = "output_topic";

/// The suffix that routes a topic to the instance (protocol §2.2).
inline constexpr std::string_view kPepeunitSuffix = "/pepeunit";

/// A topic name must be shorter than this (65535 minus 100 characters of headroom the original
/// keeps for the `<domain>/<destination>/<unit>/` parts).
inline constexpr std::size_t kMaxTopicNameLength = 65435;

/// One top-level key of schema_example.json with its topic names.
struct SchemaSection {
  std::string name;
  /// File order, duplicates removed (the first occurrence wins): one node per name and type.
  std::vector<std::string> topics;
};

/// A validated schema_example.json.
struct SchemaExample {
  /// Every top-level key in file order, the four required ones and any extra list-valued ones.
  std::vector<SchemaSection> sections;

  /// The topics of `section`, or an empty list when the file has no such key.
  const std::vector<std::string>& topics(std::string_view section) const;
  const std::vector<std::string>& inputBaseTopics() const { return topics(kInputBaseTopic); }
  const std::vector<std::string>& outputBaseTopics() const { return topics(kOutputBaseTopic); }
  const std::vector<std::string>& inputTopics() const { return topics(kInputTopic); }
  const std::vector<std::string>& outputTopics() const { return topics(kOutputTopic); }

  /// True if `section` lists `topic`, e.g. declares(kInputBaseTopic, "update/pepeunit"): a
  /// command is only sent to a Unit whose schema declares its topic (§8.4).
  bool declares(std::string_view section, std::string_view topic) const;
};

/// True if every character is in [A-Za-z0-9/_-] and the name is non-empty.
bool isValidTopicName(std::string_view topic);

/// Parses and validates the text of schema_example.json (§6.1): a JSON object; all four section
/// keys present; every top-level value a list (extra keys too); every list item a non-empty
/// string of [A-Za-z0-9/_-]; the longest shorter than kMaxTopicNameLength.
/// Throws Error(ErrorKind::kGitRepoValidation) with the reason otherwise.
SchemaExample parseSchemaExample(std::string_view text);

/// Same rules on an already parsed document (sections in the document's key order).
SchemaExample validateSchemaExample(const nlohmann::ordered_json& document);

/// `<domain>/<node uuid>`, plus `/pepeunit` iff `topic_name` ends with `/pepeunit` (§2.2).
std::string nodeTopic(std::string_view domain, const Uuid& node, std::string_view topic_name);

/// `<domain>/<destination>/<unit uuid>/<topic_name>` for input_base_topic/output_base_topic.
std::string baseTopic(std::string_view domain, std::string_view destination, const Uuid& unit,
                      std::string_view topic_name);

/// A UnitNode as the schema builder needs it.
struct NodeRef {
  Uuid uuid;
  std::string topic_name;
};

/// The Unit's own nodes and the Output nodes linked to its Inputs.
struct UnitSchemaNodes {
  /// Input topic name → the Unit's own Input node.
  std::map<std::string, Uuid, std::less<>> inputs;
  /// Output topic name → the Unit's own Output node.
  std::map<std::string, Uuid, std::less<>> outputs;
  /// Input topic name → Output nodes (of any Unit) linked to that Input, in the order to list.
  std::map<std::string, std::vector<NodeRef>, std::less<>> linked_outputs;
};

/// The generated schema.json (§6.3), keys in schema_example order:
///  * base sections: name → [`<domain>/<section>/<unit>/<name>`];
///  * input_topic: name → [own Input topic, linked Output topics...];
///  * output_topic: name → [own Output topic];
///  * extra sections: an empty object.
/// A name whose own node is missing (nodes not yet reconciled with this schema) throws
/// Error(ErrorKind::kUnitValidation) naming it: the original crashed with a KeyError there.
nlohmann::ordered_json buildUnitSchema(const SchemaExample& schema, std::string_view domain,
                                       const Uuid& unit, const UnitSchemaNodes& nodes);

}  // namespace pepeunit::domain
