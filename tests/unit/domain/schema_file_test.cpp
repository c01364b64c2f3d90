// schema_example.json validation (every rule of §6.1 and its boundaries), a cross-check against
// the JSON Schema document in schemas/json/, and the generated schema.json of §6.3.
#include "domain/schema_file.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <vector>

#include "common/errors.hpp"

namespace pd = pepeunit::domain;
using pepeunit::Error;
using pepeunit::ErrorKind;

namespace {

constexpr const char* kValid = R"({
  "input_base_topic": ["update/pepeunit", "env_update/pepeunit", "schema_update/pepeunit"],
  "output_base_topic": ["state/pepeunit"],
  "input_topic": ["set_fan_state/pepeunit"],
  "output_topic": ["current_temp/pepeunit", "raw_value"]
})";

// The message of the Error(kGitRepoValidation) that parseSchemaExample throws, or "" if valid.
std::string rejection(const std::string& text) {
  try {
    pd::parseSchemaExample(text);
    return "";
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kGitRepoValidation);
    return e.what();
  }
}

pd::Uuid uuidOf(const char* text) {
  auto parsed = pd::Uuid::parse(text);
  REQUIRE(parsed.has_value());
  return *parsed;
}

// ---- A minimal evaluator for exactly the keywords schemas/json/schema_example.schema.json uses
// (type, required, properties, additionalProperties, items, minLength, maxLength, pattern, local
// $ref). No JSON Schema library is packaged for Debian's C++; this keeps the document honest.
class MiniSchema {
 public:
  explicit MiniSchema(nlohmann::json root) : root_(std::move(root)) {}

  bool accepts(const nlohmann::json& instance) const { return check(root_, instance); }

 private:
  const nlohmann::json& resolve(const nlohmann::json& schema) const {
    if (schema.contains("$ref")) {
      const auto ref = schema["$ref"].get<std::string>();
      REQUIRE(ref.rfind("#/", 0) == 0);
      return resolve(root_.at(nlohmann::json::json_pointer(ref.substr(1))));
    }
    return schema;
  }

  bool check(const nlohmann::json& raw_schema, const nlohmann::json& value) const {
    const auto& schema = resolve(raw_schema);
    if (schema.contains("type")) {
      const auto type = schema["type"].get<std::string>();
      if ((type == "object" && !value.is_object()) || (type == "array" && !value.is_array()) ||
          (type == "string" && !value.is_string())) {
        return false;
      }
    }
    if (value.is_object()) {
      for (const auto& key : schema.value("required", nlohmann::json::array())) {
        if (!value.contains(key.get<std::string>())) {
          return false;
        }
      }
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (schema.contains("properties") && schema["properties"].contains(it.key())) {
          if (!check(schema["properties"][it.key()], it.value())) {
            return false;
          }
        } else if (schema.contains("additionalProperties") &&
                   !check(schema["additionalProperties"], it.value())) {
          return false;
        }
      }
    }
    if (value.is_array() && schema.contains("items")) {
      for (const auto& item : value) {
        if (!check(schema["items"], item)) {
          return false;
        }
      }
    }
    if (value.is_string()) {
      const auto& s = value.get_ref<const std::string&>();
      if (schema.contains("minLength") && s.size() < schema["minLength"].get<std::size_t>()) {
        return false;
      }
      if (schema.contains("maxLength") && s.size() > schema["maxLength"].get<std::size_t>()) {
        return false;
      }
      if (schema.contains("pattern") &&
          !std::regex_search(s, std::regex(schema["pattern"].get<std::string>()))) {
        return false;
      }
    }
    return true;
  }

  nlohmann::json root_;
};

nlohmann::json loadSchemaDocument() {
  const auto path = std::filesystem::path(__FILE__).parent_path() / "../../../schemas/json" /
                    "schema_example.schema.json";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path.string());
  return nlohmann::json::parse(std::string(std::istreambuf_iterator<char>(in), {}));
}

}  // namespace

