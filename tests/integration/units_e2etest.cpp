// Units (§2.3, §2.4, §6.3, §7.5-§7.7, §8.1) over real HTTP against the running backend with real
// PostgreSQL and Redis, repos built from the firmware templates and cloned from local bare
// repositories: every /units endpoint's success and failure paths with exact status and
// `detail`, env for a 2024-generation repo (PEPEUNIT_*, double-encoded body) and a 2026 one
// (PU_*, object body), node reconcile between commits, firmware archives in all formats unpacked
// by Debian's python3 (zlib, tarfile, zipfile), a hostile repo, state storage and unit tokens.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "crypto/base64.hpp"
#include "crypto/jwt.hpp"
#include "integration/harness/api_fixtures.hpp"
#include "integration/harness/git_fixtures.hpp"
#include "integration/harness/http_client.hpp"
#include "integration/harness/stack.hpp"
#include "integration/harness/temp_dir.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using pepeunit::testing::apiPath;
using pepeunit::testing::ApiUser;
using pepeunit::testing::authHeader;
using pepeunit::testing::CommitSpec;
using pepeunit::testing::errorDetail;
using pepeunit::testing::expectStatus;
using pepeunit::testing::HttpClient;
using pepeunit::testing::HttpHeaders;
using pepeunit::testing::HttpResponse;
using pepeunit::testing::LocalRepo;
using pepeunit::testing::Stack;
using pepeunit::testing::TempDir;
using pepeunit::testing::TemplateRepoSpec;

namespace {

constexpr const char* kNoObject = "2: Validation Error: The object does not exist";
constexpr const char* kRoleNotAllowed =
    "1: No Access: The current user role is not in the list of available roles";
constexpr const char* kNotForUnit =
    "1: No Access: The resource is not available for the current Unit";
constexpr const char* kNotCreator =
    "1: No Access: The current user is not the creator of this Unit";
constexpr const char* kBadUuidPath =
    "2: Validation Error: Path parameter 'uuid' is not a valid UUID";
constexpr const char* kTooLong =
    "12: Cipher Error: Plaintext length exceeds BACKEND_MAX_CIPHER_LENGTH";
// Small enough to test error 12 with a few KiB, large enough for every env of the templates.
constexpr int kMaxCipherLength = 4000;
// firmware::ArchiveLimits::max_input_bytes: the checkout of a bigger tree is refused.
constexpr std::size_t kCheckoutLimit = std::size_t{64} << 20;

// ---- Repo contents -----------------------------------------------------------------------------

std::string schemaJson(const std::vector<std::string>& inputs,
                       const std::vector<std::string>& outputs) {
  return json{
      {"input_base_topic", {"update/pepeunit", "env_update/pepeunit", "schema_update/pepeunit"}},
      {"output_base_topic", {"state/pepeunit"}},
      {"input_topic", inputs},
      {"output_topic", outputs}}
      .dump(4);
}

/// python-unit's env_example.json plus one developer variable.
std::string envWithNewVar() {
  auto env = json::parse(pepeunit::testing::templateFiles("python-unit").at("env_example.json"));
  env["NEW_VAR"] = "new_default";
  return env.dump(4);
}

/// The template as it is, tagged v1.0.0, plus the default dev commit.
TemplateRepoSpec plainTemplate(const std::string& name, const std::string& template_name) {
  TemplateRepoSpec spec;
  spec.name = name;
  spec.template_name = template_name;
  return spec;
}

// ---- The shared world --------------------------------------------------------------------------

Stack::Options stackOptions(const TempDir& scratch) {
  Stack::Options options;
  options.backend_env_overrides = {
      {"TMPDIR", scratch.path().string()},
      {"BACKEND_MAX_CIPHER_LENGTH", std::to_string(kMaxCipherLength)},
  };
  return options;
}

/// One backend for every case; each case creates its own Units (names are unique per case).
struct World {
  TempDir scratch;  // the backend's TMPDIR: firmware scratch dirs live (briefly) here
  TempDir git_dir;
  Stack stack{stackOptions(scratch)};
  HttpClient http{"127.0.0.1", stack.backend().port()};
  ApiUser admin = pepeunit::testing::registerAndLogin(http, "units_admin");
  ApiUser owner = pepeunit::testing::registerAndLogin(http, "unit_owner");
  ApiUser other = pepeunit::testing::registerAndLogin(http, "other_user");

  // python-unit (2024 keys). main: c0 template (v1.0.0) → c1 adds light/pepeunit + temp/pepeunit
  // and NEW_VAR (v1.1.0) → c2 drops input/pepeunit. dev (from c0): d0 broken schema, d1 broken
  // env_example.
  LocalRepo py_git = pepeunit::testing::createLocalTemplateRepo(
      git_dir.path(),
      TemplateRepoSpec{
          .name = "py",
          .template_name = "python-unit",
          .first_tag = "v1.0.0",
          .main_commits =
              {CommitSpec{
                   "Add light and temp",
                   {{"schema_example.json", schemaJson({"input/pepeunit", "light/pepeunit"},
                                                       {"output/pepeunit", "temp/pepeunit"})},
                    {"env_example.json", envWithNewVar()}},
                   {},
                   "v1.1.0",
                   false},
               CommitSpec{"Drop input",
                          {{"schema_example.json",
                            schemaJson({"light/pepeunit"}, {"output/pepeunit", "temp/pepeunit"})}},
                          {},
                          std::nullopt,
                          false}},
          .dev_commits = {CommitSpec{"Broken schema",
                                     {{"schema_example.json", "{\"input_topic\": []}"}},
                                     {},
                                     std::nullopt,
                                     false},
                          CommitSpec{"Broken env",
                                     {{"schema_example.json",
                                       schemaJson({"input/pepeunit"}, {"output/pepeunit"})},
                                      {"env_example.json", "not json"}},
                                     {},
                                     std::nullopt,
                                     false}}});
  // micropython-unit (2026 keys), the template as it is.
  LocalRepo mp_git = pepeunit::testing::createLocalTemplateRepo(
      git_dir.path(), plainTemplate("mp", "micropython-unit"));
  LocalRepo hostile_git = makeHostile();

  std::string py_repo = createRepo("py_repo", py_git);
  std::string mp_repo = createRepo("mp_repo", mp_git);
  std::string hostile_repo = createRepo("hostile_repo", hostile_git);

  std::string createRepo(const std::string& name, const LocalRepo& git,
                         const std::string& visibility = "Public",
                         const std::string& default_branch = "main") {
    return pepeunit::testing::createRepo(http, owner.token, name, git.fileUrl(), visibility,
                                         default_branch);
  }

  /// python-unit with, at c1, symlinks pointing outside the tree (a file and a directory);
  /// at c2 additionally a file bigger than the checkout limit.
  LocalRepo makeHostile() {
    auto repo = pepeunit::testing::createLocalTemplateRepo(git_dir.path(),
                                                           plainTemplate("hostile", "python-unit"));
    fs::create_symlink("/etc/passwd", repo.work_dir / "evil_link");
    fs::create_symlink("/etc", repo.work_dir / "evil_dir");
    pepeunit::testing::commitAndPush(repo, "main", CommitSpec{"Symlinks", {}, {}, "v2.0.0"});
    pepeunit::testing::commitAndPush(
        repo, "main",
        CommitSpec{"Huge file", {{"huge.bin", std::string(kCheckoutLimit + 4096, '\0')}}, {}, {}});
    return repo;
  }

  std::string secret() const { return stack.backendEnv().at("BACKEND_SECRET_KEY"); }

