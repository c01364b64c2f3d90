// UnitService rules against in-memory fakes of the unit store and the git mirror: who may do
// what, which validation answers which mistake (and that a rejected PATCH saves nothing), the
// node set at creation and after a reconcile, env generation and encoding for both device
// generations, state storage limits, commands, firmware parameter checks and scratch cleanup,
// and the repo-driven update loop that counts failures and goes on.
#include "service/unit_service.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "fakes/fake_permission_store.hpp"
#include "fakes/fake_principal_store.hpp"
#include "fakes/recording_access_events.hpp"
#include "unit/cli_support.hpp"

namespace {

namespace fs = std::filesystem;
using pepeunit::Error;
using pepeunit::ErrorKind;
using pepeunit::domain::Principal;
using pepeunit::domain::Role;
using pepeunit::domain::UnitNodeType;
using pepeunit::domain::UserStatus;
using pepeunit::domain::Uuid;
using pepeunit::domain::Visibility;
using pepeunit::service::UnitCommand;
using pepeunit::service::UnitCreate;
using pepeunit::service::UnitService;
using pepeunit::service::UnitUpdate;
namespace store = pepeunit::store;
using nlohmann::json;

Uuid id(int n) {
  Uuid::Bytes bytes{};
  bytes[0] = 0x20;
  bytes[15] = static_cast<std::uint8_t>(n);
  bytes[14] = static_cast<std::uint8_t>(n >> 8);
  return Uuid(bytes);
}

/// Runs `f`, requires it to throw pepeunit::Error, returns "<code>: <message>".
std::string failure(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return std::to_string(e.code()) + ": " + e.what();
  }
  return "no error";
}

// ---- Fakes -------------------------------------------------------------------------------------

class FakeUnitStore : public store::UnitStore {
 public:
  std::map<Uuid, store::Unit> units;
  std::map<Uuid, store::UnitRepoFacts> repos;
  std::vector<store::UnitNode> nodes;
  std::vector<store::LinkedOutput> links;
  /// (agent, resource) of every automatic grant written.
  std::vector<std::pair<Uuid, Uuid>> grants;
  std::vector<Uuid> logs_deleted;
  int calls = 0;
  int updates = 0;
  std::set<Uuid> fail_reconcile;

