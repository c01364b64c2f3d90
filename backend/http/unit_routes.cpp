// Request parsing and response shaping for /units; every rule lives in UnitService.
#include "http/unit_routes.hpp"

#include <optional>
#include <string>

#include "domain/names.hpp"
#include "firmware/archive.hpp"
#include "http/user_routes.hpp"

namespace pepeunit::http {
namespace {

using domain::Uuid;
using domain::Visibility;

std::optional<service::UnitCommand> parseUnitCommand(std::string_view text) {
  for (auto command : {service::UnitCommand::kUpdate, service::UnitCommand::kEnvUpdate,
                       service::UnitCommand::kSchemaUpdate, service::UnitCommand::kLogSync}) {
    if (service::toString(command) == text) {
      return command;
    }
  }
  return std::nullopt;
}

nlohmann::json optionalText(const std::optional<std::string>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json optionalUuid(const std::optional<Uuid>& value) {
  return value ? nlohmann::json(value->toString()) : nlohmann::json(nullptr);
}

/// The stored state message as an object; null when absent or not an object (never an error).
nlohmann::json unitState(const std::optional<std::string>& text) {
  if (!text) {
    return nullptr;
  }
  auto state = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (state.is_discarded() || !state.is_object()) {
    return nullptr;
  }
  return state;
}

nlohmann::json unitNodeRead(const store::UnitNode& node) {
  return {{"uuid", node.uuid.toString()},
          {"type", domain::toString(node.type)},
          {"visibility_level", domain::toString(node.visibility_level)},
          {"is_rewritable_input", node.is_rewritable_input},
          {"topic_name", node.topic_name},
          {"create_datetime", isoDatetime(node.create_datetime)},
          {"state", optionalText(node.state)},
          {"last_update_datetime", isoDatetime(node.last_update_datetime)},
          {"unit_uuid", optionalUuid(node.unit_uuid)},
          {"creator_uuid", optionalUuid(node.creator_uuid)}};
}

/// Sends an ordered document as it is (key order kept, e.g. env.json as the developer wrote it).
void sendOrdered(RequestContext& ctx, const nlohmann::ordered_json& value) {
  ctx.response.status = 200;
  ctx.response.set_content(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                           "application/json");
}

std::optional<std::optional<std::string>> nullableText(const Body& body, const std::string& field) {
  return body.nullableString(field);
}

service::UnitCreate unitCreate(const Body& body) {
  service::UnitCreate request;
  request.repo_uuid = body.requiredUuid("repo_uuid");
  request.visibility_level =
      body.optionalEnum<Visibility>("visibility_level", domain::parseVisibility)
          .value_or(Visibility::kPublic);
  request.name = body.requiredString("name");
  request.is_auto_update_from_repo_unit =
      body.optionalBool("is_auto_update_from_repo_unit").value_or(true);
  request.target_firmware_platform = body.optionalString("target_firmware_platform");
  request.repo_branch = body.optionalString("repo_branch");
  request.repo_commit = body.optionalString("repo_commit");
  return request;
}

service::UnitUpdate unitUpdate(const Body& body) {
  service::UnitUpdate request;
  request.visibility_level =
      body.optionalEnum<Visibility>("visibility_level", domain::parseVisibility);
  request.name = body.optionalString("name");
  request.is_auto_update_from_repo_unit = body.optionalBool("is_auto_update_from_repo_unit");
  request.target_firmware_platform = nullableText(body, "target_firmware_platform");
  request.repo_branch = nullableText(body, "repo_branch");
  request.repo_commit = nullableText(body, "repo_commit");
  return request;
}

store::UnitFilter unitFilter(const Query& query, std::int64_t max_page) {
  store::UnitFilter filter;
  filter.uuids = query.uuids("uuids");
  filter.creator_uuid = query.uuid("creator_uuid");
  filter.repo_uuid = query.uuid("repo_uuid");
  filter.repos_uuids = query.uuids("repos_uuids");
  if (const auto search = query.text("search_string")) {
    filter.search_words = domain::splitSearchWords(*search);
  }
  filter.is_auto_update_from_repo_unit = query.boolean("is_auto_update_from_repo_unit");
  filter.visibility_levels = query.enums<Visibility>("visibility_level", domain::parseVisibility);
  filter.order_name_desc = query.descending("order_by_unit_name").value_or(false);
  filter.order_create_desc = query.descending("order_by_create_date").value_or(true);
  filter.order_update_desc = query.descending("order_by_last_update").value_or(true);
  const auto paging = query.paging(max_page);
  filter.offset = paging.offset;
  filter.limit = paging.limit;
  filter.include_nodes = query.boolean("is_include_output_unit_nodes").value_or(false);
  filter.unit_node_input_uuid = query.uuid("unit_node_input_uuid");
  filter.unit_node_types =
      query.enums<domain::UnitNodeType>("unit_node_type", domain::parseUnitNodeType);
  filter.unit_node_uuids = query.uuids("unit_node_uuids");
  return filter;
}

/// An int query parameter that must fit an int (wbits/level); the service checks the range.
int intParam(const Query& query, const std::string& name, int fallback) {
  const auto value = query.integer(name);
  if (!value) {
    return fallback;
  }
  if (*value < -1000 || *value > 1000) {
    Query::invalid(name, "is out of range");
  }
  return static_cast<int>(*value);
}

void registerFirmwareRoute(Api& api, service::UnitService& units, firmware::ArchiveFormat format) {
  const std::string path = "/units/firmware/" + std::string(firmware::toString(format)) + "/{uuid}";
  api.get(path, [&units, format](RequestContext& ctx) {
    const auto uuid = ctx.uuidParam("uuid");
    int wbits = firmware::kDefaultWbits;
    int level = firmware::kDefaultLevel;
    if (format == firmware::ArchiveFormat::kTgz) {
      const auto query = ctx.query();
      wbits = intParam(query, "wbits", firmware::kDefaultWbits);
      level = intParam(query, "level", firmware::kDefaultLevel);
    }
    const auto archive = units.firmware(ctx.principal, uuid, format, wbits, level);
    // One body with Content-Length (never chunked, never re-encoded: devices write everything
    // up to the end of the body into the archive file).
    ctx.response.status = 200;
    ctx.response.set_header("Content-Disposition",
                            "attachment; filename=\"" + archive.filename + "\"");
    ctx.response.set_content(archive.data, "application/octet-stream");
  });
}

}  // namespace

nlohmann::json unitRead(const store::Unit& unit, const std::vector<store::UnitNode>& nodes) {
  auto unit_nodes = nlohmann::json::array();
  for (const auto& node : nodes) {
    unit_nodes.push_back(unitNodeRead(node));
  }
  return {
      {"uuid", unit.uuid.toString()},
      {"visibility_level", domain::toString(unit.visibility_level)},
      {"name", unit.name},
      {"create_datetime", isoDatetime(unit.create_datetime)},
      {"is_auto_update_from_repo_unit", unit.is_auto_update_from_repo_unit},
      {"target_firmware_platform", optionalText(unit.target_firmware_platform)},
      {"repo_branch", optionalText(unit.repo_branch)},
      {"repo_commit", optionalText(unit.repo_commit)},
      {"unit_state", unitState(unit.unit_state_dict)},
      {"current_commit_version", optionalText(unit.current_commit_version)},
      {"last_update_datetime", isoDatetime(unit.last_update_datetime)},
      {"creator_uuid", optionalUuid(unit.creator_uuid)},
      {"repo_uuid", optionalUuid(unit.repo_uuid)},
      {"firmware_update_status",
       unit.firmware_update_status ? nlohmann::json(domain::toString(*unit.firmware_update_status))
                                   : nlohmann::json(nullptr)},
      {"firmware_update_error", optionalText(unit.firmware_update_error)},
      {"last_firmware_update_datetime",
       unit.last_firmware_update_datetime
           ? nlohmann::json(isoDatetime(*unit.last_firmware_update_datetime))
           : nlohmann::json(nullptr)},
      {"unit_nodes", std::move(unit_nodes)}};
}

void registerUnitRoutes(Api& api, service::UnitService& units, std::int64_t max_page) {
  api.post("/units", [&units](RequestContext& ctx) {
    const auto request = unitCreate(ctx.body());
    ctx.sendJson(unitRead(units.create(ctx.principal, request)), 201);
  });

  // Literal-prefix paths first: a `{uuid}` route must never see "env" or "firmware".
  api.get("/units/env/{uuid}", [&units](RequestContext& ctx) {
    sendOrdered(ctx, units.env(ctx.principal, ctx.uuidParam("uuid")));
  });

  api.patch("/units/env/{uuid}", [&units](RequestContext& ctx) {
    const auto uuid = ctx.uuidParam("uuid");
    const auto env_json_string = ctx.body().requiredString("env_json_string");
    units.setEnv(ctx.principal, uuid, env_json_string);
    ctx.sendNoContent();
  });

  api.get("/units/get_target_version/{uuid}", [&units](RequestContext& ctx) {
    const auto target = units.targetVersion(ctx.principal, ctx.uuidParam("uuid"));
    ctx.sendJson({{"commit", target.commit}, {"tag", optionalText(target.tag)}});
  });

  api.get("/units/get_current_schema/{uuid}", [&units](RequestContext& ctx) {
    sendOrdered(ctx, units.currentSchema(ctx.principal, ctx.uuidParam("uuid")));
  });

  for (auto format : {firmware::ArchiveFormat::kZip, firmware::ArchiveFormat::kTar,
                      firmware::ArchiveFormat::kTgz}) {
    registerFirmwareRoute(api, units, format);
  }

  api.post("/units/set_state_storage/{uuid}", [&units](RequestContext& ctx) {
    const auto uuid = ctx.uuidParam("uuid");
    const auto state = ctx.body().requiredString("state");
    units.setStateStorage(ctx.principal, uuid, state);
    ctx.sendNoContent();
  });

  api.get("/units/get_state_storage/{uuid}", [&units](RequestContext& ctx) {
    ctx.sendJson(units.stateStorage(ctx.principal, ctx.uuidParam("uuid")));
  });

  api.post("/units/send_command_to_input_base_topic/{uuid}", [&units](RequestContext& ctx) {
    const auto uuid = ctx.uuidParam("uuid");
    const auto query = ctx.query();
    const auto text = query.requiredText("command");
    const auto command = parseUnitCommand(text);
    if (!command) {
      Query::invalid("command", "has an unknown value '" + text +
                                    "' (Update, EnvUpdate, SchemaUpdate or LogSync)");
    }
    units.sendCommand(ctx.principal, uuid, *command);
    ctx.sendNoContent();
  });

  api.get("/units/{uuid}", [&units](RequestContext& ctx) {
    ctx.sendJson(unitRead(units.get(ctx.principal, ctx.uuidParam("uuid"))));
  });

  api.patch("/units/{uuid}", [&units](RequestContext& ctx) {
    const auto uuid = ctx.uuidParam("uuid");
    const auto request = unitUpdate(ctx.body());
    ctx.sendJson(unitRead(units.update(ctx.principal, uuid, request)));
  });

  api.del("/units/{uuid}", [&units](RequestContext& ctx) {
    units.remove(ctx.principal, ctx.uuidParam("uuid"));
    ctx.sendNoContent();
  });

  api.get("/units", [&units, max_page](RequestContext& ctx) {
    const auto page = units.list(ctx.principal, unitFilter(ctx.query(), max_page));
    auto items = nlohmann::json::array();
    for (const auto& item : page.rows) {
      items.push_back(unitRead(item.unit, item.nodes));
    }
    ctx.sendJson({{"count", page.count}, {"units", std::move(items)}});
  });
}

}  // namespace pepeunit::http
