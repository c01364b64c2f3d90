// The access model, as pure rules (pepeunit_backend_spec.md §1.6, §1.9, §2 conventions, §3.2,
// §3.6; issue 3 item 4). The service layer loads the facts (caller, creator, visibility, grants)
// and asks these functions; the broker plugin asks the same ones, so REST and MQTT agree.
//
// Deliberate departures from the original code (the issue overrides the spec):
//  * An Admin sees and manages every entity, Private ones included (the spec's "Admins are not
//    exempt" / "Admins get no bypass" is the original code's behaviour, not the product's rule).
//    An Admin still never reads or writes another user's encrypted data (env, repo credentials,
//    state storage): canReadSecrets/canWriteSecrets give Admins nothing extra.
//  * Time-limited grants: a Grant whose valid_until has passed counts nowhere.
//  * A Blocked user passes nothing at all, whatever the visibility or role list.
//  * Every check fails closed: a Principal that is not a well-formed User/Admin/Unit (e.g. no
//    uuid) is treated as the anonymous Bot.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <vector>

#include "common/errors.hpp"
#include "domain/enums.hpp"
#include "domain/uuid.hpp"

namespace pepeunit::domain {

/// The authenticated caller of a request (or of an MQTT operation).
struct Principal {
  AgentType type = AgentType::kUser;
  /// Meaningful for users only; the factories set kBot for Units (least privilege) and
  /// roleAllowed() decides Units by its `unit_allowed` flag instead.
  Role role = Role::kBot;
  std::optional<Uuid> uuid;
  /// Meaningful for users only.
  UserStatus status = UserStatus::kUnverified;

  /// The anonymous caller (no x-auth-token).
  static Principal bot();
  static Principal user(const Uuid& uuid, Role role, UserStatus status);
  static Principal unit(const Uuid& uuid);

  /// A User or Admin with a uuid (whatever its status; see isBlocked()).
  bool isUser() const;
  bool isAdmin() const;
  /// A Unit token with a uuid.
  bool isUnit() const;
  /// Anonymous, or anything that is neither a well-formed user nor a unit (fail closed).
  bool isBot() const;
  /// A Blocked User/Admin: passes no check at all.
  bool isBlocked() const;
};

/// One permission row as the access rules see it.
struct Grant {
  Uuid agent;
  Uuid resource;
  ResourceType resource_type = ResourceType::kRepo;
  /// Unix seconds; the grant counts while now < valid_until. nullopt = forever.
  std::optional<std::int64_t> valid_until_unix;

  bool activeAt(std::int64_t now) const;
};

/// True if `grants` holds an active grant of `agent` on `resource` at `now`.
bool hasActiveGrant(const std::vector<Grant>& grants, const Uuid& agent, const Uuid& resource,
                    std::int64_t now);

// ---- Roles (§3.2) ----------------------------------------------------------------------------

/// The `access_check(allowed_roles, is_unit_available)` gate of a route: a Bot passes iff kBot
/// is listed; a User/Admin iff its role is listed (no implied hierarchy: routes list "U, A");
/// a Unit iff `unit_allowed`. A Blocked user never passes.
bool roleAllowed(const Principal& principal, std::initializer_list<Role> roles, bool unit_allowed);

// ---- Visibility of a single object (§2 conventions) ------------------------------------------

/// Admin: everything. Public: everyone. Internal: any authenticated User/Admin or Unit.
/// Private: a User/Unit holding an active grant (agent = caller, resource = object).
/// Bot: Public only. Blocked user: nothing.
bool canView(const Principal& principal, Visibility visibility, bool has_active_grant);

// ---- Visibility of lists (§3.6) ----------------------------------------------------------------

/// The row filter for listing Repos, Units or UnitNodes. A row (level, uuid) is listed iff
/// level ∈ levels and (level != Private or unrestricted or uuid ∈ private_allowed).
struct ListScope {
  /// Admin: Private rows need no grant.
  bool unrestricted = false;
  /// Allowed levels in canonical order (Public, Internal, Private), no duplicates.
  /// EMPTY MEANS "NO ROWS", never "no filter".
  std::vector<Visibility> levels;
  /// Uuids whose Private rows may be listed; sorted and unique. Empty unless `levels` holds
  /// Private and the scope is not unrestricted.
  std::vector<Uuid> private_allowed;

