// UnitNodeService rules (spec §1.4-§1.6, §1.9, §2.5) against in-memory stores: who may read,
// list, change and set nodes, what each mistake answers, which permissions come and go with an
// edge, and which commands and publishes the use cases hand to their adapters.
#include "service/unit_node_service.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <string>

#include "fakes/fake_permission_store.hpp"
#include "fakes/recording_access_events.hpp"

namespace {

using pepeunit::Error;
using pepeunit::ErrorKind;
using pepeunit::domain::AgentType;
using pepeunit::domain::Principal;
using pepeunit::domain::ResourceType;
using pepeunit::domain::Role;
using pepeunit::domain::UnitNodeType;
using pepeunit::domain::UserStatus;
using pepeunit::domain::Uuid;
using pepeunit::domain::Visibility;
using pepeunit::service::NodeValuePublisher;
using pepeunit::service::RecordingCommandSender;
using pepeunit::service::RecordingNodeValuePublisher;
using pepeunit::service::UnitNodeService;
using pepeunit::service::UnitNodeUpdate;
using pepeunit::testing::FakePermissionStore;
namespace store = pepeunit::store;

Uuid id(int n) {
  Uuid::Bytes bytes{};
  bytes[0] = 0x20;
  bytes[15] = static_cast<std::uint8_t>(n);
  return Uuid(bytes);
}

/// In-memory UnitNodeStore with the PostgreSQL store's contract; edge grants and revokes go
/// to the FakePermissionStore it is given, as the real store writes them in one transaction.
class FakeUnitNodeStore : public store::UnitNodeStore {
 public:
  explicit FakeUnitNodeStore(FakePermissionStore& permissions) : permissions_(permissions) {}

  void addUnit(const Uuid& unit, const Uuid& creator, Visibility level) {
    units_[unit] = {unit, creator, level};
  }
  void addNode(const Uuid& node, const Uuid& unit, UnitNodeType type, Visibility level,
               const std::string& topic_name = "value/pepeunit") {
    store::UnitNode row;
    row.uuid = node;
    row.type = type;
    row.visibility_level = level;
    row.topic_name = topic_name;
    row.creator_uuid = units_.at(unit).creator;
    row.unit_uuid = unit;
    row.create_datetime = store::Timestamp(std::chrono::microseconds(++tick_));
    row.last_update_datetime = row.create_datetime;
    nodes_[node] = row;
  }
  store::UnitNode& node(const Uuid& uuid) { return nodes_.at(uuid); }
  const std::vector<store::UnitNodeEdge>& edges() const { return edges_; }
  /// The scope the last list() call received.
  const pepeunit::domain::ListScope& lastScope() const { return last_scope_; }

  std::optional<store::UnitNodeFacts> find(const Uuid& uuid) override {
    const auto it = nodes_.find(uuid);
    if (it == nodes_.end())
      return std::nullopt;
    store::UnitNodeFacts facts{it->second, std::nullopt, std::nullopt};
    if (const auto unit = units_.find(*it->second.unit_uuid); unit != units_.end()) {
      facts.unit_creator = unit->second.creator;
      facts.unit_visibility = unit->second.visibility_level;
    }
    return facts;
  }

  std::optional<store::UnitFacts> findUnit(const Uuid& uuid) override {
    const auto it = units_.find(uuid);
    if (it == units_.end())
      return std::nullopt;
    return it->second;
  }

  store::UnitNodePage list(const store::UnitNodeFilter& filter,
                           const pepeunit::domain::ListScope& scope) override {
    last_scope_ = scope;
    std::vector<store::UnitNode> matching;
    for (const auto& [uuid, row] : nodes_) {
      if (!scope.admits(row.visibility_level, uuid))
        continue;
      if (!filter.uuids.empty() &&
          std::find(filter.uuids.begin(), filter.uuids.end(), uuid) == filter.uuids.end())
        continue;
      if (filter.unit_uuid && row.unit_uuid != filter.unit_uuid)
        continue;
      if (!filter.types.empty() &&
          std::find(filter.types.begin(), filter.types.end(), row.type) == filter.types.end())
        continue;
      if (filter.output_uuid &&
          std::none_of(edges_.begin(), edges_.end(), [&](const store::UnitNodeEdge& e) {
            return e.node_output_uuid == *filter.output_uuid && e.node_input_uuid == uuid;
          }))
        continue;
      matching.push_back(row);
    }
    store::UnitNodePage page;
    page.count = static_cast<std::int64_t>(matching.size());
    page.rows = std::move(matching);
    return page;
  }