  std::optional<store::Unit> find(const Uuid& uuid) override {
    ++calls;
    const auto it = units.find(uuid);
    if (it == units.end()) {
      return std::nullopt;
    }
    return it->second;
  }
  std::optional<Uuid> findUuidByName(const std::string& name) override {
    ++calls;
    for (const auto& [uuid, unit] : units) {
      if (unit.name == name) {
        return uuid;
      }
    }
    return std::nullopt;
  }
  std::optional<store::UnitRepoFacts> findRepo(const Uuid& repo) override {
    ++calls;
    const auto it = repos.find(repo);
    if (it == repos.end()) {
      return std::nullopt;
    }
    return it->second;
  }
  store::Unit insert(const store::NewUnit& row, const store::NodeChanges& changes) override {
    store::Unit unit;
    unit.uuid = id(100 + next_++);
    unit.name = row.name;
    unit.visibility_level = row.visibility_level;
    unit.is_auto_update_from_repo_unit = row.is_auto_update_from_repo_unit;
    unit.target_firmware_platform = row.target_firmware_platform;
    unit.repo_branch = row.repo_branch;
    unit.repo_commit = row.repo_commit;
    unit.creator_uuid = row.creator_uuid;
    unit.repo_uuid = row.repo_uuid;
    units[unit.uuid] = unit;
    grants.emplace_back(row.creator_uuid, unit.uuid);
    grants.emplace_back(unit.uuid, unit.uuid);
    createNodes(unit.uuid, changes);
    return unit;
  }
  std::optional<store::Unit> update(const Uuid& uuid, const store::UnitSettings& s) override {
    const auto it = units.find(uuid);
    if (it == units.end()) {
      return std::nullopt;
    }
    ++updates;
    auto& unit = it->second;
    unit.visibility_level = s.visibility_level;
    unit.name = s.name;
    unit.is_auto_update_from_repo_unit = s.is_auto_update_from_repo_unit;
    unit.target_firmware_platform = s.target_firmware_platform;
    unit.repo_branch = s.repo_branch;
    unit.repo_commit = s.repo_commit;
    for (auto& node : nodes) {
      if (node.unit_uuid == uuid) {
        node.visibility_level =
            pepeunit::domain::raisedTo(node.visibility_level, s.visibility_level);
      }
    }
    return unit;
  }
  std::vector<store::UnitNode> reconcile(const Uuid& unit, const store::NodeChanges& changes,
                                         const std::optional<std::string>& env) override {
    if (fail_reconcile.count(unit)) {
      throw Error(ErrorKind::kInternal, "boom");
    }
    std::erase_if(nodes, [&](const store::UnitNode& node) {
      return std::find(changes.remove.begin(), changes.remove.end(), node.uuid) !=
             changes.remove.end();
    });
    createNodes(unit, changes);
    if (env) {
      units[unit].cipher_env_dict = env;
    }
    return nodesOf(unit);
  }
  bool remove(const Uuid& uuid) override {
    std::erase_if(nodes, [&](const store::UnitNode& node) { return node.unit_uuid == uuid; });
    return units.erase(uuid) > 0;
  }
  std::size_t deleteLogs(const Uuid& unit) override {
    logs_deleted.push_back(unit);
    return 0;
  }
  std::vector<store::UnitNode> nodesOf(const Uuid& unit) override {
    std::vector<store::UnitNode> out;
    for (const auto& node : nodes) {
      if (node.unit_uuid == unit) {
        out.push_back(node);
      }
    }
    return out;
  }
  std::vector<store::LinkedOutput> linkedOutputs(const Uuid&) override { return links; }
  store::UnitPage list(const store::UnitFilter&, const store::UnitListScopes& scopes) override {
    store::UnitPage page;
    for (const auto& [uuid, unit] : units) {
      if (scopes.units.admits(unit.visibility_level, uuid)) {
        page.rows.push_back({unit, {}});
      }
    }
    page.count = static_cast<std::int64_t>(page.rows.size());
    return page;
  }
  std::vector<store::Unit> autoUpdateUnitsOf(const Uuid& repo) override {
    std::vector<store::Unit> out;
    for (const auto& [uuid, unit] : units) {
      if (unit.repo_uuid == repo && unit.is_auto_update_from_repo_unit) {
        out.push_back(unit);
      }
    }
    return out;
  }
  bool setCipherEnv(const Uuid& unit, const std::optional<std::string>& cipher) override {
    if (!units.count(unit)) {
      return false;
    }
    units[unit].cipher_env_dict = cipher;
    return true;
  }
  bool setCipherStateStorage(const Uuid& unit, const std::optional<std::string>& cipher) override {
    if (!units.count(unit)) {
      return false;
    }
    units[unit].cipher_state_storage = cipher;
    return true;
  }
  bool setFirmwareUpdate(const Uuid&, std::optional<pepeunit::domain::FirmwareUpdateStatus>,
                         const std::optional<std::string>&, std::optional<store::Timestamp>,
                         const std::optional<std::string>&) override {
    return true;
  }

  /// topic_name → type of the Unit's nodes.
  std::map<std::string, UnitNodeType> nodeNames(const Uuid& unit) {
    std::map<std::string, UnitNodeType> out;
    for (const auto& node : nodesOf(unit)) {
      out[node.topic_name] = node.type;
    }
    return out;
  }

 private:
  void createNodes(const Uuid& unit, const store::NodeChanges& changes) {
    for (const auto& create : changes.create) {
      store::UnitNode node;
      node.uuid = id(1000 + next_++);
      node.type = create.type;
      node.topic_name = create.topic_name;
      node.visibility_level = changes.visibility_level;
      node.creator_uuid = changes.creator_uuid;
      node.unit_uuid = unit;
      nodes.push_back(node);
      grants.emplace_back(unit, node.uuid);
      for (const auto& user : changes.granted_users) {
        grants.emplace_back(user, node.uuid);
      }
    }
  }
  int next_ = 0;
};

std::string schemaText(const std::vector<std::string>& inputs,
                       const std::vector<std::string>& outputs) {
  return json{{"input_base_topic", {"update/pepeunit", "env_update/pepeunit"}},
              {"output_base_topic", {"state/pepeunit"}},
              {"input_topic", inputs},
              {"output_topic", outputs}}
      .dump();
}

constexpr const char* kEnv2024 =
    R"({"PEPEUNIT_URL": "x", "HTTP_TYPE": "https", "MQTT_URL": "m", "MQTT_PORT": 1,)"
    R"( "PEPEUNIT_TOKEN": "t", "SYNC_ENCRYPT_KEY": "k", "SECRET_KEY": "s",)"
    R"( "STATE_SEND_INTERVAL": 60, "DELAY": 1})";
