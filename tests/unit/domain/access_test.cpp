// The access model, row by row: every caller kind × visibility × permission state for single
// objects and for list scopes, plus roles, creator rules, monotonicity, automatic permissions and
// permission deletion.
#include "domain/access.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pd = pepeunit::domain;

using pd::AgentType;
using pd::Principal;
using pd::ResourceType;
using pd::Role;
using pd::UserStatus;
using pd::Uuid;
using pd::Visibility;

namespace {

constexpr Uuid uuidOf(std::uint8_t n) {
  Uuid::Bytes bytes{};
  bytes[15] = n;
  return Uuid(bytes);
}

constexpr std::int64_t kNow = 1'700'000'000;

constexpr Uuid kCaller = uuidOf(1);  // the user/unit making the request
constexpr Uuid kObject = uuidOf(2);  // the entity being read or listed (the granted one)
constexpr Uuid kOther = uuidOf(3);   // an entity the caller holds no grant for
constexpr Uuid kStranger = uuidOf(9);

enum class Caller { kBot, kUser, kAdmin, kUnit, kBlocked };
enum class Perm { kNone, kActive, kExpired };

const char* name(Caller c) {
  switch (c) {
    case Caller::kBot:
      return "Bot";
    case Caller::kUser:
      return "User";
    case Caller::kAdmin:
      return "Admin";
    case Caller::kUnit:
      return "Unit";
    case Caller::kBlocked:
      return "Blocked user";
  }
  return "?";
}

const char* name(Perm p) {
  switch (p) {
    case Perm::kNone:
      return "no permission";
    case Perm::kActive:
      return "active permission";
    case Perm::kExpired:
      return "expired permission";
  }
  return "?";
}

Principal principalFor(Caller c) {
  switch (c) {
    case Caller::kBot:
      return Principal::bot();
    case Caller::kUser:
      return Principal::user(kCaller, Role::kUser, UserStatus::kVerified);
    case Caller::kAdmin:
      return Principal::user(kCaller, Role::kAdmin, UserStatus::kVerified);
    case Caller::kUnit:
      return Principal::unit(kCaller);
    case Caller::kBlocked:
      return Principal::user(kCaller, Role::kUser, UserStatus::kBlocked);
  }
  return Principal::bot();
}

// The caller's grants on kObject. A Bot holds none, so for Bot rows the grant belongs to
// kCaller: it must not help the anonymous caller either.
std::vector<pd::Grant> grantsFor(Perm p) {
  switch (p) {
    case Perm::kNone:
      return {};
    case Perm::kActive:
      return {{kCaller, kObject, ResourceType::kUnit, kNow + 3600}};
    case Perm::kExpired:
      return {{kCaller, kObject, ResourceType::kUnit, kNow - 1}};
  }
  return {};
}

constexpr Caller kAllCallers[] = {Caller::kBot, Caller::kUser, Caller::kAdmin, Caller::kUnit,
                                  Caller::kBlocked};
constexpr Perm kAllPerms[] = {Perm::kNone, Perm::kActive, Perm::kExpired};
constexpr Visibility kAllLevels[] = {Visibility::kPublic, Visibility::kInternal,
                                     Visibility::kPrivate};

}  // namespace

TEST_CASE("domain: Principal kinds") {
  const Principal bot = Principal::bot();
  CHECK(bot.isBot());
  CHECK_FALSE(bot.isUser());
  CHECK_FALSE(bot.isAdmin());
  CHECK_FALSE(bot.isUnit());
  CHECK_FALSE(bot.isBlocked());

  const Principal user = principalFor(Caller::kUser);
  CHECK(user.isUser());
  CHECK_FALSE(user.isAdmin());
  CHECK_FALSE(user.isBot());
  CHECK_FALSE(user.isUnit());

  const Principal admin = principalFor(Caller::kAdmin);
  CHECK(admin.isUser());
  CHECK(admin.isAdmin());

  const Principal unit = principalFor(Caller::kUnit);
  CHECK(unit.isUnit());
  CHECK_FALSE(unit.isUser());
  CHECK_FALSE(unit.isAdmin());
  CHECK_FALSE(unit.isBot());
  CHECK_FALSE(unit.isBlocked());

  CHECK(principalFor(Caller::kBlocked).isBlocked());
  CHECK(Principal::user(kCaller, Role::kAdmin, UserStatus::kBlocked).isBlocked());
  CHECK_FALSE(Principal::user(kCaller, Role::kUser, UserStatus::kUnverified).isBlocked());

  // Malformed principals fail closed to Bot.
  CHECK(Principal{AgentType::kUser, Role::kAdmin, std::nullopt, UserStatus::kVerified}.isBot());
  CHECK_FALSE(
      Principal{AgentType::kUser, Role::kAdmin, std::nullopt, UserStatus::kVerified}.isAdmin());
  CHECK(Principal{AgentType::kUnit, Role::kBot, std::nullopt, UserStatus::kVerified}.isBot());
  CHECK(Principal{AgentType::kUser, Role::kBot, kCaller, UserStatus::kVerified}.isBot());
}