  std::optional<store::UnitNode> updateSettings(const Uuid& uuid,
                                                std::optional<Visibility> visibility,
                                                std::optional<bool> is_rewritable_input) override {
    const auto it = nodes_.find(uuid);
    if (it == nodes_.end())
      return std::nullopt;
    if (visibility)
      it->second.visibility_level = *visibility;
    if (is_rewritable_input)
      it->second.is_rewritable_input = *is_rewritable_input;
    it->second.last_update_datetime = store::Timestamp(std::chrono::microseconds(++tick_));
    return it->second;
  }

  /// The history policy is not modelled here (history_pgtest covers it): accepted and ignored.
  std::optional<store::UnitNode> updateNodeSettings(const Uuid& uuid,
                                                    std::optional<Visibility> visibility,
                                                    std::optional<bool> is_rewritable_input,
                                                    const store::UnitNodeHistoryUpdate&) override {
    return updateSettings(uuid, visibility, is_rewritable_input);
  }

  std::optional<store::UnitNode> setState(const Uuid& uuid,
                                          const std::optional<std::string>& state) override {
    const auto it = nodes_.find(uuid);
    if (it == nodes_.end())
      return std::nullopt;
    it->second.state = state;
    it->second.last_update_datetime = store::Timestamp(std::chrono::microseconds(++tick_));
    return it->second;
  }

  store::UnitNodeEdge createEdge(const store::NewUnitNodeEdge& edge) override {
    if (findEdge(edge.node_input_uuid, edge.node_output_uuid)) {
      throw Error(ErrorKind::kUnitNodeValidation, "Edge exist");
    }
    for (const auto& grant : edge.grants) {
      if (!permissions_.find(grant.agent, grant.resource)) {
        permissions_.seed(grant.agent_type, grant.agent, grant.resource_type, grant.resource);
      }
    }
    edges_.push_back({id(200 + static_cast<int>(edges_.size())), edge.node_output_uuid,
                      edge.node_input_uuid, edge.creator_uuid});
    return edges_.back();
  }

  std::optional<store::UnitNodeEdge> findEdge(const Uuid& input, const Uuid& output) override {
    for (const auto& e : edges_) {
      if (e.node_input_uuid == input && e.node_output_uuid == output)
        return e;
    }
    return std::nullopt;
  }

  bool deleteEdge(const Uuid& input, const Uuid& output) override {
    const auto before = edges_.size();
    std::erase_if(edges_, [&](const store::UnitNodeEdge& e) {
      return e.node_input_uuid == input && e.node_output_uuid == output;
    });
    if (edges_.size() == before)
      return false;
    const Uuid output_unit = *nodes_.at(output).unit_uuid;
    if (output_unit == *nodes_.at(input).unit_uuid)
      return true;
    const bool still_linked = std::any_of(edges_.begin(), edges_.end(), [&](const auto& e) {
      return e.node_input_uuid == input && nodes_.at(e.node_output_uuid).unit_uuid == output_unit;
    });
    for (const auto& revoke :
         pepeunit::domain::revokesForEdgeDeleted(output_unit, input, still_linked)) {
      permissions_.remove(revoke.agent, revoke.resource);
    }
    return true;
  }

  store::UnitNodeEdgePage listUnitEdges(const Uuid& unit, std::int64_t offset,
                                        std::int64_t limit) override {
    store::UnitNodeEdgePage page;
    for (const auto& e : edges_) {
      if (nodes_.at(e.node_output_uuid).unit_uuid == unit ||
          nodes_.at(e.node_input_uuid).unit_uuid == unit) {
        if (page.count >= offset && page.count < offset + limit)
          page.rows.push_back(e);
        ++page.count;
      }
    }
    return page;
  }

