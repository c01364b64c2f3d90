// Node reconcile plan.
#include "domain/reconcile.hpp"

#include <set>
#include <utility>

namespace pepeunit::domain {

ReconcilePlan planNodeReconcile(const std::vector<ExistingNode>& current,
                                const SchemaExample& schema) {
  using Key = std::pair<UnitNodeType, std::string>;
  std::set<Key> wanted;
  for (const auto& name : schema.inputTopics()) {
    wanted.emplace(UnitNodeType::kInput, name);
  }
  for (const auto& name : schema.outputTopics()) {
    wanted.emplace(UnitNodeType::kOutput, name);
  }

  ReconcilePlan plan;
  std::set<Key> kept;
  for (const auto& node : current) {
    Key key{node.type, node.topic_name};
    if (wanted.count(key) != 0 && kept.insert(key).second) {
      continue;
    }
    plan.remove.push_back(node.uuid);
  }

  auto add_missing = [&](UnitNodeType type, const std::vector<std::string>& names) {
    for (const auto& name : names) {
      if (kept.count(Key{type, name}) == 0) {
        plan.create.push_back({type, name});
      }
    }
  };
  add_missing(UnitNodeType::kInput, schema.inputTopics());
  add_missing(UnitNodeType::kOutput, schema.outputTopics());
  return plan;
}

}  // namespace pepeunit::domain