TEST_CASE("domain: Grant activity and expiry") {
  const pd::Grant forever{kCaller, kObject, ResourceType::kRepo, std::nullopt};
  CHECK(forever.activeAt(kNow));
  CHECK(forever.activeAt(INT64_MAX));
  const pd::Grant until{kCaller, kObject, ResourceType::kRepo, kNow};
  CHECK(until.activeAt(kNow - 1));
  CHECK_FALSE(until.activeAt(kNow));  // valid_until itself is already past
  CHECK_FALSE(until.activeAt(kNow + 1));

  const std::vector<pd::Grant> grants{until, {kStranger, kOther, ResourceType::kRepo, {}}};
  CHECK(pd::hasActiveGrant(grants, kCaller, kObject, kNow - 1));
  CHECK_FALSE(pd::hasActiveGrant(grants, kCaller, kObject, kNow));
  CHECK_FALSE(pd::hasActiveGrant(grants, kCaller, kOther, kNow - 1));  // someone else's grant
  CHECK(pd::hasActiveGrant(grants, kStranger, kOther, kNow));
  CHECK_FALSE(pd::hasActiveGrant({}, kCaller, kObject, kNow));
}

TEST_CASE("domain: canView for every caller x visibility x permission") {
  struct Row {
    Caller caller;
    Visibility level;
    Perm perm;
    bool visible;
  };
  const Row rows[] = {
      {Caller::kBot, Visibility::kPublic, Perm::kNone, true},
      {Caller::kBot, Visibility::kPublic, Perm::kActive, true},
      {Caller::kBot, Visibility::kPublic, Perm::kExpired, true},
      {Caller::kBot, Visibility::kInternal, Perm::kNone, false},
      {Caller::kBot, Visibility::kInternal, Perm::kActive, false},
      {Caller::kBot, Visibility::kInternal, Perm::kExpired, false},
      {Caller::kBot, Visibility::kPrivate, Perm::kNone, false},
      {Caller::kBot, Visibility::kPrivate, Perm::kActive, false},
      {Caller::kBot, Visibility::kPrivate, Perm::kExpired, false},

      {Caller::kUser, Visibility::kPublic, Perm::kNone, true},
      {Caller::kUser, Visibility::kPublic, Perm::kActive, true},
      {Caller::kUser, Visibility::kPublic, Perm::kExpired, true},
      {Caller::kUser, Visibility::kInternal, Perm::kNone, true},
      {Caller::kUser, Visibility::kInternal, Perm::kActive, true},
      {Caller::kUser, Visibility::kInternal, Perm::kExpired, true},
      {Caller::kUser, Visibility::kPrivate, Perm::kNone, false},
      {Caller::kUser, Visibility::kPrivate, Perm::kActive, true},
      {Caller::kUser, Visibility::kPrivate, Perm::kExpired, false},

      {Caller::kAdmin, Visibility::kPublic, Perm::kNone, true},
      {Caller::kAdmin, Visibility::kPublic, Perm::kActive, true},
      {Caller::kAdmin, Visibility::kPublic, Perm::kExpired, true},
      {Caller::kAdmin, Visibility::kInternal, Perm::kNone, true},
      {Caller::kAdmin, Visibility::kInternal, Perm::kActive, true},
      {Caller::kAdmin, Visibility::kInternal, Perm::kExpired, true},
      {Caller::kAdmin, Visibility::kPrivate, Perm::kNone, true},
      {Caller::kAdmin, Visibility::kPrivate, Perm::kActive, true},
      {Caller::kAdmin, Visibility::kPrivate, Perm::kExpired, true},

      {Caller::kUnit, Visibility::kPublic, Perm::kNone, true},
      {Caller::kUnit, Visibility::kPublic, Perm::kActive, true},
      {Caller::kUnit, Visibility::kPublic, Perm::kExpired, true},
      {Caller::kUnit, Visibility::kInternal, Perm::kNone, true},
      {Caller::kUnit, Visibility::kInternal, Perm::kActive, true},
      {Caller::kUnit, Visibility::kInternal, Perm::kExpired, true},
      {Caller::kUnit, Visibility::kPrivate, Perm::kNone, false},
      {Caller::kUnit, Visibility::kPrivate, Perm::kActive, true},
      {Caller::kUnit, Visibility::kPrivate, Perm::kExpired, false},

      {Caller::kBlocked, Visibility::kPublic, Perm::kNone, false},
      {Caller::kBlocked, Visibility::kPublic, Perm::kActive, false},
      {Caller::kBlocked, Visibility::kPublic, Perm::kExpired, false},
      {Caller::kBlocked, Visibility::kInternal, Perm::kNone, false},
      {Caller::kBlocked, Visibility::kInternal, Perm::kActive, false},
      {Caller::kBlocked, Visibility::kInternal, Perm::kExpired, false},
      {Caller::kBlocked, Visibility::kPrivate, Perm::kNone, false},
      {Caller::kBlocked, Visibility::kPrivate, Perm::kActive, false},
      {Caller::kBlocked, Visibility::kPrivate, Perm::kExpired, false},
  };
  REQUIRE(std::size(rows) == 45);
  for (const Row& row : rows) {
    INFO(name(row.caller) << " / " << pd::toString(row.level) << " / " << name(row.perm));
    const Principal p = principalFor(row.caller);
    // The grant flag as the service computes it: the caller's own active grant on the object.
    const bool has_grant =
        p.uuid.has_value() && pd::hasActiveGrant(grantsFor(row.perm), *p.uuid, kObject, kNow);
    CHECK(pd::canView(p, row.level, has_grant) == row.visible);
  }
  // Even if told it holds a grant, the anonymous caller sees Public only.
  CHECK_FALSE(pd::canView(Principal::bot(), Visibility::kPrivate, true));
  CHECK_FALSE(pd::canView(Principal::bot(), Visibility::kInternal, true));
  // A blocked Admin is blocked.
  CHECK_FALSE(pd::canView(Principal::user(kCaller, Role::kAdmin, UserStatus::kBlocked),
                          Visibility::kPublic, true));
}