  pqxx::connection db() { return pqxx::connection(stack.pg().url()); }
};

World& world() {
  static World instance;
  return instance;
}

// ---- Helpers -----------------------------------------------------------------------------------

HttpClient& http() {
  return world().http;
}

/// POST /units; returns the UnitRead (throws unless 201).
json createUnit(const std::string& token, const json& body) {
  const auto response = http().post(apiPath("/units"), body, authHeader(token));
  expectStatus(response, 201, "POST /units " + body.dump());
  return response.json();
}

json autoUnit(const std::string& repo, const std::string& name,
              const std::string& visibility = "Public") {
  return createUnit(world().owner.token, {{"repo_uuid", repo},
                                          {"visibility_level", visibility},
                                          {"name", name},
                                          {"is_auto_update_from_repo_unit", true}});
}

json manualUnit(const std::string& repo, const std::string& name, const std::string& branch,
                const std::string& commit) {
  return createUnit(world().owner.token, {{"repo_uuid", repo},
                                          {"visibility_level", "Public"},
                                          {"name", name},
                                          {"is_auto_update_from_repo_unit", false},
                                          {"repo_branch", branch},
                                          {"repo_commit", commit}});
}

std::string uuidOf(const json& read) {
  return read["uuid"].get<std::string>();
}

HttpResponse postUnit(const std::string& token, const json& body) {
  return http().post(apiPath("/units"), body, token.empty() ? HttpHeaders{} : authHeader(token));
}

HttpResponse getAs(const std::string& token, const std::string& path) {
  return http().get(apiPath(path), token.empty() ? HttpHeaders{} : authHeader(token));
}

/// The nodes of a Unit as the owner lists them: topic_name → UnitNodeRead.
std::map<std::string, json> nodesOf(const std::string& unit) {
  const auto response =
      getAs(world().owner.token, "/units?is_include_output_unit_nodes=true&uuids=" + unit);
  expectStatus(response, 200, "GET /units with nodes");
  const auto page = response.json();
  if (page["count"] != 1) {
    throw std::runtime_error("unit not listed: " + response.body);
  }
  std::map<std::string, json> out;
  for (const auto& node : page["units"][0]["unit_nodes"]) {
    out[node["topic_name"].get<std::string>()] = node;
  }
  return out;
}

/// The env of a Unit decoded whatever the body encoding is (and which encoding it was).
struct EnvBody {
  json env;
  bool double_encoded = false;
};

EnvBody decodeEnvBody(const HttpResponse& response) {
  const auto body = response.json();
  if (body.is_string()) {
    return {json::parse(body.get<std::string>()), true};
  }
  return {body, false};
}

EnvBody getEnv(const std::string& token, const std::string& unit) {
  const auto response = getAs(token, "/units/env/" + unit);
  expectStatus(response, 200, "GET /units/env");
  return decodeEnvBody(response);
}

void patchEnv(const std::string& token, const std::string& unit, const json& env) {
  const auto response = http().patch(apiPath("/units/env/" + unit),
                                     json{{"env_json_string", env.dump()}}, authHeader(token));
  expectStatus(response, 204, "PATCH /units/env " + env.dump());
}

/// The developer variables of python-unit's env (what a user fills in).
/// (NEW_VAR exists from c1 on; a Unit at c0 keeps it as an extra variable.)
json pythonUserEnv() {
  return {{"DELAY_PUB_MSG", 2}, {"START_VALUE", "1"}, {"NEW_VAR", "x"}};
}

/// Saves an env for a python-unit Unit and returns its unit token.
std::string saveEnvAndGetToken(const std::string& unit, const json& user_env = pythonUserEnv()) {
  patchEnv(world().owner.token, unit, user_env);
  return getEnv(world().owner.token, unit).env["PEPEUNIT_TOKEN"].get<std::string>();
}

/// The claims of a JWT (its payload, base64url-decoded).
json jwtClaims(const std::string& token) {
  const auto first = token.find('.');
  const auto second = token.find('.', first + 1);
  const auto payload =
      pepeunit::crypto::base64UrlDecode(token.substr(first + 1, second - first - 1));
  if (!payload) {
    throw std::runtime_error("not a JWT: " + token);
  }
  return json::parse(*payload);
}

std::size_t base64Bytes(const std::string& text) {
  const auto decoded = pepeunit::crypto::base64Decode(text);
  return decoded ? decoded->size() : 0;
}

// ---- Archives ----------------------------------------------------------------------------------

/// Unpacks an archive the way the devices' Python does (zlib.decompressobj(wbits), tarfile,
/// zipfile) and reports the member names (without "./"), their kinds and the JSON files.
constexpr const char* kUnpackScript = R"PY(
import io, json, sys, tarfile, zipfile, zlib
path, fmt, wbits = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(path, 'rb').read()
out = {'names': [], 'files': [], 'unsafe': [], 'json': {}}
def norm(name):
    return name[2:] if name.startswith('./') else name
if fmt == 'zip':
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            name = info.filename
            out['names'].append(name)
            if name.startswith('/') or '..' in name.split('/'):
                out['unsafe'].append(name)
            if not name.endswith('/'):
                out['files'].append(name)
                if name.endswith('.json'):
                    out['json'][name] = json.loads(z.read(info).decode('utf-8'))
else:
    if fmt == 'tgz':
        d = zlib.decompressobj(wbits)
        data = d.decompress(data) + d.flush()
        if not d.eof:
            raise SystemExit('truncated zlib stream')
    with tarfile.open(fileobj=io.BytesIO(data), mode='r:') as t:
        for m in t.getmembers():
            name = norm(m.name)
            out['names'].append(name)
            if m.name.startswith('/') or '..' in m.name.split('/') or m.issym() or m.islnk():
                out['unsafe'].append(m.name)
            if m.isfile():
                out['files'].append(name)
                if name.endswith('.json'):
                    out['json'][name] = json.loads(t.extractfile(m).read().decode('utf-8'))
print(json.dumps(out))
)PY";

json unpack(const std::string& data, const std::string& format, int wbits) {
  TempDir dir;
  const auto path = dir.path() / ("archive." + format);
  {
    std::ofstream out(path, std::ios::binary);
    out << data;
  }
  const auto result = pepeunit::testing::runProgram(
      {"/usr/bin/python3", "-c", kUnpackScript, path.string(), format, std::to_string(wbits)},
      {{"PATH", "/usr/bin:/bin"}, {"LANG", "C.UTF-8"}}, "", dir.path());
  if (result.exit_code != 0) {
    throw std::runtime_error("python3 could not unpack the " + format + " (wbits " +
                             std::to_string(wbits) + "): " + result.err);
  }
  return json::parse(result.out);
}

std::set<std::string> asSet(const json& list) {
  std::set<std::string> out;
  for (const auto& item : list) {
    out.insert(item.get<std::string>());
  }
  return out;
}

HttpResponse getFirmware(const std::string& token, const std::string& format,
                         const std::string& unit, const std::string& query = "") {
  return getAs(token, "/units/firmware/" + format + "/" + unit + query);
}

std::vector<std::string> scratchLeftovers() {
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(world().scratch.path())) {
    if (entry.path().filename().string().rfind("pepeunit-firmware-", 0) == 0) {
      out.push_back(entry.path().string());
    }
  }
  return out;
}

}  // namespace

// ================================================================================================