 private:
  FakePermissionStore& permissions_;
  std::map<Uuid, store::UnitFacts> units_;
  std::map<Uuid, store::UnitNode> nodes_;
  std::vector<store::UnitNodeEdge> edges_;
  std::int64_t tick_ = 0;
  pepeunit::domain::ListScope last_scope_;
};

class FailingPublisher : public NodeValuePublisher {
 public:
  bool publish(const Uuid&, bool, const std::string&) override { return false; }
};

/// Runs `f`, requires it to throw pepeunit::Error, returns "<code>: <message>".
std::string failure(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return std::to_string(e.code()) + ": " + e.what();
  }
  return "no error";
}

std::string code(ErrorKind kind, const std::string& message) {
  return std::to_string(static_cast<int>(kind)) + ": " + message;
}

const std::string kNoObject = code(ErrorKind::kValidation, "The object does not exist");

// alice created unit A (Public) with Output a_out and Input a_in, and Private unit P with
// Private Input p_in; bob created unit B (Internal) with Output b_out and Input b_in. carol is
// an Admin, dave is blocked, erin is a plain user with no grants. Automatic grants as §1.6.
struct World {
  std::int64_t now = 1'700'000'000;
  FakePermissionStore permissions;
  FakeUnitNodeStore nodes{permissions};
  RecordingCommandSender commands;
  RecordingNodeValuePublisher published;
  pepeunit::testing::RecordingAccessEvents events;
  UnitNodeService service{nodes, permissions, commands, published, [this] { return now; }, &events};

  Uuid alice = id(1), bob = id(2), carol = id(3), dave = id(4), erin = id(5);
  Uuid unit_a = id(10), unit_b = id(11), unit_p = id(12);
  Uuid a_out = id(20), a_in = id(21), b_out = id(22), b_in = id(23), p_in = id(24);

  Principal aliceP = Principal::user(alice, Role::kUser, UserStatus::kVerified);
  Principal bobP = Principal::user(bob, Role::kUser, UserStatus::kVerified);
  Principal carolP = Principal::user(carol, Role::kAdmin, UserStatus::kVerified);
  Principal daveP = Principal::user(dave, Role::kUser, UserStatus::kBlocked);
  Principal erinP = Principal::user(erin, Role::kUser, UserStatus::kVerified);

  World() {
    nodes.addUnit(unit_a, alice, Visibility::kPublic);
    nodes.addUnit(unit_b, bob, Visibility::kInternal);
    nodes.addUnit(unit_p, alice, Visibility::kPrivate);
    nodes.addNode(a_out, unit_a, UnitNodeType::kOutput, Visibility::kPublic);
    nodes.addNode(a_in, unit_a, UnitNodeType::kInput, Visibility::kPublic, "command");
    nodes.addNode(b_out, unit_b, UnitNodeType::kOutput, Visibility::kInternal);
    nodes.addNode(b_in, unit_b, UnitNodeType::kInput, Visibility::kInternal);
    nodes.addNode(p_in, unit_p, UnitNodeType::kInput, Visibility::kPrivate);
    permissions.seed(AgentType::kUser, alice, ResourceType::kUnit, unit_p);
    permissions.seed(AgentType::kUnit, unit_p, ResourceType::kUnit, unit_p);
    for (const auto& [unit, node, creator] :
         {std::tuple{unit_a, a_out, alice}, std::tuple{unit_a, a_in, alice},
          std::tuple{unit_b, b_out, bob}, std::tuple{unit_b, b_in, bob},
          std::tuple{unit_p, p_in, alice}}) {
      permissions.seed(AgentType::kUnit, unit, ResourceType::kUnitNode, node);
      permissions.seed(AgentType::kUser, creator, ResourceType::kUnitNode, node);
    }
  }
};

