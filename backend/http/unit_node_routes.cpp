// Request parsing and response shaping for /unit_nodes; every rule lives in UnitNodeService.
#include "http/unit_node_routes.hpp"

#include "domain/names.hpp"
#include "http/user_routes.hpp"

namespace pepeunit::http {
namespace {

using domain::UnitNodeType;
using domain::Visibility;

nlohmann::json optionalUuid(const std::optional<domain::Uuid>& uuid) {
  return uuid ? nlohmann::json(uuid->toString()) : nlohmann::json(nullptr);
}

store::UnitNodeFilter unitNodeFilter(const Query& query, std::int64_t max_page) {
  store::UnitNodeFilter filter;
  filter.uuids = query.uuids("uuids");
  filter.unit_uuid = query.uuid("unit_uuid");
  if (const auto search = query.text("search_string")) {
    filter.search_words = domain::splitSearchWords(*search);
  }
  filter.types = query.enums<UnitNodeType>("type", domain::parseUnitNodeType);
  filter.output_uuid = query.uuid("output_uuid");
  filter.newest_first = query.descending("order_by_create_date").value_or(true);
  const auto paging = query.paging(max_page);
  filter.offset = paging.offset;
  filter.limit = paging.limit;
  return filter;
}

}  // namespace

nlohmann::json unitNodeRead(const store::UnitNode& node) {
  return {{"uuid", node.uuid.toString()},
          {"type", domain::toString(node.type)},
          {"visibility_level", domain::toString(node.visibility_level)},
          {"is_rewritable_input", node.is_rewritable_input},
          {"topic_name", node.topic_name},
          {"create_datetime", isoDatetime(node.create_datetime)},
          {"state", node.state ? nlohmann::json(*node.state) : nlohmann::json(nullptr)},
          {"last_update_datetime", isoDatetime(node.last_update_datetime)},
          {"unit_uuid", optionalUuid(node.unit_uuid)},
          {"creator_uuid", optionalUuid(node.creator_uuid)},
          {"history_policy", node.history_policy},
          {"history_deadband", node.history_deadband ? nlohmann::json(*node.history_deadband)
                                                     : nlohmann::json(nullptr)},
          {"history_retention_days", node.history_retention_days}};
}

nlohmann::json unitNodeEdgeRead(const store::UnitNodeEdge& edge) {
  return {{"uuid", edge.uuid.toString()},
          {"node_output_uuid", edge.node_output_uuid.toString()},
          {"node_input_uuid", edge.node_input_uuid.toString()}};
}

void registerUnitNodeRoutes(Api& api, service::UnitNodeService& nodes, std::int64_t max_page) {
  // Literal paths first: a `{uuid}` route must never see "create_unit_node_edge".
  api.post("/unit_nodes/create_unit_node_edge", [&nodes](RequestContext& ctx) {
    const auto body = ctx.body();
    const auto output = body.requiredUuid("node_output_uuid");
    const auto input = body.requiredUuid("node_input_uuid");
    ctx.sendJson(unitNodeEdgeRead(nodes.createEdge(ctx.principal, output, input)), 201);
  });

  api.del("/unit_nodes/delete_unit_node_edge", [&nodes](RequestContext& ctx) {
    const auto query = ctx.query();
    const auto input = query.requiredUuid("input_uuid");
    const auto output = query.requiredUuid("output_uuid");
    nodes.deleteEdge(ctx.principal, input, output);
    ctx.sendNoContent();
  });

  api.get("/unit_nodes/edges/{uuid}", [&nodes, max_page](RequestContext& ctx) {
    const auto unit = ctx.uuidParam("uuid");
    const auto paging = ctx.query().paging(max_page);
    const auto page = nodes.listUnitEdges(ctx.principal, unit, paging.offset, paging.limit);
    auto items = nlohmann::json::array();
    for (const auto& edge : page.rows) {
      items.push_back(unitNodeEdgeRead(edge));
    }
    ctx.sendJson({{"count", page.count}, {"unit_node_edges", std::move(items)}});
  });

  api.patch("/unit_nodes/set_state_input/{uuid}", [&nodes](RequestContext& ctx) {
    const auto uuid = ctx.uuidParam("uuid");
    const auto body = ctx.body();
    // Absent and null both clear the value (pydantic's `state: Optional[str] = None`).
    const auto state = body.nullableString("state").value_or(std::nullopt);
    ctx.sendJson(unitNodeRead(nodes.setStateInput(ctx.principal, uuid, state)));
  });

  api.get("/unit_nodes/{uuid}", [&nodes](RequestContext& ctx) {
    ctx.sendJson(unitNodeRead(nodes.get(ctx.principal, ctx.uuidParam("uuid"))));
  });

  api.patch("/unit_nodes/{uuid}", [&nodes](RequestContext& ctx) {
    const auto uuid = ctx.uuidParam("uuid");
    const auto body = ctx.body();
    service::UnitNodeUpdate update;
    update.visibility_level =
        body.optionalEnum<Visibility>("visibility_level", domain::parseVisibility);
    update.is_rewritable_input = body.optionalBool("is_rewritable_input");
    update.history.policy = body.optionalString("history_policy");
    if (update.history.policy && *update.history.policy != "off" &&
        *update.history.policy != "changes" && *update.history.policy != "all") {
      Body::invalid("history_policy",
                    "has an unknown value '" + *update.history.policy + "' (off, changes or all)");
    }
    if (body.has("history_deadband")) {
      const auto& deadband = body.json()["history_deadband"];
      if (deadband.is_null()) {
        update.history.deadband = std::optional<double>();
      } else if (deadband.is_number()) {
        update.history.deadband = deadband.get<double>();
      } else {
        Body::invalid("history_deadband", "must be a number or null");
      }
    }
    if (const auto days = body.optionalInt("history_retention_days")) {
      if (*days < 1 || *days > 3650) {
        Body::invalid("history_retention_days", "must be between 1 and 3650");
      }
      update.history.retention_days = static_cast<std::int32_t>(*days);
    }
    ctx.sendJson(unitNodeRead(nodes.update(ctx.principal, uuid, update)));
  });

  api.get("/unit_nodes", [&nodes, max_page](RequestContext& ctx) {
    const auto query = ctx.query();
    const auto filter = unitNodeFilter(query, max_page);
    const auto levels = query.enums<Visibility>("visibility_level", domain::parseVisibility);
    const auto page = nodes.list(ctx.principal, filter, levels);
    auto items = nlohmann::json::array();
    for (const auto& node : page.rows) {
      items.push_back(unitNodeRead(node));
    }
    ctx.sendJson({{"count", page.count}, {"unit_nodes", std::move(items)}});
  });
}

}  // namespace pepeunit::http