TEST_CASE("units: create, get and the create validations") {
  auto& w = world();
  const auto unit = autoUnit(w.py_repo, "create_ok");
  CHECK(unit["name"] == "create_ok");
  CHECK(unit["visibility_level"] == "Public");
  CHECK(unit["is_auto_update_from_repo_unit"] == true);
  CHECK(unit["repo_uuid"] == w.py_repo);
  CHECK(unit["creator_uuid"] == w.owner.uuid);
  CHECK(unit["unit_state"].is_null());
  CHECK(unit["current_commit_version"].is_null());
  CHECK(unit["firmware_update_status"].is_null());
  CHECK(unit["last_firmware_update_datetime"].is_null());
  CHECK(unit["unit_nodes"] == json::array());
  for (const char* key :
       {"target_firmware_platform", "repo_branch", "repo_commit", "firmware_update_error"}) {
    CAPTURE(key);
    CHECK(unit[key].is_null());
  }
  CHECK(unit["create_datetime"].get<std::string>().size() >= 19);
  CHECK(unit["last_update_datetime"].is_string());

  // Nodes of the auto target (c2): light/pepeunit in, output/pepeunit and temp/pepeunit out.
  const auto nodes = nodesOf(uuidOf(unit));
  REQUIRE(nodes.size() == 3);
  CHECK(nodes.at("light/pepeunit")["type"] == "Input");
  CHECK(nodes.at("output/pepeunit")["type"] == "Output");
  CHECK(nodes.at("temp/pepeunit")["type"] == "Output");
  CHECK(nodes.at("temp/pepeunit")["visibility_level"] == "Public");
  CHECK(nodes.at("temp/pepeunit")["unit_uuid"] == uuidOf(unit));
  CHECK(nodes.at("temp/pepeunit")["creator_uuid"] == w.owner.uuid);

  // Automatic permissions: creator → Unit, Unit → itself, and for each node Unit and creator.
  {
    auto db = w.db();
    pqxx::work tx(db);
    const auto unit_agents = tx.exec_params(
        "SELECT agent_type || ':' || agent_uuid::text FROM permissions WHERE resource_uuid = $1"
        " ORDER BY 1",
        uuidOf(unit));
    std::set<std::string> agents;
    for (const auto& row : unit_agents) {
      agents.insert(row[0].c_str());
    }
    CHECK(agents == std::set<std::string>{"Unit:" + uuidOf(unit), "User:" + w.owner.uuid});
    const auto node = nodes.at("light/pepeunit")["uuid"].get<std::string>();
    std::set<std::string> node_agents;
    for (const auto& row : tx.exec_params("SELECT agent_type || ':' || agent_uuid::text FROM "
                                          "permissions WHERE resource_uuid = $1",
                                          node)) {
      node_agents.insert(row[0].c_str());
    }
    CHECK(node_agents == std::set<std::string>{"Unit:" + uuidOf(unit), "User:" + w.owner.uuid});
  }

  {  // get: public to everyone, 422 for bad and unknown uuids
    for (const auto& token : {std::string(), w.other.token, w.admin.token, w.owner.token}) {
      const auto response = getAs(token, "/units/" + uuidOf(unit));
      CHECK(response.status == 200);
      CHECK(response.json()["name"] == "create_ok");
    }
    const auto bad = getAs(w.owner.token, "/units/not-a-uuid");
    CHECK(bad.status == 422);
    CHECK(errorDetail(bad) == kBadUuidPath);
    const auto unknown = getAs(w.owner.token, "/units/0f8fad5b-d9cb-469f-a165-70867728950e");
    CHECK(unknown.status == 422);
    CHECK(errorDetail(unknown) == kNoObject);
  }

  {  // get: Internal needs a login, Private needs a permission
    const auto internal = autoUnit(w.py_repo, "internal_u", "Internal");
    const auto priv = autoUnit(w.py_repo, "private_u", "Private");
    auto response = getAs("", "/units/" + uuidOf(internal));
    CHECK(response.status == 403);
    CHECK(errorDetail(response) ==
          "1: No Access: Internal visibility level is not available for the current agent");
    CHECK(getAs(w.other.token, "/units/" + uuidOf(internal)).status == 200);
    response = getAs(w.other.token, "/units/" + uuidOf(priv));
    CHECK(response.status == 403);
    CHECK(errorDetail(response) ==
          "1: No Access: Private visibility level is not available for the current agent");
    CHECK(getAs("", "/units/" + uuidOf(priv)).status == 403);
    CHECK(getAs(w.owner.token, "/units/" + uuidOf(priv)).status == 200);
    CHECK(getAs(w.admin.token, "/units/" + uuidOf(priv)).status == 200);
    // Private nodes are raised with the Unit: they are created at the Unit's level.
    for (const auto& entry : nodesOf(uuidOf(priv))) {
      CAPTURE(entry.first);
      CHECK(entry.second["visibility_level"] == "Private");
    }
  }

  {  // create: who may create
    const json body{{"repo_uuid", w.py_repo}, {"name", "no_bot_unit"}};
    auto response = postUnit("", body);
    CHECK(response.status == 403);
    CHECK(errorDetail(response) == kRoleNotAllowed);
    const auto token = saveEnvAndGetToken(uuidOf(unit));
    response = postUnit(token, body);
    CHECK(response.status == 403);
    CHECK(errorDetail(response) == kNotForUnit);
  }

  {  // create: names
    for (const std::string name : {"abc", "has space", "way_too_long_name_12345", "bad/slash"}) {
      CAPTURE(name);
      const auto response = postUnit(w.owner.token, {{"repo_uuid", w.py_repo}, {"name", name}});
      CHECK(response.status == 422);
      CHECK(errorDetail(response) == "7: Unit Validation Error: Name is not correct");
    }
    const auto response =
        postUnit(w.other.token, {{"repo_uuid", w.py_repo}, {"name", "create_ok"}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) == "7: Unit Validation Error: Name is not unique");
  }

  {  // create: body errors
    auto response = postUnit(w.owner.token, {{"name", "no_repo_unit"}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) == "2: Validation Error: Field 'repo_uuid' is required");
    response = postUnit(w.owner.token,
                        {{"repo_uuid", w.py_repo}, {"name", "bad_vis"}, {"visibility_level", "x"}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) ==
          "2: Validation Error: Field 'visibility_level' has an unknown value 'x'");
    response = postUnit(w.owner.token, {{"repo_uuid", "0f8fad5b-d9cb-469f-a165-70867728950e"},
                                        {"name", "ghost_repo"}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) == kNoObject);
  }

  {  // create: a Unit is never more public than its Repo
    const auto priv_repo = w.createRepo("private_repo", w.py_git, "Private");
    auto response = postUnit(
        w.owner.token,
        {{"repo_uuid", priv_repo}, {"name", "too_public"}, {"visibility_level", "Internal"}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) ==
          "2: Validation Error: The visibility level of the parent object Repo (Private) is "
          "more restrictive than the visibility level of the Unit (Internal)");
    const auto ok = createUnit(
        w.owner.token,
        {{"repo_uuid", priv_repo}, {"name", "private_ok"}, {"visibility_level", "Private"}});
    CHECK(ok["visibility_level"] == "Private");
  }

  {  // create: manual units need an existing branch and commit
    auto response = postUnit(w.owner.token, {{"repo_uuid", w.py_repo},
                                             {"name", "manual_nothing"},
                                             {"is_auto_update_from_repo_unit", false},
                                             {"repo_branch", "main"}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) ==
          "7: Unit Validation Error: Unit created manually requires branch and commit: "
          "repo_branch and repo_commit");
    response = postUnit(w.owner.token, {{"repo_uuid", w.py_repo},
                                        {"name", "manual_badbr"},
                                        {"is_auto_update_from_repo_unit", false},
                                        {"repo_branch", "nope"},
                                        {"repo_commit", w.py_git.main_commits[0]}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) ==
          "5: Git Repo Validation Error: Branch nope not found, available: ['dev', 'main']");
    // dev's commit is not on main.
    response = postUnit(w.owner.token, {{"repo_uuid", w.py_repo},
                                        {"name", "manual_badcm"},
                                        {"is_auto_update_from_repo_unit", false},
                                        {"repo_branch", "main"},
                                        {"repo_commit", w.py_git.dev_commits[0]}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) == "5: Git Repo Validation Error: Commit " +
                                       w.py_git.dev_commits[0] + " not in branch main");
    const auto ok = manualUnit(w.py_repo, "manual_ok", "main", w.py_git.main_commits[0]);
    CHECK(ok["repo_branch"] == "main");
    CHECK(ok["repo_commit"] == w.py_git.main_commits[0]);
    CHECK(ok["is_auto_update_from_repo_unit"] == false);
  }

  {  // create: the contract files at the target must be valid
    auto response = postUnit(w.owner.token, {{"repo_uuid", w.py_repo},
                                             {"name", "bad_schema"},
                                             {"is_auto_update_from_repo_unit", false},
                                             {"repo_branch", "dev"},
                                             {"repo_commit", w.py_git.dev_commits[0]}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) ==
          "5: Git Repo Validation Error: This schema file has unresolved IO and base IO keys, "
          "missing: input_base_topic, output_base_topic, output_topic");
    response = postUnit(w.owner.token, {{"repo_uuid", w.py_repo},
                                        {"name", "bad_env"},
                                        {"is_auto_update_from_repo_unit", false},
                                        {"repo_branch", "dev"},
                                        {"repo_commit", w.py_git.dev_commits[1]}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) ==
          "5: Git Repo Validation Error: env_example.json is not valid JSON");
    // Nothing was inserted.
    CHECK(getAs(w.owner.token, "/units?search_string=bad_").json()["count"] == 0);
  }

  {  // create: the repo needs a default branch; compilable repos are refused
    const auto no_branch = w.createRepo("nobranch_repo", w.py_git, "Public", "");
    auto response = postUnit(w.owner.token, {{"repo_uuid", no_branch}, {"name", "no_branch"}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) ==
          "5: Git Repo Validation Error: Branch None not found, available: ['dev', 'main']");

    const auto compilable = w.createRepo("compilable_repo", w.py_git);
    {
      auto db = w.db();
      pqxx::work tx(db);
      tx.exec_params("UPDATE repos SET is_compilable_repo = true WHERE uuid = $1", compilable);
      tx.commit();
    }
    response = postUnit(w.owner.token, {{"repo_uuid", compilable}, {"name", "compiled"}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) ==
          "6: Repo Validation Error: Compilable repos (firmware from release assets) are not "
          "supported by this instance");
  }
}