std::vector<Uuid> uuidsOf(const store::UnitNodePage& page) {
  std::vector<Uuid> out;
  for (const auto& row : page.rows)
    out.push_back(row.uuid);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("unit node get: visibility per caller") {
  World w;
  // Public: everyone, anonymous included.
  CHECK(w.service.get(Principal::bot(), w.a_out).uuid == w.a_out);
  // Internal: any token, not anonymous.
  CHECK(failure([&] { w.service.get(Principal::bot(), w.b_out); }) ==
        code(ErrorKind::kNoAccess, "Internal visibility level is not allowed"));
  CHECK(w.service.get(w.erinP, w.b_out).uuid == w.b_out);
  CHECK(w.service.get(Principal::unit(w.unit_a), w.b_out).uuid == w.b_out);
  // Private: a grant, or an Admin.
  const std::string denied = code(ErrorKind::kNoAccess, "Private visibility level is not allowed");
  CHECK(failure([&] { w.service.get(w.bobP, w.p_in); }) == denied);
  CHECK(failure([&] { w.service.get(Principal::unit(w.unit_a), w.p_in); }) == denied);
  CHECK(w.service.get(w.aliceP, w.p_in).uuid == w.p_in);
  CHECK(w.service.get(Principal::unit(w.unit_p), w.p_in).uuid == w.p_in);
  CHECK(w.service.get(w.carolP, w.p_in).uuid == w.p_in);
  // Blocked users pass nothing; unknown nodes are error 2.
  CHECK(failure([&] { w.service.get(w.daveP, w.a_out); }) ==
        code(ErrorKind::kNoAccess, "User is Blocked"));
  CHECK(failure([&] { w.service.get(w.aliceP, id(99)); }) == kNoObject);
}

TEST_CASE("unit node get: a time-limited grant counts until it lapses") {
  World w;
  w.permissions.seed(AgentType::kUser, w.bob, ResourceType::kUnitNode, w.p_in, w.now + 10);
  CHECK(w.service.get(w.bobP, w.p_in).uuid == w.p_in);
  w.now += 10;
  CHECK(failure([&] { w.service.get(w.bobP, w.p_in); }) ==
        code(ErrorKind::kNoAccess, "Private visibility level is not allowed"));
}

TEST_CASE("unit node list: the scope follows §3.6 plus the Admin rule") {
  World w;
  const store::UnitNodeFilter all;
  CHECK(uuidsOf(w.service.list(Principal::bot(), all, {})) == std::vector{w.a_out, w.a_in});
  CHECK(uuidsOf(w.service.list(w.bobP, all, {})) == std::vector{w.a_out, w.a_in, w.b_out, w.b_in});
  CHECK(uuidsOf(w.service.list(w.aliceP, all, {})) ==
        std::vector{w.a_out, w.a_in, w.b_out, w.b_in, w.p_in});
  CHECK(uuidsOf(w.service.list(w.carolP, all, {})).size() == 5);
  CHECK(w.nodes.lastScope().unrestricted);
  // A user without any node grant never sees Private rows, even when asking for them.
  CHECK(uuidsOf(w.service.list(w.erinP, all, {Visibility::kPrivate})).empty());
  // The caller's own level filter is kept.
  CHECK(uuidsOf(w.service.list(w.aliceP, all, {Visibility::kPrivate})) == std::vector{w.p_in});
  CHECK(uuidsOf(w.service.list(Principal::unit(w.unit_p), all, {Visibility::kPrivate})) ==
        std::vector{w.p_in});
  CHECK(uuidsOf(w.service.list(Principal::unit(w.unit_a), all, {Visibility::kPrivate})).empty());
  CHECK(failure([&] { w.service.list(w.daveP, all, {}); }) ==
        code(ErrorKind::kNoAccess, "User is Blocked"));
}

TEST_CASE("unit node update: the creator or an Admin changes the settings") {
  World w;
  auto node = w.service.update(w.aliceP, w.a_in, {Visibility::kInternal, true});
  CHECK(toString(node.visibility_level) == "Internal");
  CHECK(node.is_rewritable_input);
  node = w.service.update(w.carolP, w.a_in, {std::nullopt, false});
  CHECK(toString(node.visibility_level) == "Internal");
  CHECK_FALSE(node.is_rewritable_input);
  // An Output's visibility may change; nothing else about it.
  CHECK(toString(w.service.update(w.aliceP, w.a_out, {Visibility::kPrivate, std::nullopt})
                     .visibility_level) == "Private");
}

TEST_CASE("unit node changes that affect broker access are announced; history settings are not") {
  World w;
  w.service.update(w.aliceP, w.a_in, {Visibility::kInternal, std::nullopt});
  CHECK(w.events.calls == std::vector<std::string>{"all"});
  UnitNodeUpdate history_only;
  history_only.history.policy = "all";
  w.service.update(w.aliceP, w.a_out, history_only);
  CHECK(w.events.calls.size() == 1);

  w.events.calls.clear();
  w.service.createEdge(w.bobP, w.a_out, w.b_in);  // both units gain grants on each other
  CHECK(w.events.calls ==
        std::vector<std::string>{"grant " + w.unit_b.toString(), "grant " + w.unit_a.toString()});
  w.events.calls.clear();
  w.service.deleteEdge(w.bobP, w.b_in, w.a_out);
  CHECK(w.events.calls ==
        std::vector<std::string>{"revoke " + w.unit_b.toString(), "revoke " + w.unit_a.toString()});
  w.events.calls.clear();
  CHECK_THROWS(w.service.deleteEdge(w.bobP, w.b_in, w.a_out));  // refused: nothing announced
  CHECK(w.events.calls.empty());
}

TEST_CASE("unit node update: who may not, and the validation errors") {
  World w;
  const UnitNodeUpdate update{Visibility::kInternal, std::nullopt};
  CHECK(failure([&] { w.service.update(w.bobP, w.a_in, update); }) ==
        code(ErrorKind::kNoAccess, "The current user is not the creator of this UnitNode"));
  CHECK(failure([&] { w.service.update(Principal::unit(w.unit_a), w.a_in, update); }) ==
        code(ErrorKind::kNoAccess, "The resource is not available for the current Unit"));
  CHECK(failure([&] { w.service.update(Principal::bot(), w.a_in, update); }) ==
        code(ErrorKind::kNoAccess, "The current user role is not in the list of available roles"));
  CHECK(failure([&] { w.service.update(w.aliceP, id(99), update); }) == kNoObject);
  // is_rewritable_input, even false, only on Input nodes.
  CHECK(failure([&] {
          w.service.update(w.aliceP, w.a_out, {std::nullopt, false});
        }) ==
        code(ErrorKind::kUnitNodeValidation, "This Node " + w.a_out.toString() + " is not Input"));
  // Never more public than the Unit.
  CHECK(failure([&] {
          w.service.update(w.bobP, w.b_in, {Visibility::kPublic, std::nullopt});
        }) == code(ErrorKind::kValidation,
                   "The visibility level of the parent object Unit is lower than that of the child "
                   "object UnitNode"));
  CHECK(toString(w.nodes.node(w.b_in).visibility_level) == "Internal");
  CHECK_FALSE(w.nodes.node(w.a_out).is_rewritable_input);
}

TEST_CASE("unit node set_state_input: a user publishes, then the value is stored") {
  World w;
  const auto before = w.nodes.node(w.b_in).last_update_datetime;
  const auto node = w.service.setStateInput(w.aliceP, w.b_in, "42");
  CHECK(node.state == std::optional<std::string>("42"));
  CHECK(node.last_update_datetime > before);
  auto sent = w.published.published();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].node == w.b_in);
  CHECK(sent[0].pepeunit_suffix);  // topic_name "value/pepeunit"
  CHECK(sent[0].value == "42");

  // A topic_name without the suffix publishes to the bare `<domain>/<uuid>`; null clears.
  const auto cleared = w.service.setStateInput(w.aliceP, w.a_in, std::nullopt);
  CHECK_FALSE(cleared.state.has_value());
  sent = w.published.published();
  REQUIRE(sent.size() == 2);
  CHECK_FALSE(sent[1].pepeunit_suffix);
  CHECK(sent[1].value.empty());
}