constexpr const char* kEnv2026 =
    R"({"PU_DOMAIN": "x", "PU_AUTH_TOKEN": "t", "PU_ENCRYPT_KEY": "k", "WIFI": "ssid"})";

/// One repo; commits on `main` newest first: c3 (schema with "b" out) c2 (tag v2) c1 (tag v1).
class FakeGit : public pepeunit::service::UnitGitSource {
 public:
  std::map<std::string, std::vector<pepeunit::domain::CommitInfo>> branches_of;
  std::map<std::string, std::map<std::string, std::string>> files;
  int checkouts = 0;
  int reads = 0;

  std::vector<std::string> branches(const Uuid&) override {
    std::vector<std::string> out;
    for (const auto& [name, commits] : branches_of) {
      out.push_back(name);
    }
    return out;
  }
  std::vector<pepeunit::domain::CommitInfo> commits(const Uuid&,
                                                    const std::string& branch) override {
    return branches_of.at(branch);
  }
  std::optional<std::string> readFile(const Uuid&, const std::string& commit,
                                      const std::string& path) override {
    ++reads;
    const auto it = files[commit].find(path);
    if (it == files[commit].end()) {
      return std::nullopt;
    }
    return it->second;
  }
  void checkout(const Uuid&, const std::string& commit, const fs::path& dest,
                std::uint64_t) override {
    ++checkouts;
    for (const auto& [path, content] : files[commit]) {
      fs::create_directories((dest / path).parent_path());
      std::ofstream(dest / path) << content;
    }
    if (files[commit].count("FAIL_CHECKOUT")) {
      throw Error(ErrorKind::kGitRepoValidation, "checkout failed");
    }
  }
};

struct World {
  std::int64_t now = 1'700'000'000;
  pepeunit::fakes::FakePrincipalStore principals;
  pepeunit::service::AuthService auth{"secret-key", 3600, principals, [this] { return now; }};
  pepeunit::crypto::SecretBox box{std::string(32, 'k'), 2000};
  pepeunit::testing::FakePermissionStore permissions;
  FakeUnitStore units;
  FakeGit git;
  pepeunit::service::RecordingCommandSender commands;
  pepeunit::testing::cli::TempDir work;
  pepeunit::testing::RecordingAccessEvents events;
  UnitService service{units,
                      permissions,
                      git,
                      auth,
                      box,
                      commands,
                      {.facts = {.domain = "unit.example.com",
                                 .secure = true,
                                 .mqtt_host = "mqtt.example.com",
                                 .mqtt_port = 1883},
                       .work_dir = work.path(),
                       .archive_limits = {}},
                      [this] { return now; },
                      &events};

  Uuid alice = id(1), bob = id(2), admin = id(3);
  Uuid repo = id(10), repo2026 = id(11), compilable = id(12), private_repo = id(13);
  Principal aliceP = Principal::user(alice, Role::kUser, UserStatus::kVerified);
  Principal bobP = Principal::user(bob, Role::kUser, UserStatus::kVerified);
  Principal adminP = Principal::user(admin, Role::kAdmin, UserStatus::kVerified);

  World() {
    git.branches_of["main"] = {{"c3", std::nullopt}, {"c2", "v2"}, {"c1", "v1"}};
    git.branches_of["dev"] = {{"d1", std::nullopt}, {"c1", "v1"}};
    git.files["c1"] = {{"schema_example.json", schemaText({"in"}, {"a"})},
                       {"env_example.json", kEnv2024},
                       {"main.py", "print(1)\n"},
                       {".pepeignore", "README.md\n"},
                       {"README.md", "docs\n"}};
    git.files["c2"] = git.files["c1"];
    git.files["c2"]["schema_example.json"] = schemaText({"in", "in2"}, {"a"});
    auto env_c2 = json::parse(kEnv2024);
    env_c2["NEW"] = "default";
    git.files["c2"]["env_example.json"] = env_c2.dump();
    git.files["c3"] = git.files["c1"];
    git.files["c3"]["schema_example.json"] = schemaText({}, {"b"});
    git.files["d1"] = git.files["c1"];
    git.files["d1"]["schema_example.json"] = "{}";
    for (const auto& [uuid, visibility, compiled] :
         {std::tuple{repo, Visibility::kPublic, false},
          std::tuple{repo2026, Visibility::kPublic, false},
          std::tuple{compilable, Visibility::kPublic, true},
          std::tuple{private_repo, Visibility::kPrivate, false}}) {
      store::UnitRepoFacts facts;
      facts.uuid = uuid;
      facts.visibility_level = visibility;
      facts.default_branch = "main";
      facts.is_compilable_repo = compiled;
      facts.creator_uuid = alice;
      units.repos[uuid] = facts;
    }
  }