TEST_CASE("domain: parseSchemaExample accepts the spec's example and keeps file order") {
  const auto schema = pd::parseSchemaExample(kValid);
  REQUIRE(schema.sections.size() == 4);
  CHECK(schema.sections[0].name == "input_base_topic");
  CHECK(schema.sections[3].name == "output_topic");
  CHECK(schema.inputBaseTopics() == std::vector<std::string>{"update/pepeunit",
                                                             "env_update/pepeunit",
                                                             "schema_update/pepeunit"});
  CHECK(schema.outputBaseTopics() == std::vector<std::string>{"state/pepeunit"});
  CHECK(schema.inputTopics() == std::vector<std::string>{"set_fan_state/pepeunit"});
  CHECK(schema.outputTopics() == std::vector<std::string>{"current_temp/pepeunit", "raw_value"});
  CHECK(schema.declares(pd::kInputBaseTopic, "update/pepeunit"));
  CHECK_FALSE(schema.declares(pd::kInputBaseTopic, "log_sync/pepeunit"));
  CHECK_FALSE(schema.declares("no_such_section", "update/pepeunit"));
  CHECK(schema.topics("no_such_section").empty());
}

TEST_CASE("domain: parseSchemaExample rules, one row per rule") {
  struct Row {
    const char* name;
    std::string text;
    const char* message_part;  // nullptr: valid
  };
  const std::string t65434(65434, 'a');
  const std::string t65435(65435, 'a');
  auto four = [](const std::string& extra_topic) {
    return R"({"input_base_topic": [], "output_base_topic": [], "input_topic": [")" + extra_topic +
           R"("], "output_topic": []})";
  };
  const Row rows[] = {
      {"all empty lists",
       R"({"input_base_topic":[],"output_base_topic":[],"input_topic":[],)"
       R"("output_topic":[]})",
       nullptr},
      {"not JSON", "{", "not valid JSON"},
      {"empty text", "", "not valid JSON"},
      {"JSON array", "[]", "must be a JSON object"},
      {"JSON string", R"("x")", "must be a JSON object"},
      {"missing output_topic", R"({"input_base_topic":[],"output_base_topic":[],"input_topic":[]})",
       "unresolved IO and base IO keys, missing: output_topic"},
      {"missing two", R"({"input_base_topic":[],"output_base_topic":[]})",
       "missing: input_topic, output_topic"},
      {"value not a list",
       R"({"input_base_topic":{},"output_base_topic":[],"input_topic":[],"output_topic":[]})",
       "only list is available"},
      {"value a string",
       R"({"input_base_topic":"x","output_base_topic":[],"input_topic":[],"output_topic":[]})",
       "only list is available"},
      {"extra key with a list",
       R"({"input_base_topic":[],"output_base_topic":[],"input_topic":[],"output_topic":[],)"
       R"("my_extra":["a/b"]})",
       nullptr},
      {"extra key not a list",
       R"({"input_base_topic":[],"output_base_topic":[],"input_topic":[],"output_topic":[],)"
       R"("my_extra":1})",
       "'my_extra' is not a list"},
      {"item not a string",
       R"({"input_base_topic":[1],"output_base_topic":[],"input_topic":[],"output_topic":[]})",
       "must be strings"},
      {"item null",
       R"({"input_base_topic":[],"output_base_topic":[null],"input_topic":[],"output_topic":[]})",
       "must be strings"},
      {"empty topic", four(""), "must not be empty"},
      {"space", four("a b"), "characters that are not allowed"},
      {"plus wildcard", four("a/+/b"), "characters that are not allowed"},
      {"hash wildcard", four("a/#"), "characters that are not allowed"},
      {"dot", four("a.b"), "characters that are not allowed"},
      {"non-ASCII", four("temp\xc2\xb0"), "characters that are not allowed"},
      {"bad char in an extra key's list",
       R"({"input_base_topic":[],"output_base_topic":[],"input_topic":[],"output_topic":[],)"
       R"("x":["a b"]})",
       "characters that are not allowed"},
      {"every allowed class", four("AZaz09/_-"), nullptr},
      {"longest allowed", four(t65434), nullptr},
      {"one too long", four(t65435), "The length 65435 of the topic title is too long, max: 65434"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    const auto message = rejection(row.text);
    if (row.message_part == nullptr) {
      CHECK(message.empty());
    } else {
      CHECK(message.find(row.message_part) != std::string::npos);
    }
  }
}

