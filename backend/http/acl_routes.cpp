// Rule-set and topic-check endpoints for brokers, and the access-change hook.
#include "http/acl_routes.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/errors.hpp"
#include "crypto/digest.hpp"

namespace pepeunit::http {
namespace {

constexpr std::string_view kBearer = "Bearer ";

bool isSuccess(int status) {
  return status >= 200 && status < 300;
}

/// The segment after `prefix` when `path` is exactly `prefix` + one segment.
std::optional<std::string_view> lastSegment(std::string_view path, std::string_view prefix) {
  if (!path.starts_with(prefix) || path.size() == prefix.size()) {
    return std::nullopt;
  }
  const auto rest = path.substr(prefix.size());
  if (rest.find('/') != std::string_view::npos) {
    return std::nullopt;
  }
  return rest;
}

void onChange(service::AclService& acl, const httplib::Request& req, std::string_view path) {
  const std::string& method = req.method;
  if (method == "POST" && path == "/permission") {
    const auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_object() && body.value("agent_type", "") == "Unit") {
      if (const auto agent = domain::Uuid::parse(body.value("agent_uuid", ""))) {
        acl.accessChanged(*agent, cache::AclChangeKind::kGrant);
      }
    }
    return;
  }
  if (method == "DELETE" && (path == "/permission" || lastSegment(path, "/permission/"))) {
    if (const auto agent = domain::Uuid::parse(req.get_param_value("agent_uuid"))) {
      acl.accessChanged(*agent, cache::AclChangeKind::kRevoke);
    }
    return;
  }
  if (method == "DELETE") {
    if (const auto unit = lastSegment(path, "/units/")) {
      if (const auto uuid = domain::Uuid::parse(*unit)) {
        acl.accessChanged(*uuid, cache::AclChangeKind::kDeleted);
      }
      return;
    }
  }
  const bool everything =
      (method == "POST" && (path == "/units" || path == "/unit_nodes/create_unit_node_edge" ||
                            path == "/repos/bulk_update")) ||
      (method == "PATCH" &&
       (lastSegment(path, "/units/") || lastSegment(path, "/unit_nodes/") ||
        lastSegment(path, "/repos/") || lastSegment(path, "/repos/update_local_repo/") ||
        lastSegment(path, "/repos/update_units_firmware/"))) ||
      (method == "DELETE" &&
       (path == "/unit_nodes/delete_unit_node_edge" || lastSegment(path, "/repos/")));
  if (everything) {
    acl.everythingChanged();
  }
}

}  // namespace

void registerAclRoutes(Api& api, service::AclService& acl, const service::AuthService& auth,
                       std::string plugin_token) {
  api.post("/mqtt/acl/rules", [&acl, token = std::move(plugin_token)](RequestContext& ctx) {
    if (token.empty()) {
      throw NotFound("Not Found");
    }
    const std::string& header = ctx.request.get_header_value("Authorization");
    const std::string_view given = std::string_view(header).starts_with(kBearer)
                                       ? std::string_view(header).substr(kBearer.size())
                                       : std::string_view();
    if (!crypto::constantTimeEquals(given, token)) {
      throw NoAccess("Invalid plugin token");
    }
    const auto principal = ctx.body().requiredString("principal");
    const auto rules = acl.ruleSetForPrincipal(principal);
    if (!rules) {
      throw NotFound("Principal not found");
    }
    ctx.sendJson(domain::ruleSetToJson(*rules));
  });

  // EMQX's HTTP authorizer: always 200; anything unexpected is a deny (spec §4.2).
  api.post("/units/auth", [&acl, &auth](RequestContext& ctx) {
    bool allow = false;
    try {
      const auto body = nlohmann::json::parse(ctx.request.body, nullptr, false);
      if (body.is_object() && body.contains("token") && body["token"].is_string() &&
          body.contains("topic") && body["topic"].is_string()) {
        const auto& token = body["token"].get_ref<const std::string&>();
        const auto& topic = body["topic"].get_ref<const std::string&>();
        if (acl.isBackendToken(token)) {
          allow = true;
        } else {
          const auto principal = auth.authenticate(token);
          allow = principal.isUnit() && acl.unitMayUse(*principal.uuid, topic);
        }
      }
    } catch (const std::exception&) {
      allow = false;  // invalid/expired token, unknown unit, store error: deny
    }
    ctx.sendJson({{"result", allow ? "allow" : "deny"}});
  });
}

void installAccessChangeHook(httplib::Server& server, std::string api_base,
                             service::AclService& acl) {
  server.set_post_routing_handler(
      [&acl, base = std::move(api_base)](const httplib::Request& req, httplib::Response& res) {
        if (req.method == "GET" || !isSuccess(res.status)) {
          return;
        }
        const std::string_view path(req.path);
        if (!path.starts_with(base)) {
          return;
        }
        try {
          onChange(acl, req, path.substr(base.size()));
        } catch (const std::exception& e) {
          spdlog::warn("acl: access-change hook failed: {}", e.what());
        }
      });
}

}  // namespace pepeunit::http