  /// A Unit of alice pinned to `commit` on main.
  store::Unit pinned(const std::string& name, const std::string& commit,
                     Visibility visibility = Visibility::kPublic) {
    UnitCreate request;
    request.repo_uuid = repo;
    request.name = name;
    request.visibility_level = visibility;
    request.is_auto_update_from_repo_unit = false;
    request.repo_branch = "main";
    request.repo_commit = commit;
    return service.create(aliceP, request);
  }

  json envOf(const Principal& caller, const Uuid& unit) {
    const auto body = service.env(caller, unit);
    return body.is_string() ? json::parse(body.get<std::string>()) : json(body);
  }
};

}  // namespace

TEST_CASE("UnitService: create") {
  World w;
  UnitCreate request;
  request.repo_uuid = w.repo;
  request.name = "unit_one";

  SUBCASE("auto unit at the repo target gets its nodes and grants") {
    const auto unit = w.service.create(w.aliceP, request);
    CHECK(w.events.calls == std::vector<std::string>{"all"});  // new nodes others may see
    CHECK((unit.creator_uuid == w.alice));
    CHECK(w.units.nodeNames(unit.uuid) ==
          std::map<std::string, UnitNodeType>{{"b", UnitNodeType::kOutput}});
    const auto node = w.units.nodesOf(unit.uuid).at(0).uuid;
    const auto& g = w.units.grants;
    CHECK(std::count(g.begin(), g.end(), std::pair{w.alice, unit.uuid}) == 1);
    CHECK(std::count(g.begin(), g.end(), std::pair{unit.uuid, unit.uuid}) == 1);
    CHECK(std::count(g.begin(), g.end(), std::pair{unit.uuid, node}) == 1);
    CHECK(std::count(g.begin(), g.end(), std::pair{w.alice, node}) == 1);
  }
  SUBCASE("who") {
    CHECK(failure([&] { w.service.create(Principal::bot(), request); }) ==
          "1: The current user role is not in the list of available roles");
    CHECK(failure([&] { w.service.create(Principal::unit(id(50)), request); }) ==
          "1: The resource is not available for the current Unit");
  }
  SUBCASE("names") {
    request.name = "no";
    CHECK(failure([&] { w.service.create(w.aliceP, request); }) == "7: Name is not correct");
    request.name = "unit_one";
    w.service.create(w.aliceP, request);
    CHECK(failure([&] { w.service.create(w.bobP, request); }) == "7: Name is not unique");
  }
  SUBCASE("repo rules") {
    request.repo_uuid = id(99);
    CHECK(failure([&] { w.service.create(w.aliceP, request); }) == "2: The object does not exist");
    request.repo_uuid = w.compilable;
    CHECK(failure([&] { w.service.create(w.aliceP, request); }).rfind("6: Compilable", 0) == 0);
    request.repo_uuid = w.private_repo;
    CHECK(failure([&] { w.service.create(w.aliceP, request); }) ==
          "2: The visibility level of the parent object Repo (Private) is more restrictive than "
          "the visibility level of the Unit (Public)");
    request.visibility_level = Visibility::kPrivate;
    CHECK_NOTHROW(w.service.create(w.aliceP, request));
  }
  SUBCASE("manual units") {
    request.is_auto_update_from_repo_unit = false;
    request.repo_branch = "main";
    CHECK(failure([&] { w.service.create(w.aliceP, request); }) ==
          "7: Unit created manually requires branch and commit: repo_branch and repo_commit");
    request.repo_commit = "d1";
    CHECK(failure([&] { w.service.create(w.aliceP, request); }) ==
          "5: Commit d1 not in branch main");
    request.repo_branch = "dev";
    CHECK(failure([&] { w.service.create(w.aliceP, request); }).rfind("5: This schema file", 0) ==
          0);
    CHECK(w.units.units.empty());
    request.repo_commit = "c1";
    const auto unit = w.service.create(w.aliceP, request);
    CHECK(w.units.nodeNames(unit.uuid) ==
          std::map<std::string, UnitNodeType>{{"a", UnitNodeType::kOutput},
                                              {"in", UnitNodeType::kInput}});
  }
  SUBCASE("missing contract files") {
    w.git.files["c3"].erase("env_example.json");
    CHECK(failure([&] { w.service.create(w.aliceP, request); }) ==
          "5: File env_example.json not found in commit c3");
  }
}