TEST_CASE("domain: parseSchemaExample drops duplicate names, keeps extra sections") {
  const auto schema = pd::parseSchemaExample(
      R"({"output_topic":["a","b","a"],"input_topic":["x","x"],"input_base_topic":[],)"
      R"("output_base_topic":[],"extra":["e"]})");
  CHECK(schema.outputTopics() == std::vector<std::string>{"a", "b"});
  CHECK(schema.inputTopics() == std::vector<std::string>{"x"});
  REQUIRE(schema.sections.size() == 5);
  CHECK(schema.sections[0].name == "output_topic");
  CHECK(schema.sections[4].name == "extra");
  CHECK(schema.topics("extra") == std::vector<std::string>{"e"});
}

TEST_CASE("domain: a hostile topic name is shortened and made printable in the error") {
  const std::string text = R"({"input_base_topic":[],"output_base_topic":[],"input_topic":[")" +
                           std::string(5000, 'a') + "\n" + R"("],"output_topic":[]})";
  // A raw newline inside a JSON string is invalid JSON; escape it properly instead.
  nlohmann::ordered_json doc = {{"input_base_topic", nlohmann::ordered_json::array()},
                                {"output_base_topic", nlohmann::ordered_json::array()},
                                {"input_topic", {std::string(5000, 'a') + "\n"}},
                                {"output_topic", nlohmann::ordered_json::array()}};
  try {
    pd::validateSchemaExample(doc);
    FAIL("expected an error");
  } catch (const Error& e) {
    const std::string message = e.what();
    CHECK(message.size() < 300);
    CHECK(message.find('\n') == std::string::npos);
  }
  CHECK(rejection(text).find("not valid JSON") != std::string::npos);
}

TEST_CASE("domain: the JSON Schema document states the same rules as the C++ validator") {
  const auto document = loadSchemaDocument();
  CHECK(document["$schema"] == "https://json-schema.org/draft/2020-12/schema");
  const auto required = document["required"].get<std::vector<std::string>>();
  CHECK(required == std::vector<std::string>{"input_base_topic", "output_base_topic", "input_topic",
                                             "output_topic"});
  CHECK(document["$defs"]["topicName"]["maxLength"].get<std::size_t>() ==
        pd::kMaxTopicNameLength - 1);

  const MiniSchema mini(document);
  // Same verdict on every sample (long-length boundaries are covered by the maxLength check above;
  // std::regex recursion is not meant for 64 KiB strings).
  const std::vector<std::string> samples = {
      kValid,
      R"({"input_base_topic":[],"output_base_topic":[],"input_topic":[],"output_topic":[]})",
      R"({"input_base_topic":[],"output_base_topic":[],"input_topic":[]})",
      R"({"input_base_topic":{},"output_base_topic":[],"input_topic":[],"output_topic":[]})",
      R"({"input_base_topic":[1],"output_base_topic":[],"input_topic":[],"output_topic":[]})",
      R"({"input_base_topic":[""],"output_base_topic":[],"input_topic":[],"output_topic":[]})",
      R"({"input_base_topic":["a b"],"output_base_topic":[],"input_topic":[],"output_topic":[]})",
      R"({"input_base_topic":["a/+"],"output_base_topic":[],"input_topic":[],"output_topic":[]})",
      R"({"input_base_topic":[],"output_base_topic":[],"input_topic":[],"output_topic":[],"x":[]})",
      R"({"input_base_topic":[],"output_base_topic":[],"input_topic":[],"output_topic":[],"x":2})",
      std::string(R"({"input_base_topic":[],"output_base_topic":[],"input_topic":[],)") +
          R"("output_topic":[],"x":["ok/_-9"]})",
      R"([])",
  };
  for (const auto& sample : samples) {
    CAPTURE(sample);
    const auto instance = nlohmann::json::parse(sample);
    CHECK(mini.accepts(instance) == rejection(sample).empty());
  }
}