TEST_CASE("unit node set_state_input: Units need is_rewritable_input") {
  World w;
  const auto unit = Principal::unit(w.unit_b);
  CHECK(failure([&] { w.service.setStateInput(unit, w.a_in, "1"); }) ==
        code(ErrorKind::kNoAccess,
             "Only a User can set this Input; set is_rewritable_input=true to let Units set it"));
  CHECK(w.published.published().empty());
  CHECK_FALSE(w.nodes.node(w.a_in).state.has_value());
  w.service.update(w.aliceP, w.a_in, {std::nullopt, true});
  CHECK(w.service.setStateInput(unit, w.a_in, "1").state == std::optional<std::string>("1"));
}

TEST_CASE("unit node set_state_input: refusals") {
  World w;
  CHECK(failure([&] { w.service.setStateInput(w.aliceP, w.a_out, "1"); }) ==
        code(ErrorKind::kUnitNodeValidation, "This Node " + w.a_out.toString() + " is not Input"));
  CHECK(failure([&] { w.service.setStateInput(Principal::bot(), w.a_in, "1"); }) ==
        code(ErrorKind::kNoAccess, "The current user role is not in the list of available roles"));
  CHECK(failure([&] { w.service.setStateInput(w.bobP, w.p_in, "1"); }) ==
        code(ErrorKind::kNoAccess, "Private visibility level is not allowed"));
  CHECK(failure([&] { w.service.setStateInput(w.aliceP, id(99), "1"); }) == kNoObject);
  CHECK(w.published.published().empty());
}