TEST_CASE("domain: listScope for every caller x permission x requested levels") {
  using V = Visibility;
  const std::vector<V> req_all{};
  const std::vector<V> req_public{V::kPublic};
  const std::vector<V> req_private{V::kPrivate};
  const std::vector<V> req_internal_private{V::kPrivate, V::kInternal, V::kPrivate};  // unsorted

  struct Row {
    Caller caller;
    Perm perm;
    const std::vector<V>* requested;
    bool unrestricted;
    std::vector<V> levels;
    std::vector<Uuid> private_allowed;
  };
  const std::vector<Uuid> none;
  const std::vector<Uuid> obj{kObject};
  const std::vector<V> all{V::kPublic, V::kInternal, V::kPrivate};
  const std::vector<V> pub{V::kPublic};
  const std::vector<V> pub_int{V::kPublic, V::kInternal};
  const std::vector<V> intl{V::kInternal};
  const std::vector<V> priv{V::kPrivate};
  const std::vector<V> int_priv{V::kInternal, V::kPrivate};
  const std::vector<V> empty;

  const Row rows[] = {
      // Bot: [Public] whatever was requested, grants irrelevant.
      {Caller::kBot, Perm::kNone, &req_all, false, pub, none},
      {Caller::kBot, Perm::kNone, &req_public, false, pub, none},
      {Caller::kBot, Perm::kNone, &req_private, false, pub, none},
      {Caller::kBot, Perm::kNone, &req_internal_private, false, pub, none},
      {Caller::kBot, Perm::kActive, &req_all, false, pub, none},
      {Caller::kBot, Perm::kActive, &req_public, false, pub, none},
      {Caller::kBot, Perm::kActive, &req_private, false, pub, none},
      {Caller::kBot, Perm::kActive, &req_internal_private, false, pub, none},
      {Caller::kBot, Perm::kExpired, &req_all, false, pub, none},
      {Caller::kBot, Perm::kExpired, &req_public, false, pub, none},
      {Caller::kBot, Perm::kExpired, &req_private, false, pub, none},
      {Caller::kBot, Perm::kExpired, &req_internal_private, false, pub, none},

      // User: no active grant -> requested ∩ [Public, Internal]; active -> requested, Private
      // only for granted uuids.
      {Caller::kUser, Perm::kNone, &req_all, false, pub_int, none},
      {Caller::kUser, Perm::kNone, &req_public, false, pub, none},
      {Caller::kUser, Perm::kNone, &req_private, false, empty, none},
      {Caller::kUser, Perm::kNone, &req_internal_private, false, intl, none},
      {Caller::kUser, Perm::kActive, &req_all, false, all, obj},
      {Caller::kUser, Perm::kActive, &req_public, false, pub, none},
      {Caller::kUser, Perm::kActive, &req_private, false, priv, obj},
      {Caller::kUser, Perm::kActive, &req_internal_private, false, int_priv, obj},
      {Caller::kUser, Perm::kExpired, &req_all, false, pub_int, none},
      {Caller::kUser, Perm::kExpired, &req_public, false, pub, none},
      {Caller::kUser, Perm::kExpired, &req_private, false, empty, none},
      {Caller::kUser, Perm::kExpired, &req_internal_private, false, intl, none},

      // Admin: requested levels, unrestricted.
      {Caller::kAdmin, Perm::kNone, &req_all, true, all, none},
      {Caller::kAdmin, Perm::kNone, &req_public, true, pub, none},
      {Caller::kAdmin, Perm::kNone, &req_private, true, priv, none},
      {Caller::kAdmin, Perm::kNone, &req_internal_private, true, int_priv, none},
      {Caller::kAdmin, Perm::kActive, &req_all, true, all, none},
      {Caller::kAdmin, Perm::kActive, &req_public, true, pub, none},
      {Caller::kAdmin, Perm::kActive, &req_private, true, priv, none},
      {Caller::kAdmin, Perm::kActive, &req_internal_private, true, int_priv, none},
      {Caller::kAdmin, Perm::kExpired, &req_all, true, all, none},
      {Caller::kAdmin, Perm::kExpired, &req_public, true, pub, none},
      {Caller::kAdmin, Perm::kExpired, &req_private, true, priv, none},
      {Caller::kAdmin, Perm::kExpired, &req_internal_private, true, int_priv, none},

      // Unit: same rules as a User, with the Unit's own grants.
      {Caller::kUnit, Perm::kNone, &req_all, false, pub_int, none},
      {Caller::kUnit, Perm::kNone, &req_public, false, pub, none},
      {Caller::kUnit, Perm::kNone, &req_private, false, empty, none},
      {Caller::kUnit, Perm::kNone, &req_internal_private, false, intl, none},
      {Caller::kUnit, Perm::kActive, &req_all, false, all, obj},
      {Caller::kUnit, Perm::kActive, &req_public, false, pub, none},
      {Caller::kUnit, Perm::kActive, &req_private, false, priv, obj},
      {Caller::kUnit, Perm::kActive, &req_internal_private, false, int_priv, obj},
      {Caller::kUnit, Perm::kExpired, &req_all, false, pub_int, none},
      {Caller::kUnit, Perm::kExpired, &req_public, false, pub, none},
      {Caller::kUnit, Perm::kExpired, &req_private, false, empty, none},
      {Caller::kUnit, Perm::kExpired, &req_internal_private, false, intl, none},

      // Blocked: no rows at all.
      {Caller::kBlocked, Perm::kNone, &req_all, false, empty, none},
      {Caller::kBlocked, Perm::kNone, &req_public, false, empty, none},
      {Caller::kBlocked, Perm::kNone, &req_private, false, empty, none},
      {Caller::kBlocked, Perm::kNone, &req_internal_private, false, empty, none},
      {Caller::kBlocked, Perm::kActive, &req_all, false, empty, none},
      {Caller::kBlocked, Perm::kActive, &req_public, false, empty, none},
      {Caller::kBlocked, Perm::kActive, &req_private, false, empty, none},
      {Caller::kBlocked, Perm::kActive, &req_internal_private, false, empty, none},
      {Caller::kBlocked, Perm::kExpired, &req_all, false, empty, none},
      {Caller::kBlocked, Perm::kExpired, &req_public, false, empty, none},
      {Caller::kBlocked, Perm::kExpired, &req_private, false, empty, none},
      {Caller::kBlocked, Perm::kExpired, &req_internal_private, false, empty, none},
  };
  REQUIRE(std::size(rows) == 60);
  for (const Row& row : rows) {
    std::string requested;
    for (V v : *row.requested) {
      requested += std::string(pd::toString(v)) + " ";
    }
    INFO(name(row.caller) << " / " << name(row.perm) << " / requested [" << requested << "]");
    const pd::ListScope scope =
        pd::listScope(principalFor(row.caller), *row.requested, grantsFor(row.perm), kNow);
    CHECK(scope.unrestricted == row.unrestricted);
    CHECK(scope.levels == row.levels);
    CHECK(scope.private_allowed == row.private_allowed);
    CHECK(scope.matchesNothing() == row.levels.empty());
  }
}