TEST_CASE("UnitService: get, list, delete") {
  World w;
  const auto pub = w.pinned("pub_unit", "c1");
  const auto priv = w.pinned("priv_unit", "c1", Visibility::kPrivate);
  // The store writes the automatic grants; mirror the creator's for the access checks.
  w.permissions.seed(pepeunit::domain::AgentType::kUser, w.alice,
                     pepeunit::domain::ResourceType::kUnit, priv.uuid);

  CHECK(w.service.get(Principal::bot(), pub.uuid).name == "pub_unit");
  CHECK(failure([&] { w.service.get(Principal::bot(), priv.uuid); }) ==
        "1: Private visibility level is not available for the current agent");
  CHECK(failure([&] { w.service.get(w.bobP, priv.uuid); }) ==
        "1: Private visibility level is not available for the current agent");
  CHECK(w.service.get(w.aliceP, priv.uuid).name == "priv_unit");
  CHECK(w.service.get(w.adminP, priv.uuid).name == "priv_unit");
  CHECK(failure([&] { w.service.get(w.aliceP, id(77)); }) == "2: The object does not exist");

  CHECK(w.service.list(Principal::bot(), {}).count == 1);
  CHECK(w.service.list(w.bobP, {}).count == 1);
  CHECK(w.service.list(w.aliceP, {}).count == 2);
  CHECK(w.service.list(w.adminP, {}).count == 2);

  CHECK(failure([&] { w.service.remove(w.bobP, pub.uuid); }) ==
        "1: The current user is not the creator of this Unit");
  CHECK(failure([&] { w.service.remove(Principal::unit(pub.uuid), pub.uuid); }) ==
        "1: The resource is not available for the current Unit");
  w.events.calls.clear();
  w.service.remove(w.aliceP, pub.uuid);
  CHECK(w.events.calls == std::vector<std::string>{"deleted " + pub.uuid.toString()});
  CHECK(w.units.units.count(pub.uuid) == 0);
  CHECK(w.units.nodesOf(pub.uuid).empty());
  w.service.remove(w.adminP, priv.uuid);
  CHECK(w.units.units.empty());
}

TEST_CASE("UnitService: update validates first, then saves, reconciles and sends Update") {
  World w;
  const auto unit = w.pinned("upd_unit", "c1");
  const auto in_node = w.units.nodesOf(unit.uuid).at(0);
  w.service.setEnv(w.aliceP, unit.uuid, R"({"DELAY": 7})");

  SUBCASE("a rejected PATCH saves nothing and sends nothing") {
    UnitUpdate bad;
    bad.repo_commit.emplace("nope");
    CHECK(failure([&] { w.service.update(w.aliceP, unit.uuid, bad); }) ==
          "5: Commit nope not in branch main");
    bad = {};
    bad.repo_commit.emplace(std::nullopt);  // explicit null
    CHECK(failure([&] { w.service.update(w.aliceP, unit.uuid, bad); }) ==
          "7: Unit updated manually requires branch and commit: repo_branch and repo_commit");
    bad = {};
    bad.name = "x";
    CHECK(failure([&] { w.service.update(w.aliceP, unit.uuid, bad); }) == "7: Name is not correct");
    CHECK(failure([&] { w.service.update(w.bobP, unit.uuid, {}); }) ==
          "1: The current user is not the creator of this Unit");
    // The env merge of the reconcile is also computed before the save.
    const auto env = w.units.units[unit.uuid].cipher_env_dict;
    w.units.units[unit.uuid].cipher_env_dict = "garbage";
    CHECK(failure([&] { w.service.update(w.aliceP, unit.uuid, {}); }) ==
          "12: Encrypted data cannot be decrypted");
    w.units.units[unit.uuid].cipher_env_dict = env;
    CHECK(w.units.updates == 0);
    CHECK(w.commands.sent().empty());
  }
  SUBCASE("reconcile adds and removes nodes, keeps the rest, merges the env") {
    UnitUpdate patch;
    patch.repo_commit.emplace("c2");
    w.service.update(w.aliceP, unit.uuid, patch);
    CHECK(w.units.nodeNames(unit.uuid) ==
          std::map<std::string, UnitNodeType>{{"a", UnitNodeType::kOutput},
                                              {"in", UnitNodeType::kInput},
                                              {"in2", UnitNodeType::kInput}});
    const auto kept = w.units.nodesOf(unit.uuid);
    CHECK(std::any_of(kept.begin(), kept.end(),
                      [&](const auto& n) { return n.uuid == in_node.uuid; }));
    const auto env = w.envOf(w.aliceP, unit.uuid);
    CHECK(env["NEW"] == "default");
    CHECK(env["DELAY"] == 7);
    CHECK(env["COMMIT_VERSION"] == "c2");
    REQUIRE(w.commands.sent().size() == 1);
    CHECK(w.commands.sent()[0].unit == unit.uuid);
    CHECK((w.commands.sent()[0].command == UnitCommand::kUpdate));

    patch.repo_commit.emplace("c3");
    w.service.update(w.adminP, unit.uuid, patch);  // an Admin manages every Unit
    CHECK(w.units.nodeNames(unit.uuid) ==
          std::map<std::string, UnitNodeType>{{"b", UnitNodeType::kOutput}});
    CHECK(w.commands.sent().size() == 2);
  }
  SUBCASE("a cosmetic PATCH still sends Update; raising the level raises the nodes") {
    UnitUpdate patch;
    patch.visibility_level = Visibility::kInternal;
    const auto saved = w.service.update(w.aliceP, unit.uuid, patch);
    CHECK((saved.visibility_level == Visibility::kInternal));
    for (const auto& node : w.units.nodesOf(unit.uuid)) {
      CHECK((node.visibility_level == Visibility::kInternal));
    }
    CHECK(w.commands.sent().size() == 1);
  }
}