TEST_CASE("unit node set_state_input: nothing is stored when publishing fails") {
  World w;
  FailingPublisher failing;
  UnitNodeService service{w.nodes, w.permissions, w.commands, failing, [&w] { return w.now; }};
  CHECK(failure([&] { service.setStateInput(w.aliceP, w.a_in, "1"); }) ==
        code(ErrorKind::kMqtt, "The value could not be published to the node topic"));
  CHECK_FALSE(w.nodes.node(w.a_in).state.has_value());
}

TEST_CASE("unit node edge create: grants, SchemaUpdate to the input's unit") {
  World w;
  const auto edge = w.service.createEdge(w.bobP, w.a_out, w.b_in);
  CHECK(edge.node_output_uuid == w.a_out);
  CHECK(edge.node_input_uuid == w.b_in);
  CHECK(edge.creator_uuid == std::optional<Uuid>(w.bob));
  // §1.6: output's Unit → input node; input's Unit → output node; output's Unit → input's Unit.
  CHECK(w.permissions.find(w.unit_a, w.b_in).has_value());
  CHECK(w.permissions.find(w.unit_b, w.a_out).has_value());
  CHECK(w.permissions.find(w.unit_a, w.unit_b).has_value());
  const auto sent = w.commands.sent();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].unit == w.unit_b);
  CHECK(toString(sent[0].command) == "SchemaUpdate");
  // The Inputs fed by a_out.
  store::UnitNodeFilter linked;
  linked.output_uuid = w.a_out;
  CHECK(uuidsOf(w.service.list(w.aliceP, linked, {})) == std::vector{w.b_in});
}

TEST_CASE("unit node edge create: refusals") {
  World w;
  CHECK(failure([&] { w.service.createEdge(w.bobP, w.b_in, w.a_out); }) ==
        code(ErrorKind::kUnitNodeValidation, "This Node " + w.b_in.toString() + " is not Output"));
  CHECK(failure([&] { w.service.createEdge(w.bobP, w.a_out, w.b_out); }) ==
        code(ErrorKind::kUnitNodeValidation, "This Node " + w.b_out.toString() + " is not Input"));
  CHECK(failure([&] { w.service.createEdge(w.bobP, w.a_out, w.p_in); }) ==
        code(ErrorKind::kNoAccess, "Private visibility level is not allowed"));
  CHECK(failure([&] { w.service.createEdge(Principal::unit(w.unit_a), w.a_out, w.b_in); }) ==
        code(ErrorKind::kNoAccess, "The resource is not available for the current Unit"));
  CHECK(failure([&] { w.service.createEdge(w.bobP, id(99), w.b_in); }) == kNoObject);
  CHECK(w.nodes.edges().empty());
  CHECK(w.commands.sent().empty());

  w.service.createEdge(w.bobP, w.a_out, w.b_in);
  CHECK(failure([&] { w.service.createEdge(w.aliceP, w.a_out, w.b_in); }) ==
        code(ErrorKind::kUnitNodeValidation, "Edge exist"));
  CHECK(w.nodes.edges().size() == 1);
  // An Admin links Private nodes it has no grant for.
  CHECK_NOTHROW(w.service.createEdge(w.carolP, w.b_out, w.p_in));
}