TEST_CASE("domain: list rows admitted for every caller x visibility x permission") {
  struct Row {
    Caller caller;
    Visibility level;
    Perm perm;
    bool granted_row_listed;  // a row with uuid kObject (the one the grant names)
    bool other_row_listed;    // a row with uuid kOther (no grant)
  };
  const Row rows[] = {
      {Caller::kBot, Visibility::kPublic, Perm::kNone, true, true},
      {Caller::kBot, Visibility::kPublic, Perm::kActive, true, true},
      {Caller::kBot, Visibility::kPublic, Perm::kExpired, true, true},
      {Caller::kBot, Visibility::kInternal, Perm::kNone, false, false},
      {Caller::kBot, Visibility::kInternal, Perm::kActive, false, false},
      {Caller::kBot, Visibility::kInternal, Perm::kExpired, false, false},
      {Caller::kBot, Visibility::kPrivate, Perm::kNone, false, false},
      {Caller::kBot, Visibility::kPrivate, Perm::kActive, false, false},
      {Caller::kBot, Visibility::kPrivate, Perm::kExpired, false, false},

      {Caller::kUser, Visibility::kPublic, Perm::kNone, true, true},
      {Caller::kUser, Visibility::kPublic, Perm::kActive, true, true},
      {Caller::kUser, Visibility::kPublic, Perm::kExpired, true, true},
      {Caller::kUser, Visibility::kInternal, Perm::kNone, true, true},
      {Caller::kUser, Visibility::kInternal, Perm::kActive, true, true},
      {Caller::kUser, Visibility::kInternal, Perm::kExpired, true, true},
      {Caller::kUser, Visibility::kPrivate, Perm::kNone, false, false},
      {Caller::kUser, Visibility::kPrivate, Perm::kActive, true, false},
      {Caller::kUser, Visibility::kPrivate, Perm::kExpired, false, false},

      {Caller::kAdmin, Visibility::kPublic, Perm::kNone, true, true},
      {Caller::kAdmin, Visibility::kPublic, Perm::kActive, true, true},
      {Caller::kAdmin, Visibility::kPublic, Perm::kExpired, true, true},
      {Caller::kAdmin, Visibility::kInternal, Perm::kNone, true, true},
      {Caller::kAdmin, Visibility::kInternal, Perm::kActive, true, true},
      {Caller::kAdmin, Visibility::kInternal, Perm::kExpired, true, true},
      {Caller::kAdmin, Visibility::kPrivate, Perm::kNone, true, true},
      {Caller::kAdmin, Visibility::kPrivate, Perm::kActive, true, true},
      {Caller::kAdmin, Visibility::kPrivate, Perm::kExpired, true, true},

      {Caller::kUnit, Visibility::kPublic, Perm::kNone, true, true},
      {Caller::kUnit, Visibility::kPublic, Perm::kActive, true, true},
      {Caller::kUnit, Visibility::kPublic, Perm::kExpired, true, true},
      {Caller::kUnit, Visibility::kInternal, Perm::kNone, true, true},
      {Caller::kUnit, Visibility::kInternal, Perm::kActive, true, true},
      {Caller::kUnit, Visibility::kInternal, Perm::kExpired, true, true},
      {Caller::kUnit, Visibility::kPrivate, Perm::kNone, false, false},
      {Caller::kUnit, Visibility::kPrivate, Perm::kActive, true, false},
      {Caller::kUnit, Visibility::kPrivate, Perm::kExpired, false, false},

      {Caller::kBlocked, Visibility::kPublic, Perm::kNone, false, false},
      {Caller::kBlocked, Visibility::kPublic, Perm::kActive, false, false},
      {Caller::kBlocked, Visibility::kPublic, Perm::kExpired, false, false},
      {Caller::kBlocked, Visibility::kInternal, Perm::kNone, false, false},
      {Caller::kBlocked, Visibility::kInternal, Perm::kActive, false, false},
      {Caller::kBlocked, Visibility::kInternal, Perm::kExpired, false, false},
      {Caller::kBlocked, Visibility::kPrivate, Perm::kNone, false, false},
      {Caller::kBlocked, Visibility::kPrivate, Perm::kActive, false, false},
      {Caller::kBlocked, Visibility::kPrivate, Perm::kExpired, false, false},
  };
  REQUIRE(std::size(rows) == 45);
  for (const Row& row : rows) {
    INFO(name(row.caller) << " / " << pd::toString(row.level) << " / " << name(row.perm));
    const pd::ListScope scope =
        pd::listScope(principalFor(row.caller), {}, grantsFor(row.perm), kNow);
    CHECK(scope.admits(row.level, kObject) == row.granted_row_listed);
    CHECK(scope.admits(row.level, kOther) == row.other_row_listed);
  }
}