TEST_CASE("units: list with filters, visibility and nodes") {
  auto& w = world();
  const auto list_repo = w.createRepo("list_repo", w.py_git);
  const auto a = autoUnit(list_repo, "list_a", "Public");
  const auto b = autoUnit(list_repo, "list_b", "Internal");
  const auto c = autoUnit(list_repo, "list_c", "Private");
  const auto base = "/units?repo_uuid=" + list_repo;

  const auto names = [](const json& page) {
    std::vector<std::string> out;
    for (const auto& unit : page["units"]) {
      out.push_back(unit["name"].get<std::string>());
    }
    return out;
  };
  const auto list = [&](const std::string& token, const std::string& query) {
    const auto response = getAs(token, base + query);
    expectStatus(response, 200, "GET " + base + query);
    return response.json();
  };

  // Visibility (§3.6): Bot sees Public, a user without grants Public+Internal, the creator (who
  // holds the Private grant) and the Admin everything.
  CHECK(names(list("", "")) == std::vector<std::string>{"list_a"});
  CHECK(names(list(w.other.token, "")) == std::vector<std::string>{"list_b", "list_a"});
  CHECK(names(list(w.owner.token, "")) == std::vector<std::string>{"list_c", "list_b", "list_a"});
  CHECK(list(w.admin.token, "")["count"] == 3);
  CHECK(names(list(w.owner.token, "&visibility_level=Private")) ==
        std::vector<std::string>{"list_c"});
  CHECK(names(list(w.other.token, "&visibility_level=Private")).empty());

  // Ordering and paging.
  CHECK(names(list(w.owner.token, "&order_by_create_date=asc")) ==
        std::vector<std::string>{"list_a", "list_b", "list_c"});
  const auto page = list(w.owner.token, "&order_by_create_date=asc&offset=1&limit=1");
  CHECK(page["count"] == 3);
  CHECK(names(page) == std::vector<std::string>{"list_b"});

  // Field filters.
  CHECK(names(list(w.owner.token, "&search_string=LIST_B")) == std::vector<std::string>{"list_b"});
  CHECK(names(list(w.owner.token, "&search_string=list%20_c")) ==
        std::vector<std::string>{"list_c"});
  CHECK(list(w.owner.token, "&search_string=%25")["count"] == 0);
  CHECK(list(w.owner.token, "&creator_uuid=" + w.other.uuid)["count"] == 0);
  CHECK(list(w.owner.token, "&creator_uuid=" + w.owner.uuid)["count"] == 3);
  CHECK(list(w.owner.token, "&is_auto_update_from_repo_unit=false")["count"] == 0);
  CHECK(list(w.owner.token, "&is_auto_update_from_repo_unit=true")["count"] == 3);
  CHECK(names(list(w.owner.token, "&uuids=" + uuidOf(a) + "&uuids=" + uuidOf(c))) ==
        std::vector<std::string>{"list_c", "list_a"});
  {
    const auto response =
        getAs(w.owner.token, "/units?repos_uuids=" + list_repo + "&repos_uuids=" + w.mp_repo +
                                 "&search_string=list_");
    CHECK(response.json()["count"] == 3);
  }

  // Nodes only on request.
  CHECK(list(w.owner.token, "")["units"][0]["unit_nodes"] == json::array());
  const auto with_nodes = list(w.owner.token, "&is_include_output_unit_nodes=true");
  for (const auto& unit : with_nodes["units"]) {
    CAPTURE(unit["name"]);
    CHECK(unit["unit_nodes"].size() == 3);
  }
  const auto inputs =
      list(w.owner.token, "&is_include_output_unit_nodes=true&unit_node_type=Input");
  CHECK(inputs["count"] == 3);
  for (const auto& unit : inputs["units"]) {
    REQUIRE(unit["unit_nodes"].size() == 1);
    CHECK(unit["unit_nodes"][0]["type"] == "Input");
    CHECK(unit["unit_nodes"][0]["topic_name"] == "light/pepeunit");
  }
  const auto a_nodes = nodesOf(uuidOf(a));
  const auto b_nodes = nodesOf(uuidOf(b));
  const auto a_temp = a_nodes.at("temp/pepeunit")["uuid"].get<std::string>();
  const auto by_node =
      list(w.owner.token, "&is_include_output_unit_nodes=true&unit_node_uuids=" + a_temp);
  CHECK(by_node["count"] == 1);
  CHECK(names(by_node) == std::vector<std::string>{"list_a"});
  REQUIRE(by_node["units"][0]["unit_nodes"].size() == 1);
  CHECK(by_node["units"][0]["unit_nodes"][0]["uuid"] == a_temp);

  // unit_node_input_uuid: the Units with an Output linked to that Input, with just those.
  const auto a_light = a_nodes.at("light/pepeunit")["uuid"].get<std::string>();
  const auto b_temp = b_nodes.at("temp/pepeunit")["uuid"].get<std::string>();
  {
    auto db = w.db();
    pqxx::work tx(db);
    tx.exec_params(
        "INSERT INTO units_nodes_edges (node_output_uuid, node_input_uuid, creator_uuid)"
        " VALUES ($1, $2, $3)",
        b_temp, a_light, w.owner.uuid);
    tx.commit();
  }
  const auto linked = list(w.owner.token,
                           "&is_include_output_unit_nodes=true"
                           "&unit_node_input_uuid=" +
                               a_light);
  CHECK(linked["count"] == 1);
  CHECK(names(linked) == std::vector<std::string>{"list_b"});
  REQUIRE(linked["units"][0]["unit_nodes"].size() == 1);
  CHECK(linked["units"][0]["unit_nodes"][0]["uuid"] == b_temp);
  // The Bot cannot see list_b (Internal), so nothing is linked for it.
  CHECK(list("", "&is_include_output_unit_nodes=true&unit_node_input_uuid=" + a_light)["count"] ==
        0);

  // schema.json lists the linked Output under the Input (§6.3).
  {
    const auto response = getAs(w.owner.token, "/units/get_current_schema/" + uuidOf(a));
    REQUIRE(response.status == 200);
    const auto body = decodeEnvBody(response);
    CHECK(body.double_encoded);
    CHECK(body.env["input_topic"]["light/pepeunit"] ==
          json::array({"127.0.0.1/" + a_light + "/pepeunit", "127.0.0.1/" + b_temp + "/pepeunit"}));
  }

  {  // bad query parameters
    auto response = getAs(w.owner.token, "/units?visibility_level=public");
    CHECK(response.status == 422);
    CHECK(errorDetail(response) ==
          "2: Validation Error: Query parameter 'visibility_level' has an unknown value 'public'");
    response = getAs(w.owner.token, "/units?limit=-1");
    CHECK(response.status == 422);
    response = getAs(w.owner.token, "/units?uuids=xyz");
    CHECK(response.status == 422);
    CHECK(errorDetail(response) ==
          "2: Validation Error: Query parameter 'uuids' has a value that is not a valid UUID");
    response = getAs(w.owner.token, "/units?order_by_unit_name=up");
    CHECK(response.status == 422);
  }
}

