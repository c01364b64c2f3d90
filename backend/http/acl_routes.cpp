// Rule-set and topic-check endpoints for brokers.
#include "http/acl_routes.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/errors.hpp"
#include "crypto/digest.hpp"

namespace pepeunit::http {
namespace {

constexpr std::string_view kBearer = "Bearer ";

/// The plugin's endpoints: 404 while no plugin token is configured, 403 for a wrong bearer.
void requirePluginToken(const RequestContext& ctx, const std::string& token) {
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
}

}  // namespace

void registerAclRoutes(Api& api, service::AclService& acl, const service::AuthService& auth,
                       std::string plugin_token) {
  api.post("/mqtt/acl/rules", [&acl, token = plugin_token](RequestContext& ctx) {
    requirePluginToken(ctx, token);
    const auto principal = ctx.body().requiredString("principal");
    const auto rules = acl.serializedRuleSetForPrincipal(principal);
    if (!rules) {
      throw NotFound("Principal not found");
    }
    ctx.sendJsonText(*rules);
  });

  api.post("/mqtt/acl/check", [&acl, token = std::move(plugin_token)](RequestContext& ctx) {
    requirePluginToken(ctx, token);
    const auto body = ctx.body();
    const auto principal = body.requiredString("principal");
    const auto action = body.requiredEnum<domain::AclAction>(
        "action", [](const std::string& name) { return domain::parseAclAction(name); });
    const auto topic = body.requiredString("topic");
    const auto decision = acl.checkTopic(principal, action, topic);
    if (!decision) {
      throw NotFound("Principal not found");
    }
    ctx.sendJson({{"result", decision->allow ? "allow" : "deny"}, {"ttl", decision->ttl_s}});
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

}  // namespace pepeunit::http