TEST_CASE("domain: a list shows exactly what a get would show") {
  for (Caller caller : kAllCallers) {
    for (Perm perm : kAllPerms) {
      for (Visibility level : kAllLevels) {
        INFO(name(caller) << " / " << pd::toString(level) << " / " << name(perm));
        const Principal p = principalFor(caller);
        const auto grants = grantsFor(perm);
        const bool has_grant =
            p.uuid.has_value() && pd::hasActiveGrant(grants, *p.uuid, kObject, kNow);
        CHECK(pd::listScope(p, {}, grants, kNow).admits(level, kObject) ==
              pd::canView(p, level, has_grant));
      }
    }
  }
}

TEST_CASE("domain: listScope ignores other agents' grants and dedups granted uuids") {
  const Principal user = principalFor(Caller::kUser);
  // Only someone else's grant: as if the caller had none.
  const std::vector<pd::Grant> foreign{{kStranger, kObject, ResourceType::kRepo, std::nullopt}};
  pd::ListScope scope = pd::listScope(user, {}, foreign, kNow);
  CHECK(scope.levels == std::vector<Visibility>{Visibility::kPublic, Visibility::kInternal});
  CHECK(scope.private_allowed.empty());

  // Mixed: active (forever and future), expired and duplicated grants.
  const std::vector<pd::Grant> mixed{
      {kCaller, kOther, ResourceType::kRepo, std::nullopt},
      {kCaller, kObject, ResourceType::kRepo, kNow + 1},
      {kCaller, kObject, ResourceType::kRepo, std::nullopt},
      {kCaller, kStranger, ResourceType::kRepo, kNow},  // expires exactly now
      {kStranger, uuidOf(7), ResourceType::kRepo, std::nullopt},
  };
  scope = pd::listScope(user, {}, mixed, kNow);
  CHECK(scope.private_allowed == std::vector<Uuid>{kObject, kOther});
  CHECK(scope.admits(Visibility::kPrivate, kOther));
  CHECK_FALSE(scope.admits(Visibility::kPrivate, kStranger));
  CHECK_FALSE(scope.admits(Visibility::kPrivate, uuidOf(7)));

  // Only expired grants: as if none.
  const std::vector<pd::Grant> expired{{kCaller, kObject, ResourceType::kRepo, kNow}};
  scope = pd::listScope(user, {Visibility::kPrivate}, expired, kNow);
  CHECK(scope.levels.empty());
  CHECK(scope.matchesNothing());
  CHECK_FALSE(scope.admits(Visibility::kPrivate, kObject));
}