TEST_CASE("units: update, reconcile and delete") {
  auto& w = world();
  const auto unit = manualUnit(w.py_repo, "recon_unit", "main", w.py_git.main_commits[0]);
  const auto uuid = uuidOf(unit);
  const auto patch = [&](const std::string& token, const json& body) {
    return http().patch(apiPath("/units/" + uuid), body, authHeader(token));
  };

  auto nodes = nodesOf(uuid);
  REQUIRE(nodes.size() == 2);
  const auto input_node = nodes.at("input/pepeunit")["uuid"];
  const auto output_node = nodes.at("output/pepeunit")["uuid"];

  // An env saved at c0 with the user's own value; the reconcile keeps it and adds NEW_VAR.
  const auto token = saveEnvAndGetToken(uuid, {{"DELAY_PUB_MSG", 7}, {"START_VALUE", "s"}});

  // c0 → c1: light/pepeunit (Input) and temp/pepeunit (Output) appear; the others keep uuids.
  auto response = patch(w.owner.token, {{"repo_commit", w.py_git.main_commits[1]}});
  REQUIRE(response.status == 200);
  CHECK(response.json()["repo_commit"] == w.py_git.main_commits[1]);
  nodes = nodesOf(uuid);
  REQUIRE(nodes.size() == 4);
  CHECK(nodes.at("input/pepeunit")["uuid"] == input_node);
  CHECK(nodes.at("output/pepeunit")["uuid"] == output_node);
  CHECK(nodes.at("light/pepeunit")["type"] == "Input");
  CHECK(nodes.at("temp/pepeunit")["type"] == "Output");
  {
    auto db = w.db();
    pqxx::work tx(db);
    std::set<std::string> agents;
    for (const auto& row : tx.exec_params("SELECT agent_type || ':' || agent_uuid::text FROM "
                                          "permissions WHERE resource_uuid = $1",
                                          nodes.at("light/pepeunit")["uuid"].get<std::string>())) {
      agents.insert(row[0].c_str());
    }
    CHECK(agents == std::set<std::string>{"Unit:" + uuid, "User:" + w.owner.uuid});
  }
  auto env = getEnv(w.owner.token, uuid).env;
  CHECK(env["NEW_VAR"] == "new_default");
  CHECK(env["DELAY_PUB_MSG"] == 7);
  CHECK(env["PEPEUNIT_TOKEN"] == token);
  CHECK(env["COMMIT_VERSION"] == w.py_git.main_commits[1]);

  // c1 → c2: input/pepeunit disappears (with its permissions).
  const auto gone = nodes.at("input/pepeunit")["uuid"].get<std::string>();
  REQUIRE(patch(w.owner.token, {{"repo_commit", w.py_git.main_commits[2]}}).status == 200);
  nodes = nodesOf(uuid);
  CHECK(nodes.size() == 3);
  CHECK(nodes.count("input/pepeunit") == 0);
  {
    auto db = w.db();
    pqxx::work tx(db);
    CHECK(tx.exec_params1("SELECT count(*) FROM units_nodes WHERE uuid = $1", gone)[0].as<int>() ==
          0);
    CHECK(tx.exec_params1("SELECT count(*) FROM permissions WHERE resource_uuid = $1", gone)[0]
              .as<int>() == 0);
  }

  {  // a rejected PATCH changes nothing
    response = patch(w.owner.token, {{"repo_commit", w.py_git.dev_commits[0]}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) == "5: Git Repo Validation Error: Commit " +
                                       w.py_git.dev_commits[0] + " not in branch main");
    response =
        patch(w.owner.token, {{"repo_branch", "dev"}, {"repo_commit", w.py_git.dev_commits[0]}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response).rfind("5: Git Repo Validation Error: This schema file has", 0) ==
          0);
    response = patch(w.owner.token, {{"repo_commit", nullptr}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) ==
          "7: Unit Validation Error: Unit updated manually requires branch and commit: "
          "repo_branch and repo_commit");
    const auto now = getAs(w.owner.token, "/units/" + uuid).json();
    CHECK(now["repo_branch"] == "main");
    CHECK(now["repo_commit"] == w.py_git.main_commits[2]);
    CHECK(nodesOf(uuid).size() == 3);
  }

  {  // names, visibility, auto mode
    response = patch(w.owner.token, {{"name", "recon_renamed"}});
    REQUIRE(response.status == 200);
    CHECK(response.json()["name"] == "recon_renamed");
    response = patch(w.owner.token, {{"name", "x"}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) == "7: Unit Validation Error: Name is not correct");
    autoUnit(w.py_repo, "recon_taken");
    response = patch(w.owner.token, {{"name", "recon_taken"}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) == "7: Unit Validation Error: Name is not unique");
    // Same name again is fine (it is the Unit's own).
    CHECK(patch(w.owner.token, {{"name", "recon_renamed"}}).status == 200);

    // Raising the Unit raises its nodes (§1.9).
    response = patch(w.owner.token, {{"visibility_level", "Private"}});
    REQUIRE(response.status == 200);
    for (const auto& entry : nodesOf(uuid)) {
      CAPTURE(entry.first);
      CHECK(entry.second["visibility_level"] == "Private");
    }
    // Back to auto: the repo target (c2, the newest commit of main).
    response = patch(w.owner.token, {{"is_auto_update_from_repo_unit", true}});
    REQUIRE(response.status == 200);
    CHECK(response.json()["is_auto_update_from_repo_unit"] == true);
    const auto target = getAs(w.owner.token, "/units/get_target_version/" + uuid).json();
    CHECK(target == json{{"commit", w.py_git.main_commits[2]}, {"tag", nullptr}});
  }

  {  // who may update and delete
    response = patch(w.other.token, {{"name", "stolen_unit"}});
    CHECK(response.status == 403);
    CHECK(errorDetail(response) == kNotCreator);
    response = patch(token, {{"name", "self_rename"}});
    CHECK(response.status == 403);
    CHECK(errorDetail(response) == kNotForUnit);
    response = http().patch(apiPath("/units/" + uuid), json{{"name", "bot_rename"}});
    CHECK(response.status == 403);
    CHECK(errorDetail(response) == kRoleNotAllowed);
    response = patch(w.admin.token, {{"name", "admin_renamed"}});
    CHECK(response.status == 200);
    CHECK(response.json()["name"] == "admin_renamed");

    response = http().del(apiPath("/units/" + uuid), authHeader(w.other.token));
    CHECK(response.status == 403);
    CHECK(errorDetail(response) == kNotCreator);
    response = http().del(apiPath("/units/" + uuid), authHeader(token));
    CHECK(response.status == 403);
    response = http().del(apiPath("/units/not-a-uuid"), authHeader(w.owner.token));
    CHECK(response.status == 422);
    CHECK(errorDetail(response) == kBadUuidPath);
    response = http().del(apiPath("/units/" + uuid), authHeader(w.owner.token));
    CHECK(response.status == 204);
    response = getAs(w.owner.token, "/units/" + uuid);
    CHECK(response.status == 422);
    CHECK(errorDetail(response) == kNoObject);
    response = http().del(apiPath("/units/" + uuid), authHeader(w.owner.token));
    CHECK(response.status == 422);
    CHECK(errorDetail(response) == kNoObject);
    auto db = w.db();
    pqxx::work tx(db);
    CHECK(tx.exec_params1("SELECT count(*) FROM units_nodes WHERE unit_uuid = $1", uuid)[0]
              .as<int>() == 0);
    CHECK(tx.exec_params1("SELECT count(*) FROM permissions WHERE resource_uuid = $1 OR "
                          "agent_uuid = $1",
                          uuid)[0]
              .as<int>() == 0);
    // The deleted Unit's token no longer authenticates.
    response = getAs(token, "/units/env/" + uuid);
    CHECK(response.status == 403);
    CHECK(errorDetail(response) == "1: No Access: Agent not found");
  }
}