TEST_CASE("domain: nodeTopic and baseTopic") {
  const auto node = uuidOf("0f8fad5b-d9cb-469f-a165-70867728950e");
  CHECK(pd::nodeTopic("unit.example.com", node, "current_temp/pepeunit") ==
        "unit.example.com/0f8fad5b-d9cb-469f-a165-70867728950e/pepeunit");
  CHECK(pd::nodeTopic("unit.example.com", node, "raw_value") ==
        "unit.example.com/0f8fad5b-d9cb-469f-a165-70867728950e");
  // Only the exact suffix counts.
  CHECK(pd::nodeTopic("d", node, "x/pepeunitx") == "d/0f8fad5b-d9cb-469f-a165-70867728950e");
  CHECK(pd::nodeTopic("d", node, "pepeunit") == "d/0f8fad5b-d9cb-469f-a165-70867728950e");
  CHECK(pd::baseTopic("10.0.0.1", pd::kInputBaseTopic, node, "update/pepeunit") ==
        "10.0.0.1/input_base_topic/0f8fad5b-d9cb-469f-a165-70867728950e/update/pepeunit");
}

TEST_CASE("domain: buildUnitSchema produces §6.3 exactly") {
  auto schema = pd::parseSchemaExample(
      R"({"input_base_topic":["update/pepeunit","schema_update/pepeunit"],)"
      R"("output_base_topic":["state/pepeunit"],"input_topic":["set/pepeunit","raw_in"],)"
      R"("output_topic":["temp/pepeunit","raw_value"],"notes":["whatever"]})");
  const auto unit = uuidOf("11111111-1111-4111-8111-111111111111");
  const auto in1 = uuidOf("22222222-2222-4222-8222-222222222222");
  const auto in2 = uuidOf("33333333-3333-4333-8333-333333333333");
  const auto out1 = uuidOf("44444444-4444-4444-8444-444444444444");
  const auto out2 = uuidOf("55555555-5555-4555-8555-555555555555");
  const auto other_a = uuidOf("66666666-6666-4666-8666-666666666666");
  const auto other_b = uuidOf("77777777-7777-4777-8777-777777777777");

  pd::UnitSchemaNodes nodes;
  nodes.inputs = {{"set/pepeunit", in1}, {"raw_in", in2}};
  nodes.outputs = {{"temp/pepeunit", out1}, {"raw_value", out2}};
  nodes.linked_outputs["set/pepeunit"] = {{other_a, "other/pepeunit"}, {other_b, "plain"}};

  const auto built = pd::buildUnitSchema(schema, "d.example", unit, nodes);
  const auto expected = nlohmann::ordered_json::parse(R"({
    "input_base_topic": {
      "update/pepeunit": ["d.example/input_base_topic/11111111-1111-4111-8111-111111111111/update/pepeunit"],
      "schema_update/pepeunit": ["d.example/input_base_topic/11111111-1111-4111-8111-111111111111/schema_update/pepeunit"]
    },
    "output_base_topic": {
      "state/pepeunit": ["d.example/output_base_topic/11111111-1111-4111-8111-111111111111/state/pepeunit"]
    },
    "input_topic": {
      "set/pepeunit": ["d.example/22222222-2222-4222-8222-222222222222/pepeunit",
                       "d.example/66666666-6666-4666-8666-666666666666/pepeunit",
                       "d.example/77777777-7777-4777-8777-777777777777"],
      "raw_in": ["d.example/33333333-3333-4333-8333-333333333333"]
    },
    "output_topic": {
      "temp/pepeunit": ["d.example/44444444-4444-4444-8444-444444444444/pepeunit"],
      "raw_value": ["d.example/55555555-5555-4555-8555-555555555555"]
    },
    "notes": {}
  })");
  CHECK(built == expected);
  // Key order is the example's, byte for byte.
  CHECK(built.dump() == expected.dump());
}

TEST_CASE("domain: buildUnitSchema names a node that is missing") {
  const auto schema = pd::parseSchemaExample(kValid);
  const auto unit = uuidOf("11111111-1111-4111-8111-111111111111");
  pd::UnitSchemaNodes nodes;
  nodes.inputs = {{"set_fan_state/pepeunit", unit}};
  nodes.outputs = {{"current_temp/pepeunit", unit}};  // raw_value missing
  try {
    pd::buildUnitSchema(schema, "d", unit, nodes);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.kind() == ErrorKind::kUnitValidation);
    CHECK(std::string(e.what()).find("Output node for topic 'raw_value'") != std::string::npos);
  }
}