TEST_CASE("UnitService: env for both generations and who may touch it") {
  World w;
  const auto unit = w.pinned("env_unit", "c1");

  // Fresh 2024 Unit: a JSON string body without reserved keys, with COMMIT_VERSION.
  auto body = w.service.env(w.aliceP, unit.uuid);
  REQUIRE(body.is_string());
  CHECK(json::parse(body.get<std::string>()) == json{{"DELAY", 1}, {"COMMIT_VERSION", "c1"}});

  CHECK(failure([&] { w.service.setEnv(w.aliceP, unit.uuid, "{oops"); }) ==
        "9: Data env_json_string is invalid");
  CHECK(failure([&] { w.service.setEnv(w.aliceP, unit.uuid, "{}"); }) ==
        "5: This env file has {'DELAY'} unresolved variable");
  CHECK(failure([&] { w.service.setEnv(w.adminP, unit.uuid, R"({"DELAY": 2})"); }) ==
        "1: The current user is not the creator of this Unit");
  CHECK(failure([&] { w.service.setEnv(Principal::unit(unit.uuid), unit.uuid, "{}"); }) ==
        "1: The resource is not available for the current Unit");
  CHECK(failure([&] {
          w.service.setEnv(w.aliceP, unit.uuid, json{{"DELAY", std::string(3000, 'x')}}.dump());
        }) == "12: Plaintext length exceeds BACKEND_MAX_CIPHER_LENGTH");

  w.service.setEnv(w.aliceP, unit.uuid, R"({"DELAY": 2, "MQTT_PORT": 8883})");
  const auto env = w.envOf(w.aliceP, unit.uuid);
  CHECK(env["PEPEUNIT_URL"] == "unit.example.com");
  CHECK(env["HTTP_TYPE"] == "https");
  CHECK(env["MQTT_URL"] == "mqtt.example.com");
  CHECK(env["MQTT_PORT"] == 8883);  // the user's value wins
  CHECK(env["PEPEUNIT_TOKEN"] == w.auth.issueUnitToken(unit.uuid));
  CHECK(env["COMMIT_VERSION"] == "c1");
  CHECK(env["DELAY"] == 2);
  // Stored encrypted without the version key.
  const auto stored = json::parse(w.box.decrypt(*w.units.units[unit.uuid].cipher_env_dict));
  CHECK_FALSE(stored.contains("COMMIT_VERSION"));

  CHECK(w.envOf(Principal::unit(unit.uuid), unit.uuid) == env);
  CHECK(failure([&] { w.service.env(w.adminP, unit.uuid); }) ==
        "1: The current user is not the creator of this Unit");
  CHECK(failure([&] { w.service.env(Principal::unit(id(60)), unit.uuid); }) ==
        "1: The resource is not available for the current Unit");
  CHECK(failure([&] { w.service.env(Principal::bot(), unit.uuid); }) ==
        "1: The current user role is not in the list of available roles");

  // A 2026-generation repo: object bodies (env and schema), PU_* keys.
  w.git.branches_of["main"].insert(w.git.branches_of["main"].begin(), {"m1", std::nullopt});
  w.git.files["m1"] = w.git.files["c1"];
  w.git.files["m1"]["env_example.json"] = kEnv2026;
  UnitCreate request;
  request.repo_uuid = w.repo2026;
  request.name = "env_2026";
  const auto mp = w.service.create(w.aliceP, request);
  body = w.service.env(w.aliceP, mp.uuid);
  REQUIRE(body.is_object());
  CHECK(json(body) == json{{"WIFI", "ssid"}, {"PU_COMMIT_VERSION", "m1"}});
  w.service.setEnv(w.aliceP, mp.uuid, R"({"WIFI": "home"})");
  body = w.service.env(w.aliceP, mp.uuid);
  CHECK(body["PU_DOMAIN"] == "unit.example.com");
  CHECK(body["PU_AUTH_TOKEN"] == w.auth.issueUnitToken(mp.uuid));
  CHECK(body["PU_ENCRYPT_KEY"].get<std::string>().size() == 44);  // base64 of 32 bytes
  CHECK(w.service.currentSchema(w.aliceP, mp.uuid).is_object());
  CHECK(w.service.currentSchema(w.aliceP, unit.uuid).is_string());
}