TEST_CASE("units: env of a 2024-generation repo (PEPEUNIT_*), double-encoded") {
  auto& w = world();
  const auto unit = manualUnit(w.py_repo, "env_2024", "main", w.py_git.main_commits[0]);
  const auto uuid = uuidOf(unit);

  // Fresh: the developer's variables with their defaults plus COMMIT_VERSION, no reserved key.
  auto body = getEnv(w.owner.token, uuid);
  CHECK(body.double_encoded);
  CHECK(body.env == json{{"DELAY_PUB_MSG", 1},
                         {"START_VALUE", "0"},
                         {"COMMIT_VERSION", w.py_git.main_commits[0]}});

  // PATCH: reserved values generated under the user's values.
  patchEnv(w.owner.token, uuid, {{"DELAY_PUB_MSG", 3}, {"START_VALUE", "5"}, {"EXTRA", true}});
  body = getEnv(w.owner.token, uuid);
  CHECK(body.double_encoded);
  const auto& env = body.env;
  CHECK(env["PEPEUNIT_URL"] == "127.0.0.1");
  CHECK(env["HTTP_TYPE"] == "http");
  CHECK(env["PEPEUNIT_APP_PREFIX"] == "/pepeunit");
  CHECK(env["PEPEUNIT_API_ACTUAL_PREFIX"] == "/api/v1");
  CHECK(env["MQTT_URL"] == w.stack.backendEnv().at("MQTT_HOST"));
  CHECK(env["MQTT_PORT"] == std::stoi(w.stack.backendEnv().at("MQTT_PORT")));
  CHECK(env["PING_INTERVAL"] == 30);
  CHECK(env["STATE_SEND_INTERVAL"] == 60);
  CHECK(base64Bytes(env["SYNC_ENCRYPT_KEY"].get<std::string>()) == 16);
  CHECK(base64Bytes(env["SECRET_KEY"].get<std::string>()) == 16);
  CHECK(env["DELAY_PUB_MSG"] == 3);
  CHECK(env["START_VALUE"] == "5");
  CHECK(env["EXTRA"] == true);
  CHECK(env["COMMIT_VERSION"] == w.py_git.main_commits[0]);
  // The Unit token: exactly {"uuid","type":"Unit"}, HS256 with the backend's secret.
  const auto token = env["PEPEUNIT_TOKEN"].get<std::string>();
  CHECK(jwtClaims(token) == json{{"uuid", uuid}, {"type", "Unit"}});
  nlohmann::ordered_json claims;
  claims["uuid"] = uuid;
  claims["type"] = "Unit";
  CHECK(token == pepeunit::crypto::signJwt(claims, w.secret()));
  // Stored encrypted, without COMMIT_VERSION.
  {
    auto db = w.db();
    pqxx::work tx(db);
    const auto stored =
        tx.exec_params1("SELECT cipher_env_dict FROM units WHERE uuid = $1", uuid)[0];
    REQUIRE_FALSE(stored.is_null());
    const std::string cipher = stored.c_str();
    CHECK(cipher.find("PEPEUNIT") == std::string::npos);
    CHECK(std::count(cipher.begin(), cipher.end(), '.') == 2);
  }

  // Saving again keeps user-supplied reserved values and regenerates the keys.
  const auto first_key = env["SECRET_KEY"];
  patchEnv(w.owner.token, uuid,
           {{"DELAY_PUB_MSG", 3}, {"START_VALUE", "5"}, {"MQTT_URL", "mqtt.example.com"}});
  const auto again = getEnv(w.owner.token, uuid).env;
  CHECK(again["MQTT_URL"] == "mqtt.example.com");
  CHECK(again["PEPEUNIT_TOKEN"] == token);
  CHECK(again["SECRET_KEY"] != first_key);
  CHECK_FALSE(again.contains("EXTRA"));

  {  // env access: the creator and the Unit itself, nobody else
    CHECK(getEnv(token, uuid).env["PEPEUNIT_TOKEN"] == token);
    auto response = getAs(w.admin.token, "/units/env/" + uuid);
    CHECK(response.status == 403);
    CHECK(errorDetail(response) == kNotCreator);
    response = getAs(w.other.token, "/units/env/" + uuid);
    CHECK(response.status == 403);
    CHECK(errorDetail(response) == kNotCreator);
    response = getAs("", "/units/env/" + uuid);
    CHECK(response.status == 403);
    CHECK(errorDetail(response) == kRoleNotAllowed);
    const auto sibling = manualUnit(w.py_repo, "env_sibling", "main", w.py_git.main_commits[0]);
    const auto sibling_token = saveEnvAndGetToken(uuidOf(sibling));
    response = getAs(sibling_token, "/units/env/" + uuid);
    CHECK(response.status == 403);
    CHECK(errorDetail(response) == kNotForUnit);

    // PATCH: the creator User only (not the Unit, not an Admin).
    for (const auto& t : {token, w.admin.token, w.other.token}) {
      response = http().patch(apiPath("/units/env/" + uuid),
                              json{{"env_json_string", pythonUserEnv().dump()}}, authHeader(t));
      CHECK(response.status == 403);
    }
  }

  {  // env PATCH validation
    const auto patch = [&](const json& body) {
      return http().patch(apiPath("/units/env/" + uuid), body, authHeader(w.owner.token));
    };
    auto response = patch({{"env_json_string", "{not json"}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) == "9: JSON Decode Error: Data env_json_string is invalid");
    response = patch({{"env_json_string", "[1, 2]"}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) == "9: JSON Decode Error: Data env_json_string is invalid");
    response = patch({{"env_json_string", "{}"}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) ==
          "5: Git Repo Validation Error: This env file has {'DELAY_PUB_MSG', 'START_VALUE'} "
          "unresolved variable");
    response = patch(json::object());
    CHECK(response.status == 422);
    CHECK(errorDetail(response) == "2: Validation Error: Field 'env_json_string' is required");
    json big = pythonUserEnv();
    big["BLOB"] = std::string(kMaxCipherLength, 'x');
    response = patch({{"env_json_string", big.dump()}});
    CHECK(response.status == 422);
    CHECK(errorDetail(response) == kTooLong);
    response = http().patch(apiPath("/units/env/not-a-uuid"), json{{"env_json_string", "{}"}},
                            authHeader(w.owner.token));
    CHECK(response.status == 422);
    CHECK(errorDetail(response) == kBadUuidPath);
    // The stored env is unchanged by the failures.
    CHECK(getEnv(w.owner.token, uuid).env["MQTT_URL"] == "mqtt.example.com");
  }
}

TEST_CASE("units: env and schema of a 2026-generation repo (PU_*), plain objects") {
  auto& w = world();
  const auto unit = autoUnit(w.mp_repo, "env_2026");
  const auto uuid = uuidOf(unit);
  auto response = getAs(w.owner.token, "/units/env/" + uuid);
  REQUIRE(response.status == 200);
  auto body = decodeEnvBody(response);
  CHECK_FALSE(body.double_encoded);
  CHECK(body.env == json{{"PUC_WIFI_SSID", "ssid"},
                         {"PUC_WIFI_PASS", "password"},
                         {"DELAY_PUB_MSG", 1},
                         {"START_VALUE", "0"},
                         {"PU_COMMIT_VERSION", w.mp_git.main_commits[0]}});

  patchEnv(w.owner.token, uuid,
           {{"PUC_WIFI_SSID", "home"},
            {"PUC_WIFI_PASS", "secret"},
            {"DELAY_PUB_MSG", 1},
            {"START_VALUE", "0"}});
  const auto env = getEnv(w.owner.token, uuid).env;
  CHECK(env["PU_DOMAIN"] == "127.0.0.1");
  CHECK(env["PU_HTTP_TYPE"] == "http");
  CHECK(env["PU_APP_PREFIX"] == "/pepeunit");
  CHECK(env["PU_API_ACTUAL_PREFIX"] == "/api/v1");
  CHECK(env["PU_MQTT_HOST"] == w.stack.backendEnv().at("MQTT_HOST"));
  CHECK(env["PU_MQTT_PORT"] == std::stoi(w.stack.backendEnv().at("MQTT_PORT")));
  CHECK(env["PU_MQTT_KEEPALIVE"] == 60);
  CHECK(env["PU_STATE_SEND_INTERVAL"] == 60);
  CHECK(base64Bytes(env["PU_SECRET_KEY"].get<std::string>()) == 32);
  CHECK(base64Bytes(env["PU_ENCRYPT_KEY"].get<std::string>()) == 32);
  CHECK(env["PUC_WIFI_SSID"] == "home");
  CHECK(env["PU_COMMIT_VERSION"] == w.mp_git.main_commits[0]);
  CHECK_FALSE(env.contains("PEPEUNIT_TOKEN"));
  CHECK_FALSE(env.contains("COMMIT_VERSION"));
  const auto token = env["PU_AUTH_TOKEN"].get<std::string>();
  CHECK(jwtClaims(token) == json{{"uuid", uuid}, {"type", "Unit"}});

  // The Unit itself reads its env and schema, as plain objects.
  CHECK(getEnv(token, uuid).env["PU_AUTH_TOKEN"] == token);
  response = getAs(token, "/units/get_current_schema/" + uuid);
  REQUIRE(response.status == 200);
  const auto schema = decodeEnvBody(response);
  CHECK_FALSE(schema.double_encoded);
  const auto nodes = nodesOf(uuid);
  const std::string base = "127.0.0.1/input_base_topic/" + uuid + "/";
  CHECK(schema.env["input_base_topic"] ==
        json{{"update/pepeunit", {base + "update/pepeunit"}},
             {"env_update/pepeunit", {base + "env_update/pepeunit"}},
             {"schema_update/pepeunit", {base + "schema_update/pepeunit"}},
             {"log_sync/pepeunit", {base + "log_sync/pepeunit"}}});
  CHECK(schema.env["output_base_topic"]["state/pepeunit"] ==
        json::array({"127.0.0.1/output_base_topic/" + uuid + "/state/pepeunit"}));
  CHECK(schema.env["input_topic"]["input/pepeunit"] ==
        json::array(
            {"127.0.0.1/" + nodes.at("input/pepeunit")["uuid"].get<std::string>() + "/pepeunit"}));
  CHECK(schema.env["output_topic"]["output/pepeunit"] ==
        json::array(
            {"127.0.0.1/" + nodes.at("output/pepeunit")["uuid"].get<std::string>() + "/pepeunit"}));
}