TEST_CASE("domain: roleAllowed per route role list") {
  using R = Role;
  struct Row {
    Caller caller;
    std::initializer_list<Role> roles;
    bool unit_allowed;
    bool allowed;
  };
  const Row rows[] = {
      // "Bot, U, A" (public reads)
      {Caller::kBot, {R::kBot, R::kUser, R::kAdmin}, false, true},
      {Caller::kUser, {R::kBot, R::kUser, R::kAdmin}, false, true},
      {Caller::kAdmin, {R::kBot, R::kUser, R::kAdmin}, false, true},
      {Caller::kUnit, {R::kBot, R::kUser, R::kAdmin}, false, false},
      {Caller::kBlocked, {R::kBot, R::kUser, R::kAdmin}, false, false},
      // "Bot, U, A, Unit"
      {Caller::kBot, {R::kBot, R::kUser, R::kAdmin}, true, true},
      {Caller::kUnit, {R::kBot, R::kUser, R::kAdmin}, true, true},
      {Caller::kBlocked, {R::kBot, R::kUser, R::kAdmin}, true, false},
      // "U, A"
      {Caller::kBot, {R::kUser, R::kAdmin}, false, false},
      {Caller::kUser, {R::kUser, R::kAdmin}, false, true},
      {Caller::kAdmin, {R::kUser, R::kAdmin}, false, true},
      {Caller::kUnit, {R::kUser, R::kAdmin}, false, false},
      {Caller::kBlocked, {R::kUser, R::kAdmin}, false, false},
      // "U, A, Unit"
      {Caller::kBot, {R::kUser, R::kAdmin}, true, false},
      {Caller::kUnit, {R::kUser, R::kAdmin}, true, true},
      {Caller::kBlocked, {R::kUser, R::kAdmin}, true, false},
      // "A"
      {Caller::kBot, {R::kAdmin}, false, false},
      {Caller::kUser, {R::kAdmin}, false, false},
      {Caller::kAdmin, {R::kAdmin}, false, true},
      {Caller::kUnit, {R::kAdmin}, false, false},
      {Caller::kBlocked, {R::kAdmin}, false, false},
      // "Bot" only (register): no implied hierarchy.
      {Caller::kBot, {R::kBot}, false, true},
      {Caller::kUser, {R::kBot}, false, false},
      {Caller::kAdmin, {R::kBot}, false, false},
      // "U" only: an Admin is not implied.
      {Caller::kAdmin, {R::kUser}, false, false},
      // Nothing listed.
      {Caller::kUser, {}, false, false},
      {Caller::kUnit, {}, true, true},
  };
  for (const Row& row : rows) {
    INFO(name(row.caller) << " unit_allowed=" << row.unit_allowed);
    CHECK(pd::roleAllowed(principalFor(row.caller), row.roles, row.unit_allowed) == row.allowed);
  }
  CHECK_FALSE(pd::roleAllowed(Principal::user(kCaller, Role::kAdmin, UserStatus::kBlocked),
                              {Role::kAdmin}, true));
}

TEST_CASE("domain: creator rules (manage, read and write secrets)") {
  const Uuid creator = uuidOf(10);
  const Uuid other_user = uuidOf(11);
  const Uuid unit = uuidOf(20);
  const Uuid other_unit = uuidOf(21);
  const Principal creator_p = Principal::user(creator, Role::kUser, UserStatus::kVerified);
  const Principal creator_admin = Principal::user(creator, Role::kAdmin, UserStatus::kVerified);
  const Principal other_p = Principal::user(other_user, Role::kUser, UserStatus::kUnverified);
  const Principal admin = Principal::user(other_user, Role::kAdmin, UserStatus::kVerified);
  const Principal unit_p = Principal::unit(unit);
  const Principal other_unit_p = Principal::unit(other_unit);
  const Principal blocked_creator = Principal::user(creator, Role::kUser, UserStatus::kBlocked);
  const Principal bot = Principal::bot();
  // A Unit principal whose uuid equals the creator's (cannot happen; must not confuse kinds).
  const Principal unit_named_creator = Principal::unit(creator);

  struct Row {
    const char* who;
    const Principal* p;
    bool manage;
    bool read_unit_secrets;    // env / state storage of `unit`
    bool read_repo_secrets;    // repo credentials (no unit involved)
    bool write_env;            // env PATCH: creator users only
    bool write_state_storage;  // self/creator
  };
  const Row rows[] = {
      {"creator user", &creator_p, true, true, true, true, true},
      {"creator admin", &creator_admin, true, true, true, true, true},
      {"other user", &other_p, false, false, false, false, false},
      {"admin, not creator", &admin, true, false, false, false, false},
      {"the unit itself", &unit_p, false, true, false, false, true},
      {"another unit", &other_unit_p, false, false, false, false, false},
      {"blocked creator", &blocked_creator, false, false, false, false, false},
      {"bot", &bot, false, false, false, false, false},
      {"unit with the creator's uuid", &unit_named_creator, false, false, false, false, false},
  };
  for (const Row& row : rows) {
    INFO(row.who);
    CHECK(pd::canManage(*row.p, creator) == row.manage);
    CHECK(pd::canReadSecrets(*row.p, creator, unit) == row.read_unit_secrets);
    CHECK(pd::canReadSecrets(*row.p, creator, std::nullopt) == row.read_repo_secrets);
    CHECK(pd::canWriteSecrets(*row.p, creator) == row.write_env);
    CHECK(pd::canWriteSecrets(*row.p, creator, unit) == row.write_state_storage);
  }
}