TEST_CASE("UnitService: target version, schema, state storage, commands") {
  World w;
  const auto unit = w.pinned("misc_unit", "c2");
  const auto self = Principal::unit(unit.uuid);
  const auto stranger = Principal::unit(id(61));

  CHECK((w.service.targetVersion(self, unit.uuid) == pepeunit::domain::TargetVersion{"c2", "v2"}));
  CHECK(w.service.targetVersion(w.adminP, unit.uuid).commit == "c2");
  CHECK(failure([&] { w.service.targetVersion(w.bobP, unit.uuid); }) ==
        "1: The current user is not the creator of this Unit");
  CHECK(failure([&] { w.service.currentSchema(stranger, unit.uuid); }) ==
        "1: The resource is not available for the current Unit");

  const auto schema = json::parse(w.service.currentSchema(self, unit.uuid).get<std::string>());
  CHECK(schema["input_base_topic"]["update/pepeunit"] ==
        json::array(
            {"unit.example.com/input_base_topic/" + unit.uuid.toString() + "/update/pepeunit"}));
  CHECK(schema["input_topic"].size() == 2);

  CHECK(w.service.stateStorage(self, unit.uuid).empty());
  w.service.setStateStorage(self, unit.uuid, "memory");
  CHECK(w.service.stateStorage(w.aliceP, unit.uuid) == "memory");
  CHECK(w.units.units[unit.uuid].cipher_state_storage != std::optional<std::string>("memory"));
  CHECK(failure([&] { w.service.setStateStorage(self, unit.uuid, std::string(2001, 'x')); }) ==
        "12: Plaintext length exceeds BACKEND_MAX_CIPHER_LENGTH");
  CHECK(w.service.stateStorage(self, unit.uuid) == "memory");
  CHECK(failure([&] { w.service.stateStorage(w.adminP, unit.uuid); }) ==
        "1: The current user is not the creator of this Unit");
  CHECK(failure([&] { w.service.setStateStorage(stranger, unit.uuid, "x"); }) ==
        "1: The resource is not available for the current Unit");
  w.service.setStateStorage(w.aliceP, unit.uuid, "");
  CHECK_FALSE(w.units.units[unit.uuid].cipher_state_storage.has_value());

  w.service.sendCommand(self, unit.uuid, UnitCommand::kSchemaUpdate);
  CHECK(w.units.logs_deleted.empty());
  w.service.sendCommand(w.aliceP, unit.uuid, UnitCommand::kLogSync);
  CHECK(w.units.logs_deleted == std::vector<Uuid>{unit.uuid});  // LogSync: stored logs go first
  CHECK(failure([&] { w.service.sendCommand(stranger, unit.uuid, UnitCommand::kUpdate); }) ==
        "1: The resource is not available for the current Unit");
  REQUIRE(w.commands.sent().size() == 2);
  CHECK((w.commands.sent()[0].command == UnitCommand::kSchemaUpdate));
  CHECK((w.commands.sent()[1].command == UnitCommand::kLogSync));
}