TEST_CASE("units: target version and current schema access") {
  auto& w = world();
  const auto pinned = manualUnit(w.py_repo, "target_pin", "main", w.py_git.main_commits[1]);
  const auto automatic = autoUnit(w.py_repo, "target_auto");
  auto response = getAs(w.owner.token, "/units/get_target_version/" + uuidOf(pinned));
  REQUIRE(response.status == 200);
  CHECK(response.json() == json{{"commit", w.py_git.main_commits[1]}, {"tag", "v1.1.0"}});
  response = getAs(w.owner.token, "/units/get_target_version/" + uuidOf(automatic));
  CHECK(response.json() == json{{"commit", w.py_git.main_commits[2]}, {"tag", nullptr}});
  CHECK(getAs(w.admin.token, "/units/get_target_version/" + uuidOf(pinned)).status == 200);
  const auto token = saveEnvAndGetToken(uuidOf(pinned));
  CHECK(getAs(token, "/units/get_target_version/" + uuidOf(pinned)).status == 200);

  for (const std::string path : {"/units/get_target_version/", "/units/get_current_schema/"}) {
    CAPTURE(path);
    response = getAs(w.other.token, path + uuidOf(pinned));
    CHECK(response.status == 403);
    CHECK(errorDetail(response) == kNotCreator);
    response = getAs("", path + uuidOf(pinned));
    CHECK(response.status == 403);
    CHECK(errorDetail(response) == kRoleNotAllowed);
    response = getAs(token, path + uuidOf(automatic));
    CHECK(response.status == 403);
    CHECK(errorDetail(response) == kNotForUnit);
    response = getAs(w.owner.token, path + "0f8fad5b-d9cb-469f-a165-70867728950e");
    CHECK(response.status == 422);
    CHECK(errorDetail(response) == kNoObject);
    response = getAs(w.owner.token, path + "zzz");
    CHECK(response.status == 422);
    CHECK(errorDetail(response) == kBadUuidPath);
  }

  response = getAs(token, "/units/get_current_schema/" + uuidOf(pinned));
  REQUIRE(response.status == 200);
  const auto schema = decodeEnvBody(response);
  CHECK(schema.double_encoded);
  const auto nodes = nodesOf(uuidOf(pinned));
  CHECK(
      schema.env["input_topic"] ==
      json{{"input/pepeunit",
            {"127.0.0.1/" + nodes.at("input/pepeunit")["uuid"].get<std::string>() + "/pepeunit"}},
           {"light/pepeunit",
            {"127.0.0.1/" + nodes.at("light/pepeunit")["uuid"].get<std::string>() + "/pepeunit"}}});
  CHECK(schema.env["output_topic"].size() == 2);
}

TEST_CASE("units: state storage") {
  auto& w = world();
  const auto unit = autoUnit(w.py_repo, "state_unit");
  const auto uuid = uuidOf(unit);
  const auto set = [&](const std::string& token, const json& body) {
    return http().post(apiPath("/units/set_state_storage/" + uuid), body,
                       token.empty() ? HttpHeaders{} : authHeader(token));
  };
  auto response = getAs(w.owner.token, "/units/get_state_storage/" + uuid);
  REQUIRE(response.status == 200);
  CHECK(response.body == "\"\"");

  CHECK(set(w.owner.token, {{"state", "{\"counter\": 1}"}}).status == 204);
  response = getAs(w.owner.token, "/units/get_state_storage/" + uuid);
  CHECK(response.json() == "{\"counter\": 1}");
  const auto token = saveEnvAndGetToken(uuid);
  CHECK(set(token, {{"state", "from the device ü"}}).status == 204);
  CHECK(getAs(token, "/units/get_state_storage/" + uuid).json() == "from the device ü");
  {
    auto db = w.db();
    pqxx::work tx(db);
    const std::string cipher =
        tx.exec_params1("SELECT cipher_state_storage FROM units WHERE uuid = $1", uuid)[0].c_str();
    CHECK(cipher.find("device") == std::string::npos);
  }

  // Exactly the limit is fine; one more character is error 12 and changes nothing.
  CHECK(set(token, {{"state", std::string(kMaxCipherLength, 'a')}}).status == 204);
  response = set(token, {{"state", std::string(kMaxCipherLength + 1, 'a')}});
  CHECK(response.status == 422);
  CHECK(errorDetail(response) == kTooLong);
  CHECK(getAs(token, "/units/get_state_storage/" + uuid).json() ==
        std::string(kMaxCipherLength, 'a'));

  // "" clears it.
  CHECK(set(w.owner.token, {{"state", ""}}).status == 204);
  CHECK(getAs(w.owner.token, "/units/get_state_storage/" + uuid).body == "\"\"");

  response = set(w.owner.token, {{"state", 5}});
  CHECK(response.status == 422);
  CHECK(errorDetail(response) == "2: Validation Error: Field 'state' must be a string, got number");
  for (const auto& t : {w.other.token, w.admin.token}) {
    response = set(t, {{"state", "x"}});
    CHECK(response.status == 403);
    CHECK(errorDetail(response) == kNotCreator);
    response = getAs(t, "/units/get_state_storage/" + uuid);
    CHECK(response.status == 403);
    CHECK(errorDetail(response) == kNotCreator);
  }
  response = set("", {{"state", "x"}});
  CHECK(response.status == 403);
  CHECK(errorDetail(response) == kRoleNotAllowed);
}

TEST_CASE("units: send_command_to_input_base_topic") {
  auto& w = world();
  const auto unit = autoUnit(w.py_repo, "command_unit");
  const auto uuid = uuidOf(unit);
  const auto send = [&](const std::string& token, const std::string& query) {
    return http().post(apiPath("/units/send_command_to_input_base_topic/" + uuid + query),
                       std::string(), token.empty() ? HttpHeaders{} : authHeader(token));
  };
  for (const std::string command : {"Update", "EnvUpdate", "SchemaUpdate", "LogSync"}) {
    CAPTURE(command);
    CHECK(send(w.owner.token, "?command=" + command).status == 204);
  }
  const auto token = saveEnvAndGetToken(uuid);
  CHECK(send(token, "?command=SchemaUpdate").status == 204);
  CHECK(send(w.admin.token, "?command=Update").status == 204);

  auto response = send(w.owner.token, "?command=Reboot");
  CHECK(response.status == 422);
  CHECK(errorDetail(response) ==
        "2: Validation Error: Query parameter 'command' has an unknown value 'Reboot' (Update, "
        "EnvUpdate, SchemaUpdate or LogSync)");
  response = send(w.owner.token, "");
  CHECK(response.status == 422);
  CHECK(errorDetail(response) == "2: Validation Error: Query parameter 'command' is required");
  response = send(w.other.token, "?command=Update");
  CHECK(response.status == 403);
  CHECK(errorDetail(response) == kNotCreator);
  response = send("", "?command=Update");
  CHECK(response.status == 403);
  CHECK(errorDetail(response) == kRoleNotAllowed);
}

TEST_CASE("units: LogSync drops the unit's stored logs before the unit resends them") {
  auto& w = world();
  const auto uuid = uuidOf(autoUnit(w.py_repo, "log_sync_unit"));
  const auto other = uuidOf(autoUnit(w.py_repo, "log_keep_unit"));
  const auto logs = [&](const std::string& unit) {
    auto conn = w.db();
    pqxx::nontransaction tx(conn);
    return tx.exec_params1("SELECT count(*) FROM unit_logs WHERE unit_uuid = $1", unit)[0]
        .as<long>();
  };
  {
    auto conn = w.db();
    pqxx::work tx(conn);
    for (const auto& unit : {uuid, uuid, other}) {
      tx.exec_params(
          "INSERT INTO unit_logs (unit_uuid, level, text, create_datetime, expires_at) VALUES "
          "($1, 'Info', 'old line', now(), now() + interval '1 day')",
          unit);
    }
    tx.commit();
  }
  REQUIRE(logs(uuid) == 2);
  const auto sync = [&](const std::string& command) {
    return http().post(
        apiPath("/units/send_command_to_input_base_topic/" + uuid + "?command=" + command),
        std::string(), authHeader(w.owner.token));
  };
  CHECK(sync("SchemaUpdate").status == 204);
  CHECK(logs(uuid) == 2);  // other commands keep them
  CHECK(sync("LogSync").status == 204);
  CHECK(logs(uuid) == 0);
  CHECK(logs(other) == 1);  // another unit's logs are untouched
}