TEST_CASE("domain: visibility monotonicity") {
  using V = Visibility;
  struct Row {
    V parent;
    V child;
    bool allowed;
    V raised;  // raisedTo(child, parent)
  };
  const Row rows[] = {
      {V::kPublic, V::kPublic, true, V::kPublic},
      {V::kPublic, V::kInternal, true, V::kInternal},
      {V::kPublic, V::kPrivate, true, V::kPrivate},
      {V::kInternal, V::kPublic, false, V::kInternal},
      {V::kInternal, V::kInternal, true, V::kInternal},
      {V::kInternal, V::kPrivate, true, V::kPrivate},
      {V::kPrivate, V::kPublic, false, V::kPrivate},
      {V::kPrivate, V::kInternal, false, V::kPrivate},
      {V::kPrivate, V::kPrivate, true, V::kPrivate},
  };
  for (const Row& row : rows) {
    INFO("parent " << pd::toString(row.parent) << ", child " << pd::toString(row.child));
    CHECK(pd::childVisibilityAllowed(row.parent, row.child) == row.allowed);
    CHECK(pd::toString(pd::raisedTo(row.child, row.parent)) == pd::toString(row.raised));
    CHECK(pd::childVisibilityAllowed(row.parent, pd::raisedTo(row.child, row.parent)));
  }
}

TEST_CASE("domain: automatic permissions") {
  using GS = pd::GrantSpec;
  const Uuid user = uuidOf(10);
  const Uuid repo = uuidOf(30);
  const Uuid unit = uuidOf(20);
  const Uuid node = uuidOf(40);
  const Uuid out_unit = uuidOf(21);
  const Uuid in_unit = uuidOf(22);
  const Uuid out_node = uuidOf(41);
  const Uuid in_node = uuidOf(42);

  CHECK(pd::grantsForRepoCreated(user, repo) ==
        std::vector<GS>{{AgentType::kUser, user, ResourceType::kRepo, repo}});
  CHECK(pd::grantsForUnitCreated(user, unit) ==
        std::vector<GS>{{AgentType::kUser, user, ResourceType::kUnit, unit},
                        {AgentType::kUnit, unit, ResourceType::kUnit, unit}});
  CHECK(pd::grantsForUnitNodeCreated(unit, node, user) ==
        std::vector<GS>{{AgentType::kUnit, unit, ResourceType::kUnitNode, node},
                        {AgentType::kUser, user, ResourceType::kUnitNode, node}});
  // No agent is ever nil (Appendix A item 4).
  for (const GS& g : pd::grantsForUnitNodeCreated(unit, node, user)) {
    CHECK_FALSE(g.agent.isNil());
  }
  CHECK(pd::grantsForEdgeCreated(out_unit, in_node, in_unit, out_node) ==
        std::vector<GS>{{AgentType::kUnit, out_unit, ResourceType::kUnitNode, in_node},
                        {AgentType::kUnit, in_unit, ResourceType::kUnitNode, out_node},
                        {AgentType::kUnit, out_unit, ResourceType::kUnit, in_unit}});
  CHECK(pd::revokesForEdgeDeleted(out_unit, in_node, false) ==
        std::vector<GS>{{AgentType::kUnit, out_unit, ResourceType::kUnitNode, in_node}});
  CHECK(pd::revokesForEdgeDeleted(out_unit, in_node, true).empty());
}