TEST_CASE("UnitService: firmware") {
  World w;
  const auto unit = w.pinned("fw_unit", "c1");
  const auto self = Principal::unit(unit.uuid);
  const auto in_work = [&] {
    return std::distance(fs::directory_iterator(w.work.path()), fs::directory_iterator());
  };

  // Bad wbits/level: refused before the Unit is even loaded.
  const int calls = w.units.calls;
  CHECK(failure([&] {
          w.service.firmware(self, unit.uuid, pepeunit::firmware::ArchiveFormat::kTgz, 16, 9);
        }).rfind("7: Wbits 16 is not valid", 0) == 0);
  CHECK(failure([&] {
          w.service.firmware(self, unit.uuid, pepeunit::firmware::ArchiveFormat::kTgz, 9, 10);
        }).rfind("7: Level 10 is not valid", 0) == 0);
  CHECK(w.units.calls == calls);
  // No env saved yet: the reserved keys are unresolved.
  CHECK(failure([&] {
          w.service.firmware(self, unit.uuid, pepeunit::firmware::ArchiveFormat::kZip, 0, 0);
        }).rfind("5: This env file has {'HTTP_TYPE'", 0) == 0);
  CHECK(w.git.checkouts == 0);

  w.service.setEnv(w.aliceP, unit.uuid, R"({"DELAY": 3})");
  const auto archive =
      w.service.firmware(self, unit.uuid, pepeunit::firmware::ArchiveFormat::kTar, 9, 9);
  CHECK(archive.filename == unit.uuid.toString() + ".tar");
  CHECK(archive.data.find("./env.json") != std::string::npos);
  CHECK(archive.data.find("./schema.json") != std::string::npos);
  CHECK(archive.data.find("./main.py") != std::string::npos);
  CHECK(archive.data.find("./README.md") == std::string::npos);  // .pepeignore'd
  CHECK(archive.data.find("\"COMMIT_VERSION\": \"c1\"") != std::string::npos);
  CHECK(in_work() == 0);

  CHECK(failure([&] {
          w.service.firmware(w.adminP, unit.uuid, pepeunit::firmware::ArchiveFormat::kZip, 9, 9);
        }) == "1: The current user is not the creator of this Unit");

  // A failing checkout still leaves no scratch directory behind.
  w.git.files["c1"]["FAIL_CHECKOUT"] = "1";
  CHECK(failure([&] {
          w.service.firmware(self, unit.uuid, pepeunit::firmware::ArchiveFormat::kTgz, 9, 9);
        }) == "5: checkout failed");
  CHECK(in_work() == 0);
}

TEST_CASE("UnitService: updateAutoUnits counts failures and goes on") {
  World w;
  UnitCreate request;
  request.repo_uuid = w.repo;
  for (const char* name : {"auto_one", "auto_two", "auto_three"}) {
    request.name = name;
    w.service.create(w.aliceP, request);
  }
  const auto manual = w.pinned("manual_one", "c1");
  const auto units = w.units.autoUpdateUnitsOf(w.repo);
  REQUIRE(units.size() == 3);
  w.units.fail_reconcile.insert(units[1].uuid);

  // The repo's target moves: a new commit adds an input.
  w.git.branches_of["main"].insert(w.git.branches_of["main"].begin(), {"c4", std::nullopt});
  w.git.files["c4"] = w.git.files["c1"];
  w.git.files["c4"]["schema_example.json"] = schemaText({"fresh"}, {"b"});

  w.events.calls.clear();
  const auto summary = w.service.updateAutoUnits(w.repo);
  CHECK(w.events.calls == std::vector<std::string>{"all"});  // once per pass, not per unit
  CHECK(summary.updated == 2);
  CHECK(summary.failed == 1);
  CHECK(w.commands.sent().size() == 2);
  CHECK(w.units.nodeNames(units[0].uuid).count("fresh") == 1);
  CHECK(w.units.nodeNames(units[1].uuid).count("fresh") == 0);
  CHECK(w.units.nodeNames(manual.uuid).count("fresh") == 0);  // manual Units are never touched

  // No usable target: every auto Unit counts as failed, nothing is sent.
  w.git.files["c4"].erase("schema_example.json");
  const auto broken = w.service.updateAutoUnits(w.repo);
  CHECK(broken.updated == 0);
  CHECK(broken.failed == 3);
  CHECK(w.commands.sent().size() == 2);
  CHECK(w.service.updateAutoUnits(id(99)).failed == 0);  // unknown repo: nothing to do
}