TEST_CASE("unit node edge delete: who may, and the revoke") {
  World w;
  w.service.createEdge(w.erinP, w.a_out, w.b_in);
  // Neither the edge's creator nor the input node's creator.
  CHECK(failure([&] { w.service.deleteEdge(w.aliceP, w.b_in, w.a_out); }) ==
        code(ErrorKind::kNoAccess,
             "The current user is not the creator of this edge or of its input UnitNode"));
  CHECK(failure([&] { w.service.deleteEdge(w.aliceP, w.a_out, w.b_in); }) == kNoObject);
  CHECK(failure([&] { w.service.deleteEdge(Principal::bot(), w.b_in, w.a_out); }) ==
        code(ErrorKind::kNoAccess, "The current user role is not in the list of available roles"));

  // The edge's creator.
  w.service.deleteEdge(w.erinP, w.b_in, w.a_out);
  CHECK(w.nodes.edges().empty());
  CHECK_FALSE(w.permissions.find(w.unit_a, w.b_in).has_value());
  const auto sent = w.commands.sent();
  REQUIRE(sent.size() == 2);
  CHECK(sent[1].unit == w.unit_b);
  CHECK(toString(sent[1].command) == "SchemaUpdate");

  // The input node's creator, and an Admin.
  w.service.createEdge(w.erinP, w.a_out, w.b_in);
  CHECK_NOTHROW(w.service.deleteEdge(w.bobP, w.b_in, w.a_out));
  w.service.createEdge(w.erinP, w.a_out, w.b_in);
  CHECK_NOTHROW(w.service.deleteEdge(w.carolP, w.b_in, w.a_out));
  CHECK(w.nodes.edges().empty());
}

TEST_CASE("unit node edge delete: a grant still needed, or a Unit's own, is kept") {
  World w;
  const Uuid a_out2 = id(30);
  w.nodes.addNode(a_out2, w.unit_a, UnitNodeType::kOutput, Visibility::kPublic);
  w.service.createEdge(w.aliceP, w.a_out, w.b_in);
  w.service.createEdge(w.aliceP, a_out2, w.b_in);
  w.service.deleteEdge(w.aliceP, w.b_in, w.a_out);
  // a_out2 of the same Unit still feeds b_in.
  CHECK(w.permissions.find(w.unit_a, w.b_in).has_value());
  w.service.deleteEdge(w.aliceP, w.b_in, a_out2);
  CHECK_FALSE(w.permissions.find(w.unit_a, w.b_in).has_value());

  // An edge inside one Unit never takes the Unit's access to its own Input away.
  w.service.createEdge(w.aliceP, w.a_out, w.a_in);
  w.service.deleteEdge(w.aliceP, w.a_in, w.a_out);
  CHECK(w.permissions.find(w.unit_a, w.a_in).has_value());
}

TEST_CASE("unit node edges of a unit: the caller must see the unit") {
  World w;
  w.service.createEdge(w.aliceP, w.a_out, w.b_in);
  w.service.createEdge(w.aliceP, w.b_out, w.a_in);
  w.service.createEdge(w.carolP, w.b_out, w.p_in);
  auto page = w.service.listUnitEdges(Principal::bot(), w.unit_a, 0, 100);
  CHECK(page.count == 2);
  CHECK(page.rows.size() == 2);
  page = w.service.listUnitEdges(w.erinP, w.unit_b, 1, 100);
  CHECK(page.count == 3);
  CHECK(page.rows.size() == 2);
  CHECK(failure([&] { w.service.listUnitEdges(Principal::bot(), w.unit_b, 0, 100); }) ==
        code(ErrorKind::kNoAccess, "Internal visibility level is not allowed"));
  CHECK(failure([&] { w.service.listUnitEdges(w.bobP, w.unit_p, 0, 100); }) ==
        code(ErrorKind::kNoAccess, "Private visibility level is not allowed"));
  CHECK(w.service.listUnitEdges(Principal::unit(w.unit_p), w.unit_p, 0, 100).count == 1);
  CHECK(failure([&] { w.service.listUnitEdges(w.aliceP, id(99), 0, 100); }) == kNoObject);
}