TEST_CASE("domain: permission deletion rules") {
  using D = pd::PermissionDeleteDenial;
  const Uuid creator = uuidOf(10);
  const Uuid agent_user = uuidOf(11);
  const Uuid admin_uuid = uuidOf(12);
  const Uuid stranger = uuidOf(13);
  const Uuid repo = uuidOf(30);
  const Uuid unit = uuidOf(20);
  const Uuid unit2 = uuidOf(21);
  const Uuid node = uuidOf(40);

  const Principal creator_p = Principal::user(creator, Role::kUser, UserStatus::kVerified);
  const Principal agent_p = Principal::user(agent_user, Role::kUser, UserStatus::kVerified);
  const Principal admin_p = Principal::user(admin_uuid, Role::kAdmin, UserStatus::kVerified);
  const Principal stranger_p = Principal::user(stranger, Role::kUser, UserStatus::kVerified);
  const Principal unit2_p = Principal::unit(unit2);
  const Principal bot = Principal::bot();
  const Principal blocked_creator = Principal::user(creator, Role::kUser, UserStatus::kBlocked);
  const Principal blocked_agent = Principal::user(agent_user, Role::kUser, UserStatus::kBlocked);

  struct Row {
    const char* what;
    const Principal* caller;
    Uuid agent;
    AgentType agent_type;
    Uuid resource;
    ResourceType resource_type;
    std::optional<Uuid> node_owner;
    std::optional<D> denial;
  };
  const Row rows[] = {
      {"creator removes a user's repo access", &creator_p, agent_user, AgentType::kUser, repo,
       ResourceType::kRepo, std::nullopt, std::nullopt},
      {"agent removes its own access", &agent_p, agent_user, AgentType::kUser, repo,
       ResourceType::kRepo, std::nullopt, std::nullopt},
      {"admin removes a user's access", &admin_p, agent_user, AgentType::kUser, repo,
       ResourceType::kRepo, std::nullopt, std::nullopt},
      {"creator removes another unit's node access", &creator_p, unit2, AgentType::kUnit, node,
       ResourceType::kUnitNode, unit, std::nullopt},
      {"creator removes a unit's unit access", &creator_p, unit2, AgentType::kUnit, unit,
       ResourceType::kUnit, std::nullopt, std::nullopt},
      {"stranger", &stranger_p, agent_user, AgentType::kUser, repo, ResourceType::kRepo,
       std::nullopt, D::kNotAllowed},
      {"stranger, creator access (who is checked first)", &stranger_p, creator, AgentType::kUser,
       repo, ResourceType::kRepo, std::nullopt, D::kNotAllowed},
      {"bot", &bot, agent_user, AgentType::kUser, repo, ResourceType::kRepo, std::nullopt,
       D::kNotAllowed},
      {"unit caller, its own grant", &unit2_p, unit2, AgentType::kUnit, unit, ResourceType::kUnit,
       std::nullopt, D::kNotAllowed},
      {"blocked creator", &blocked_creator, agent_user, AgentType::kUser, repo, ResourceType::kRepo,
       std::nullopt, D::kNotAllowed},
      {"blocked agent", &blocked_agent, agent_user, AgentType::kUser, repo, ResourceType::kRepo,
       std::nullopt, D::kNotAllowed},
      {"user uuid as a unit agent is not 'the agent itself'", &agent_p, agent_user,
       AgentType::kUnit, repo, ResourceType::kRepo, std::nullopt, D::kNotAllowed},
      {"creator's own access", &creator_p, creator, AgentType::kUser, repo, ResourceType::kRepo,
       std::nullopt, D::kCreatorAccess},
      {"admin removes creator's access", &admin_p, creator, AgentType::kUser, repo,
       ResourceType::kRepo, std::nullopt, D::kCreatorAccess},
      {"unit's access to itself", &creator_p, unit, AgentType::kUnit, unit, ResourceType::kUnit,
       std::nullopt, D::kSelfAccess},
      {"admin, unit's access to itself", &admin_p, unit, AgentType::kUnit, unit,
       ResourceType::kUnit, std::nullopt, D::kSelfAccess},
      {"unit's access to its own node", &creator_p, unit, AgentType::kUnit, node,
       ResourceType::kUnitNode, unit, D::kUnitOwnNode},
      {"admin, unit's access to its own node", &admin_p, unit, AgentType::kUnit, node,
       ResourceType::kUnitNode, unit, D::kUnitOwnNode},
  };
  for (const Row& row : rows) {
    INFO(row.what);
    const auto denial =
        pd::permissionDeleteDenial(*row.caller, creator, row.agent, row.resource, row.agent_type,
                                   row.resource_type, row.node_owner);
    CHECK(denial == row.denial);
    CHECK(pd::canDeletePermission(*row.caller, creator, row.agent, row.resource, row.agent_type,
                                  row.resource_type, row.node_owner) == !row.denial.has_value());
  }

  for (D d : {D::kNotAllowed, D::kSelfAccess, D::kCreatorAccess, D::kUnitOwnNode}) {
    CHECK_FALSE(pd::describe(d).empty());
  }
  CHECK(pd::errorKindFor(D::kNotAllowed) == pepeunit::ErrorKind::kNoAccess);
  CHECK(pd::errorKindFor(D::kSelfAccess) == pepeunit::ErrorKind::kPermissionValidation);
  CHECK(pd::errorKindFor(D::kCreatorAccess) == pepeunit::ErrorKind::kPermissionValidation);
  CHECK(pd::errorKindFor(D::kUnitOwnNode) == pepeunit::ErrorKind::kPermissionValidation);
}