  bool admits(Visibility level, const Uuid& uuid) const;
  bool matchesNothing() const { return levels.empty(); }
};

/// §3.6 plus the Admin rule. `requested` is the caller's `visibility_level[]` filter (empty =
/// all levels; duplicates and order do not matter). `caller_grants_of_that_type` are the
/// caller's grants on the resource type being listed; grants of other agents and expired ones
/// are ignored.
///  * Blocked user: no rows.
///  * Bot: [Public], whatever was requested (the spec replaces the filter).
///  * Admin: the requested levels, unrestricted.
///  * User/Unit with at least one active grant: the requested levels; Private rows only for the
///    granted uuids.
///  * User/Unit without an active grant: requested ∩ [Public, Internal]. The spec says the
///    filter is "replaced by [Public, Internal]"; we intersect with the request instead, because
///    a caller asking for Public only expects no Internal rows (the original's replacement
///    ignored the caller's own filter, which reads as a bug).
ListScope listScope(const Principal& principal, const std::vector<Visibility>& requested,
                    const std::vector<Grant>& caller_grants_of_that_type, std::int64_t now);

// ---- Creator rules ---------------------------------------------------------------------------

/// Update/delete an entity, manage its permissions, send it commands: its creator, or an Admin.
/// Units never manage.
bool canManage(const Principal& principal, const Uuid& creator_uuid);

/// Read encrypted data (Unit env, state storage, firmware archives holding the env; Repo
/// credentials): the creator User, or the Unit itself when `unit_uuid` is that Unit ("self/
/// creator" of §2.3). An Admin only for what it created itself.
bool canReadSecrets(const Principal& principal, const Uuid& creator_uuid,
                    std::optional<Uuid> unit_uuid);

/// Write encrypted data: the creator User (Admin only for its own). Pass `self_unit_uuid` where
/// the Unit itself may also write (state storage, §2.3 "self/creator"); leave it empty where
/// only the user may (env PATCH is "creator (Users only)", repo credentials).
bool canWriteSecrets(const Principal& principal, const Uuid& creator_uuid,
                     std::optional<Uuid> self_unit_uuid = std::nullopt);

// ---- Visibility monotonicity (§1.9) -------------------------------------------------------------

/// A child (Unit under Repo, UnitNode under Unit) is never more public than its parent.
bool childVisibilityAllowed(Visibility parent, Visibility child);

/// The more restrictive of the two: used to raise nodes when their Unit's level is raised.
Visibility raisedTo(Visibility current, Visibility floor);

// ---- Automatic permissions (§1.6)
// -----------------------------------------------------------------

/// A permission to create (or remove).
struct GrantSpec {
  AgentType agent_type = AgentType::kUser;
  Uuid agent;
  ResourceType resource_type = ResourceType::kRepo;
  Uuid resource;

  friend bool operator==(const GrantSpec&, const GrantSpec&) = default;
};

/// Creator User → Repo.
std::vector<GrantSpec> grantsForRepoCreated(const Uuid& creator, const Uuid& repo);

/// Creator User → Unit; Unit → itself.
std::vector<GrantSpec> grantsForUnitCreated(const Uuid& creator, const Uuid& unit);

/// Owning Unit → node; acting User → node. With no user acting (unattended update, reconcile)
/// pass the Unit's creator: the original granted a null "Bot" agent (Appendix A item 4).
std::vector<GrantSpec> grantsForUnitNodeCreated(const Uuid& unit, const Uuid& node,
                                                const Uuid& acting_user);

/// Output's Unit → input node; input's Unit → output node; output's Unit → input's Unit.
/// Existing rows are not an error (the service inserts with ON CONFLICT DO NOTHING).
std::vector<GrantSpec> grantsForEdgeCreated(const Uuid& output_unit, const Uuid& input_node,
                                            const Uuid& input_unit, const Uuid& output_node);

/// Removal of (output's Unit → input node), as the original does. Beyond the original: nothing
/// is removed while another edge still links an Output node of `output_unit` to `input_node`,
/// since that edge still needs the grant.
std::vector<GrantSpec> revokesForEdgeDeleted(const Uuid& output_unit, const Uuid& input_node,
                                             bool unit_still_linked_to_input);

// ---- Permission deletion (§1.9, last bullet)
// ------------------------------------------------------

enum class PermissionDeleteDenial {
  kNotAllowed,     // caller is neither the resource's creator, the agent itself nor an Admin
  kSelfAccess,     // an entity's access to itself (a Unit → the same Unit)
  kCreatorAccess,  // the resource creator's own access
  kUnitOwnNode,    // a Unit's access to its own node
};

/// Why `caller` may not delete the permission (agent → resource); nullopt when allowed.
/// Allowed callers: the resource creator, the agent itself (a User; Units cannot call the
/// route, §2.6) and Admins. The structural prohibitions hold for Admins too.
/// `node_owner_unit` is the owning Unit when `resource_type` is UnitNode.
std::optional<PermissionDeleteDenial> permissionDeleteDenial(
    const Principal& caller, const Uuid& resource_creator, const Uuid& agent, const Uuid& resource,
    AgentType agent_type, ResourceType resource_type, std::optional<Uuid> node_owner_unit);

bool canDeletePermission(const Principal& caller, const Uuid& resource_creator, const Uuid& agent,
                         const Uuid& resource, AgentType agent_type, ResourceType resource_type,
                         std::optional<Uuid> node_owner_unit);

/// Client-facing message for the denial.
std::string_view describe(PermissionDeleteDenial denial);

/// kNotAllowed → kNoAccess (1); the structural prohibitions → kPermissionValidation (4).
ErrorKind errorKindFor(PermissionDeleteDenial denial);

}  // namespace pepeunit::domain
