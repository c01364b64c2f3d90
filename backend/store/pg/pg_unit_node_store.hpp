// UnitNodeStore over PostgreSQL (schemas/sql/0001: units_nodes, units_nodes_edges with
// UNIQUE(node_output_uuid, node_input_uuid), permissions with UNIQUE(agent_uuid, resource_uuid)).
#pragma once

#include "store/pg/pool.hpp"
#include "store/unit_node_store.hpp"

namespace pepeunit::store::pg {

class PgUnitNodeStore : public UnitNodeStore {
 public:
  explicit PgUnitNodeStore(Pool& pool) : pool_(pool) {}

  std::optional<UnitNodeFacts> find(const domain::Uuid& uuid) override;
  std::optional<UnitFacts> findUnit(const domain::Uuid& uuid) override;
  UnitNodePage list(const UnitNodeFilter& filter, const domain::ListScope& scope) override;
  std::optional<UnitNode> updateSettings(const domain::Uuid& uuid,
                                         std::optional<domain::Visibility> visibility,
                                         std::optional<bool> is_rewritable_input) override;
  std::optional<UnitNode> updateNodeSettings(const domain::Uuid& uuid,
                                             std::optional<domain::Visibility> visibility,
                                             std::optional<bool> is_rewritable_input,
                                             const UnitNodeHistoryUpdate& history) override;
  std::optional<UnitNode> setState(const domain::Uuid& uuid,
                                   const std::optional<std::string>& state) override;
  UnitNodeEdge createEdge(const NewUnitNodeEdge& edge) override;
  std::optional<UnitNodeEdge> findEdge(const domain::Uuid& input,
                                       const domain::Uuid& output) override;
  bool deleteEdge(const domain::Uuid& input, const domain::Uuid& output) override;
  UnitNodeEdgePage listUnitEdges(const domain::Uuid& unit, std::int64_t offset,
                                 std::int64_t limit) override;

 private:
  Pool& pool_;
};

}  // namespace pepeunit::store::pg