TEST_CASE("units: firmware archives") {
  auto& w = world();
  const auto unit = manualUnit(w.py_repo, "fw_unit", "main", w.py_git.main_commits[0]);
  const auto uuid = uuidOf(unit);

  // Before the env was saved the reserved keys are missing: no archive (it would brick a device).
  auto response = getFirmware(w.owner.token, "tgz", uuid);
  CHECK(response.status == 422);
  CHECK(errorDetail(response).rfind("5: Git Repo Validation Error: This env file has {'HTTP_TYPE'",
                                    0) == 0);

  const auto token = saveEnvAndGetToken(uuid);
  const auto expected_env = getEnv(w.owner.token, uuid).env;
  const auto nodes = nodesOf(uuid);

  struct Case {
    std::string format;
    std::string query;
    int wbits;
  };
  const std::vector<Case> cases = {
      {"zip", "", 0},
      {"tar", "", 0},
      {"tgz", "", 9},  // the router defaults (every device): zlib stream, 512-byte window
      {"tgz", "?wbits=9&level=9", 9},
      {"tgz", "?wbits=15&level=1", 15},
      {"tgz", "?wbits=31&level=6", 31},  // gzip framing
      {"tgz", "?wbits=25&level=0", 25},
      {"tgz", "?wbits=-9&level=-1", -9},  // raw deflate
      {"tgz", "?wbits=-15&level=9", -15},
  };
  for (const auto& c : cases) {
    CAPTURE(c.format);
    CAPTURE(c.query);
    response = getFirmware(token, c.format, uuid, c.query);
    REQUIRE(response.status == 200);
    CHECK(response.header("content-type") == "application/octet-stream");
    CHECK(response.header("content-length") == std::to_string(response.body.size()));
    CHECK(response.header("transfer-encoding").empty());
    CHECK(response.header("content-encoding").empty());
    CHECK(response.header("content-disposition") ==
          "attachment; filename=\"" + uuid + "." + c.format + "\"");
    const auto unpacked = unpack(response.body, c.format, c.wbits);
    CHECK(unpacked["unsafe"] == json::array());
    const auto files = asSet(unpacked["files"]);
    // At the root: the program, env.json, schema.json; .pepeignore'd files are gone.
    CHECK(files.count("main.py") == 1);
    CHECK(files.count("VERSION") == 1);
    CHECK(files.count("env.json") == 1);
    CHECK(files.count("schema.json") == 1);
    for (const char* ignored : {"README.md", ".pepeignore", ".gitignore", "env_example.json",
                                "schema_example.json", "tests/test_unit.py", "dev.txt"}) {
      CAPTURE(ignored);
      CHECK(files.count(ignored) == 0);
    }
    const auto& env = unpacked["json"]["env.json"];
    CHECK(env == expected_env);
    CHECK(env["COMMIT_VERSION"] == w.py_git.main_commits[0]);
    CHECK(env["PEPEUNIT_TOKEN"] == token);
    const auto& schema = unpacked["json"]["schema.json"];
    CHECK(schema["input_topic"]["input/pepeunit"] ==
          json::array({"127.0.0.1/" + nodes.at("input/pepeunit")["uuid"].get<std::string>() +
                       "/pepeunit"}));
    CHECK(schema["input_base_topic"]["update/pepeunit"] ==
          json::array({"127.0.0.1/input_base_topic/" + uuid + "/update/pepeunit"}));
  }
  // The creator downloads too.
  CHECK(getFirmware(w.owner.token, "zip", uuid).status == 200);

  {  // bad wbits and level are error 7, before anything else
    for (const std::string query : {"?wbits=8", "?wbits=16", "?wbits=24", "?wbits=32", "?wbits=-8",
                                    "?wbits=-16", "?wbits=0"}) {
      CAPTURE(query);
      response = getFirmware(token, "tgz", uuid, query);
      CHECK(response.status == 422);
      CHECK(errorDetail(response).rfind("7: Unit Validation Error: Wbits ", 0) == 0);
    }
    for (const std::string query : {"?level=10", "?level=-2", "?wbits=9&level=100"}) {
      CAPTURE(query);
      response = getFirmware(token, "tgz", uuid, query);
      CHECK(response.status == 422);
      CHECK(errorDetail(response).rfind("7: Unit Validation Error: Level ", 0) == 0);
    }
    response = getFirmware(token, "tgz", uuid, "?wbits=16");
    CHECK(errorDetail(response) ==
          "7: Unit Validation Error: Wbits 16 is not valid, allowed: -15..-9 (raw deflate), "
          "9..15 (zlib), 25..31 (gzip)");
    response = getFirmware(token, "tgz", uuid, "?wbits=nine");
    CHECK(response.status == 422);
    CHECK(errorDetail(response) ==
          "2: Validation Error: Query parameter 'wbits' must be an integer");
  }

  {  // who may download
    for (const std::string format : {"zip", "tar", "tgz"}) {
      CAPTURE(format);
      response = getFirmware(w.other.token, format, uuid);
      CHECK(response.status == 403);
      CHECK(errorDetail(response) == kNotCreator);
      response = getFirmware(w.admin.token, format, uuid);
      CHECK(response.status == 403);
      response = getFirmware("", format, uuid);
      CHECK(response.status == 403);
      CHECK(errorDetail(response) == kRoleNotAllowed);
      response = getFirmware(token, format, "not-a-uuid");
      CHECK(response.status == 422);
      CHECK(errorDetail(response) == kBadUuidPath);
    }
  }

  {  // the 2026 template packs its own files and PU_* env
    const auto mp = autoUnit(w.mp_repo, "fw_mp_unit");
    patchEnv(w.owner.token, uuidOf(mp),
             {{"PUC_WIFI_SSID", "home"},
              {"PUC_WIFI_PASS", "pw"},
              {"DELAY_PUB_MSG", 1},
              {"START_VALUE", "0"}});
    response = getFirmware(w.owner.token, "tgz", uuidOf(mp), "?wbits=9&level=9");
    REQUIRE(response.status == 200);
    const auto unpacked = unpack(response.body, "tgz", 9);
    const auto files = asSet(unpacked["files"]);
    CHECK(files == std::set<std::string>{"boot.py", "main.py", "env.json", "schema.json"});
    CHECK(unpacked["json"]["env.json"]["PU_COMMIT_VERSION"] == w.mp_git.main_commits[0]);
    CHECK(unpacked["json"]["env.json"].contains("PU_AUTH_TOKEN"));
  }

  // Every scratch directory is gone once its response was sent.
  CHECK(scratchLeftovers().empty());
}

TEST_CASE("units: firmware of a hostile repo") {
  auto& w = world();
  // c1: symlinks to /etc/passwd and /etc: the archive holds neither them nor their targets.
  const auto tree = pepeunit::testing::runGit(w.hostile_git.work_dir,
                                              {"ls-tree", "-r", w.hostile_git.main_commits[1]});
  REQUIRE(tree.find("120000 blob") != std::string::npos);  // the symlinks really are in git
  const auto links =
      manualUnit(w.hostile_repo, "fw_symlinks", "main", w.hostile_git.main_commits[1]);
  saveEnvAndGetToken(uuidOf(links));
  for (const std::string format : {"zip", "tar", "tgz"}) {
    CAPTURE(format);
    const auto response = getFirmware(w.owner.token, format, uuidOf(links));
    REQUIRE(response.status == 200);
    const auto unpacked = unpack(response.body, format, 9);
    CHECK(unpacked["unsafe"] == json::array());
    const auto names = asSet(unpacked["names"]);
    for (const auto& name : names) {
      CAPTURE(name);
      CHECK(name.find("evil") == std::string::npos);
      CHECK(name.find("passwd") == std::string::npos);
    }
    CHECK(asSet(unpacked["files"]).count("main.py") == 1);
  }

  // c2: a file bigger than the checkout limit: a clear error, nothing left behind.
  const auto huge = manualUnit(w.hostile_repo, "fw_huge", "main", w.hostile_git.main_commits[2]);
  saveEnvAndGetToken(uuidOf(huge));
  const auto response = getFirmware(w.owner.token, "tgz", uuidOf(huge));
  CHECK(response.status == 422);
  CHECK(errorDetail(response) ==
        "5: Git Repo Validation Error: Repository files exceed the size limit (" +
            std::to_string(kCheckoutLimit) + " bytes)");
  CHECK(scratchLeftovers().empty());
}

TEST_CASE("units: repo-driven update reconciles auto-updating Units only") {
  auto& w = world();
  auto git = pepeunit::testing::createLocalTemplateRepo(w.git_dir.path(),
                                                        plainTemplate("driven", "python-unit"));
  const auto repo = w.createRepo("driven_repo", git);
  const auto follower = autoUnit(repo, "driven_auto");
  const auto pinned = manualUnit(repo, "driven_pinned", "main", git.main_commits[0]);
  const auto before = nodesOf(uuidOf(follower));
  REQUIRE(before.size() == 2);

  // A new commit adds an Output; the mirror learns it, then the repo owner updates the Units.
  const auto sha = pepeunit::testing::commitAndPush(
      git, "main",
      CommitSpec{"Add extra output",
                 {{"schema_example.json",
                   schemaJson({"input/pepeunit"}, {"output/pepeunit", "extra/pepeunit"})}},
                 {},
                 "v1.2.0"});
  expectStatus(http().patch(apiPath("/repos/update_local_repo/" + repo), std::string(),
                            authHeader(w.owner.token)),
               204, "update_local_repo");
  expectStatus(http().patch(apiPath("/repos/update_units_firmware/" + repo), std::string(),
                            authHeader(w.owner.token)),
               204, "update_units_firmware");

  const auto after = nodesOf(uuidOf(follower));
  CHECK(after.size() == 3);
  CHECK(after.count("extra/pepeunit") == 1);
  CHECK(after.at("input/pepeunit")["uuid"] == before.at("input/pepeunit")["uuid"]);
  CHECK(nodesOf(uuidOf(pinned)).size() == 2);  // manual Units are never touched by the repo
  const auto target = getAs(w.owner.token, "/units/get_target_version/" + uuidOf(follower));
  CHECK(target.json() == json{{"commit", sha}, {"tag", "v1.2.0"}});
}
