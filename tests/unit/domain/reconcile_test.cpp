// Node reconcile plan: initial creation, names added/removed between commits, type changes,
// duplicates in the store, and no-op when nothing changed.
#include "domain/reconcile.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace pd = pepeunit::domain;

namespace {

pd::Uuid uuidN(int n) {
  pd::Uuid::Bytes bytes{};
  bytes[15] = static_cast<std::uint8_t>(n);
  return pd::Uuid(bytes);
}

pd::SchemaExample schemaWith(const std::string& inputs, const std::string& outputs) {
  return pd::parseSchemaExample(R"({"input_base_topic":["update/pepeunit"],)"
                                R"("output_base_topic":["state/pepeunit"],"input_topic":)" +
                                inputs + R"(,"output_topic":)" + outputs + "}");
}

// "Input:name" / "Output:name" for readable comparisons.
std::vector<std::string> describe(const std::vector<pd::NodeToCreate>& nodes) {
  std::vector<std::string> out;
  out.reserve(nodes.size());
  for (const auto& node : nodes) {
    out.push_back(std::string(pd::toString(node.type)) + ":" + node.topic_name);
  }
  return out;
}

}  // namespace

TEST_CASE("domain: planNodeReconcile creates the initial nodes, Inputs first, in schema order") {
  const auto plan =
      planNodeReconcile({}, schemaWith(R"(["in_b/pepeunit","in_a"])", R"(["out/pepeunit"])"));
  CHECK(describe(plan.create) ==
        std::vector<std::string>{"Input:in_b/pepeunit", "Input:in_a", "Output:out/pepeunit"});
  CHECK(plan.remove.empty());
  // Base topics and extra sections create no nodes.
  CHECK(planNodeReconcile({}, schemaWith("[]", "[]")).empty());
}

TEST_CASE("domain: planNodeReconcile between two commits") {
  using T = pd::UnitNodeType;
  const std::vector<pd::ExistingNode> current = {
      {T::kInput, "keep_in", uuidN(1)},
      {T::kInput, "removed_in", uuidN(2)},
      {T::kOutput, "keep_out/pepeunit", uuidN(3)},
      {T::kOutput, "removed_out", uuidN(4)},
      {T::kOutput, "flips", uuidN(5)},  // becomes an Input in the new schema
  };
  const auto plan = pd::planNodeReconcile(
      current, schemaWith(R"(["keep_in","new_in","flips"])", R"(["keep_out/pepeunit","new_out"])"));
  CHECK(describe(plan.create) ==
        std::vector<std::string>{"Input:new_in", "Input:flips", "Output:new_out"});
  CHECK(plan.remove == std::vector<pd::Uuid>{uuidN(2), uuidN(4), uuidN(5)});
}

TEST_CASE("domain: planNodeReconcile is a no-op when nothing changed") {
  using T = pd::UnitNodeType;
  const std::vector<pd::ExistingNode> current = {{T::kOutput, "b", uuidN(2)},
                                                 {T::kInput, "a", uuidN(1)}};
  const auto plan = pd::planNodeReconcile(current, schemaWith(R"(["a"])", R"(["b"])"));
  CHECK(plan.empty());
}

TEST_CASE("domain: planNodeReconcile removes duplicate stored nodes, keeping the first") {
  using T = pd::UnitNodeType;
  const std::vector<pd::ExistingNode> current = {
      {T::kInput, "a", uuidN(1)},
      {T::kInput, "a", uuidN(2)},
      {T::kOutput, "a", uuidN(3)},  // same name, other type: not a duplicate
      {T::kInput, "a", uuidN(4)},
  };
  const auto plan = pd::planNodeReconcile(current, schemaWith(R"(["a"])", R"(["a"])"));
  CHECK(plan.create.empty());
  CHECK(plan.remove == std::vector<pd::Uuid>{uuidN(2), uuidN(4)});
}

TEST_CASE("domain: planNodeReconcile with an empty new schema removes every node") {
  using T = pd::UnitNodeType;
  const std::vector<pd::ExistingNode> current = {{T::kInput, "a", uuidN(1)},
                                                 {T::kOutput, "b", uuidN(2)}};
  const auto plan = pd::planNodeReconcile(current, schemaWith("[]", "[]"));
  CHECK(plan.create.empty());
  CHECK(plan.remove == std::vector<pd::Uuid>{uuidN(1), uuidN(2)});
}
