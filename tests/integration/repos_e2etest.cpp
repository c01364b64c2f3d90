// Repos (§2.2, §7.1-§7.5, §8.2-§8.3) over real HTTP against the running backend with real
// PostgreSQL and Redis. Repositories are built from firmware-templates/python-unit with the git
// CLI (several commits, a `dev` branch, annotated and lightweight tags) and served on loopback
// by `git http-backend`, one server public and one behind HTTP basic auth.
//
// Three backends: a shared one (local repos allowed, hourly scheduler) for the functional cases;
// one with BACKEND_ALLOW_LOCAL_REPOS=false and BACKEND_MAX_EXTERNAL_REPO_SIZE=1 for the
// rejections; one with BACKEND_REPO_SYNC_INTERVAL=1 proving that the scheduler really fetches.
// The advisory lock that keeps two backend instances from running the pass at once is tested
// against the shared backend's database through store::pg directly.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "crypto/base64.hpp"
#include "crypto/secret_box.hpp"
#include "domain/git_url.hpp"
#include "gitsync/repo_mirror.hpp"
#include "integration/harness/git_fixtures.hpp"
#include "integration/harness/http_client.hpp"
#include "integration/harness/stack.hpp"
#include "integration/harness/temp_dir.hpp"
#include "integration/harness/wait.hpp"
#include "service/repo_units_updater.hpp"
#include "service/scheduler.hpp"
#include "store/pg/pg_repo_store.hpp"
#include "store/pg/pool.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;
using pepeunit::testing::BasicAuth;
using pepeunit::testing::CommitSpec;
using pepeunit::testing::GitHttpServer;
using pepeunit::testing::HttpClient;
using pepeunit::testing::HttpHeaders;
using pepeunit::testing::HttpResponse;
using pepeunit::testing::LocalRepo;
using pepeunit::testing::makeLocalRepo;
using pepeunit::testing::pollUntil;
using pepeunit::testing::RepoSpec;
using pepeunit::testing::runGit;
using pepeunit::testing::Stack;
using pepeunit::testing::TempDir;

namespace {

constexpr const char* kApi = "/pepeunit/api/v1";
constexpr const char* kPassword = "Pass-word_123";
constexpr const char* kGitUser = "gituser";
constexpr const char* kGitPassword = "git-Secret-4242";
constexpr const char* kWrongGitPassword = "not-the-Password-77";
constexpr const char* kNotAllowed =
    "1: No Access: The current user role is not in the list of available roles";
constexpr const char* kNotCreator =
    "1: No Access: The current user is not the creator of this Repo";
constexpr const char* kNoObject = "2: Validation Error: The object does not exist";
constexpr const char* kBadUuidPath =
    "2: Validation Error: Path parameter 'uuid' is not a valid UUID";
constexpr const char* kBadCredentials =
    "5: Git Repo Validation Error: No valid repo_url or credentials";

std::string api(const std::string& path) {
  return kApi + path;
}

HttpHeaders auth(const std::string& token) {
  return {{"x-auth-token", token}};
}

struct Account {
  json read;
  std::string token;
  std::string uuid() const { return read["uuid"].get<std::string>(); }
};

Account registerAndLogin(HttpClient& http, const std::string& login) {
  const auto created = http.post(api("/users"), json{{"login", login}, {"password", kPassword}});
  if (created.status != 201) {
    throw std::runtime_error("POST /users " + login + ": " + created.body);
  }
  const auto token =
      http.post(api("/users/auth"), json{{"credentials", login}, {"password", kPassword}});
  if (token.status != 200) {
    throw std::runtime_error("POST /users/auth " + login + ": " + token.body);
  }
  return {created.json(), token.json()["token"].get<std::string>()};
}

/// The python-unit template's files (its own tests left out), keyed by relative path.
std::map<std::string, std::string> templateFiles() {
  const fs::path root = fs::path(PEPEUNIT_SOURCE_DIR) / "firmware-templates" / "python-unit";
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file())
      continue;
    const auto rel = fs::relative(entry.path(), root).generic_string();
    if (rel.rfind("tests/", 0) == 0 || rel.find("__pycache__") != std::string::npos)
      continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    files[rel] = buffer.str();
  }
  if (files.count("schema_example.json") == 0 || files.count("env_example.json") == 0) {
    throw std::runtime_error("python-unit template files not found under " + root.string());
  }
  return files;
}

/// main: template (annotated v0.1.0), main.py changed (v0.2.0), VERSION changed (untagged);
/// dev: from main's second commit, dev.txt (v0.3.0-dev).
RepoSpec pythonUnitSpec() {
  auto files = templateFiles();
  RepoSpec spec;
  spec.main_commits.push_back({"Initial firmware", files, {}, "v0.1.0", true});
  spec.main_commits.push_back({"Blink faster",
                               {{"main.py", files["main.py"] + "\n# blink faster\n"}},
                               {},
                               "v0.2.0",
                               false});
  spec.main_commits.push_back({"Bump VERSION", {{"VERSION", "0.2.1\n"}}, {}, std::nullopt, false});
  spec.dev_commits.push_back(
      {"Dev experiment", {{"dev.txt", "experimental\n"}}, {}, "v0.3.0-dev", false});
  spec.dev_from = 1;
  return spec;
}

/// The same template without any tag.
RepoSpec untaggedSpec() {
  auto spec = pythonUnitSpec();
  for (auto& c : spec.main_commits)
    c.tag.reset();
  for (auto& c : spec.dev_commits)
    c.tag.reset();
  return spec;
}

std::string randomBytes(std::size_t size) {
  std::mt19937_64 rng(7);
  std::string out(size, '\0');
  for (auto& c : out)
    c = static_cast<char>(rng() & 0xff);
  return out;
}

std::set<std::string> entriesOf(const fs::path& dir) {
  std::set<std::string> out;
  if (!fs::exists(dir))
    return out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    out.insert(entry.path().filename().string());
  }
  return out;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty())
      out.push_back(line);
  }
  return out;
}

/// Git repositories and their two loopback servers, shared by every backend of this file.
struct GitWorld {
  TempDir dir;
  fs::path public_root = dir.path() / "public";
  fs::path private_root = dir.path() / "private";
  LocalRepo python = makeLocalRepo(public_root, "python_unit", pythonUnitSpec());
  LocalRepo plain = makeLocalRepo(public_root, "plain_unit", untaggedSpec());
  LocalRepo secret = makeLocalRepo(private_root, "secret_unit", pythonUnitSpec());
  GitHttpServer public_server{public_root};
  GitHttpServer private_server{private_root, BasicAuth{kGitUser, kGitPassword}};

  std::string pythonUrl() const { return public_server.urlFor("python_unit.git"); }
  std::string plainUrl() const { return public_server.urlFor("plain_unit.git"); }
  std::string secretUrl() const { return private_server.urlFor("secret_unit.git"); }
};

GitWorld& git() {
  static GitWorld world;
  return world;
}

/// A backend with an Admin (the first user) and two Users.
struct Backend {
  explicit Backend(std::map<std::string, std::string> overrides)
      : stack(Stack::Options::withEnv(std::move(overrides))) {}

  Stack stack;
  HttpClient http{"127.0.0.1", stack.backend().port()};
  Account admin = registerAndLogin(http, "repo_admin");
  Account alice = registerAndLogin(http, "alice_user");
  Account bob = registerAndLogin(http, "bob_user");

  fs::path repoDir() const { return stack.backendEnv().at("BACKEND_SAVE_REPO_PATH"); }

  HttpResponse createRepo(const Account& who, const json& body) {
    return http.post(api("/repos"), body, auth(who.token));
  }

  /// POST /repos that must succeed; returns the RepoRead.
  json createRepoOk(const Account& who, const json& body) {
    const auto response = createRepo(who, body);
    INFO("POST /repos " << body.dump() << " -> " << response.status << " " << response.body);
    REQUIRE(response.status == 201);
    return response.json();
  }

  json publicRepo(const Account& who, const std::string& name, const std::string& url,
                  const std::string& visibility = "Public") {
    return createRepoOk(who, {{"name", name},
                              {"repo_url", url},
                              {"visibility_level", visibility},
                              {"platform", "Gitlab"},
                              {"is_public_repository", true},
                              {"is_compilable_repo", false}});
  }

  json privateRepo(const Account& who, const std::string& name, const std::string& password) {
    return createRepoOk(who, {{"name", name},
                              {"repo_url", git().secretUrl()},
                              {"is_public_repository", false},
                              {"credentials", {{"username", kGitUser}, {"pat_token", password}}}});
  }

  json getRepo(const Account& who, const std::string& uuid) {
    const auto response = http.get(api("/repos/" + uuid), auth(who.token));
    INFO(response.body);
    REQUIRE(response.status == 200);
    return response.json();
  }

  HttpResponse patchRepo(const Account& who, const std::string& uuid, const json& body) {
    return http.patch(api("/repos/" + uuid), body, auth(who.token));
  }

  /// Every repo row, as the Admin (who is unrestricted) counts them.
  std::int64_t repoCount() {
    const auto response = http.get(api("/repos"), auth(admin.token));
    REQUIRE(response.status == 200);
    return response.json()["count"].get<std::int64_t>();
  }

  json branchCommits(const Account& who, const std::string& uuid, const std::string& query) {
    const auto response =
        http.get(api("/repos/branch_commits/" + uuid + "?" + query), auth(who.token));
    INFO(response.body);
    REQUIRE(response.status == 200);
    return response.json();
  }

  /// Inserts a Unit row of `repo` straight into Postgres (the repo rules only need the row).
  void insertUnit(const std::string& repo, const std::string& name, const std::string& visibility,
                  const std::optional<std::string>& version, const Account& creator) {
    pqxx::connection conn(stack.pg().url());
    pqxx::work tx(conn);
    tx.exec_params0(
        "INSERT INTO units (name, visibility_level, repo_uuid, current_commit_version, "
        "creator_uuid) VALUES ($1, $2, $3::uuid, $4, $5::uuid)",
        name, visibility, repo, version ? version->c_str() : nullptr, creator.uuid());
    tx.commit();
  }
};

Backend& shared() {
  static Backend backend({});
  return backend;
}

const std::vector<std::string> kBranches = {"dev", "main"};

}  // namespace

// ---- Create ---------------------------------------------------------------------------------

TEST_CASE("repos: create a public repo over HTTP; RepoRead has the original shape") {
  auto& b = shared();
  const auto before = entriesOf(b.repoDir());
  const auto repo = b.publicRepo(b.alice, "python_pub", git().pythonUrl());

  const std::vector<std::string> keys = {"uuid",
                                         "visibility_level",
                                         "name",
                                         "create_datetime",
                                         "repo_url",
                                         "platform",
                                         "is_public_repository",
                                         "default_branch",
                                         "is_auto_update_repo",
                                         "default_commit",
                                         "is_only_tag_update",
                                         "is_compilable_repo",
                                         "last_update_datetime",
                                         "branches",
                                         "creator_uuid"};
  CHECK(repo.size() == keys.size());
  for (const auto& key : keys) {
    CHECK_MESSAGE(repo.contains(key), key);
  }
  CHECK(repo["name"] == "python_pub");
  CHECK(repo["visibility_level"] == "Public");
  CHECK(repo["repo_url"] == git().pythonUrl());
  CHECK(repo["platform"] == "Gitlab");
  CHECK(repo["is_public_repository"] == true);
  CHECK(repo["default_branch"].is_null());
  CHECK(repo["default_commit"].is_null());
  CHECK(repo["is_auto_update_repo"] == true);
  CHECK(repo["is_only_tag_update"] == false);
  CHECK(repo["is_compilable_repo"] == false);
  CHECK(repo["creator_uuid"] == b.alice.uuid());
  CHECK(repo["branches"] == json(kBranches));
  CHECK(std::regex_match(repo["create_datetime"].get<std::string>(),
                         std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?)")));

  // The clone lives at <BACKEND_SAVE_REPO_PATH>/<uuid>, and nothing else appeared.
  const auto uuid = repo["uuid"].get<std::string>();
  auto after = entriesOf(b.repoDir());
  CHECK(after.count(uuid) == 1);
  after.erase(uuid);
  CHECK(after == before);

  // GET returns the same, to the creator, another user and the anonymous Bot.
  CHECK(b.getRepo(b.alice, uuid) == repo);
  CHECK(b.getRepo(b.bob, uuid) == repo);
  const auto anonymous = b.http.get(api("/repos/" + uuid));
  REQUIRE(anonymous.status == 200);
  CHECK(anonymous.json() == repo);

  // The creator received the automatic permission (§1.6).
  const auto agents = b.http.get(
      api("/permission/get_resource_agents?resource_uuid=" + uuid + "&resource_type=Repo"),
      auth(b.alice.token));
  REQUIRE(agents.status == 200);
  CHECK(agents.json()["count"] == 1);
  CHECK(agents.json()["permissions"][0]["agent_uuid"] == b.alice.uuid());
}

TEST_CASE("repos: create refuses bad input with the exact error") {
  auto& b = shared();
  b.publicRepo(b.alice, "taken_name", git().plainUrl());
  const auto count = b.repoCount();
  const auto dirs = entriesOf(b.repoDir());

  const auto create = [&](json body, const HttpHeaders& headers) {
    return b.http.post(api("/repos"), body, headers);
  };
  const json good = {{"name", "fresh_name"}, {"repo_url", git().pythonUrl()}};
  const auto with = [&](const std::string& key, const json& value) {
    auto body = good;
    body[key] = value;
    return create(body, auth(b.alice.token));
  };

  auto r = create(good, {});
  CHECK(r.status == 403);
  CHECK(detail(r) == kNotAllowed);

  r = with("name", "ab");
  CHECK(r.status == 422);
  CHECK(detail(r) == "6: Repo Validation Error: Name is not correct");
  r = with("name", "x'; DROP TABLE repos; --");
  CHECK(detail(r) == "6: Repo Validation Error: Name is not correct");
  r = with("name", "taken_name");
  CHECK(r.status == 422);
  CHECK(detail(r) == "6: Repo Validation Error: Name is not unique");

  for (const std::string url : {"https://example.com/unit", "ftp://example.com/unit.git",
                                "https://user:pw@example.com/unit.git", "--upload-pack=x.git"}) {
    CAPTURE(url);
    const auto expected = pepeunit::domain::validateRepoUrl(url, /*allow_local=*/true);
    REQUIRE(expected.has_value());
    r = with("repo_url", url);
    CHECK(r.status == 422);
    CHECK(detail(r) == "6: Repo Validation Error: " + *expected);
  }

  r = with("platform", "Bitbucket");
  CHECK(detail(r) == "6: Repo Validation Error: Platform must be Gitlab or Github");
  r = with("is_compilable_repo", true);
  CHECK(detail(r) ==
        "6: Repo Validation Error: Compilable repos are not supported by this instance");
  r = with("is_public_repository", false);
  CHECK(detail(r) ==
        "6: Repo Validation Error: A private repo requires credentials {username, pat_token}");
  r = with("visibility_level", "public");
  CHECK(r.status == 422);
  CHECK(detail(r) == "2: Validation Error: Field 'visibility_level' has an unknown value 'public'");
  r = with("credentials", "user:token");
  CHECK(detail(r) ==
        "2: Validation Error: Field 'credentials' must be an object with string "
        "fields username and pat_token");
  auto no_name = good;
  no_name.erase("name");
  r = create(no_name, auth(b.alice.token));
  CHECK(detail(r) == "2: Validation Error: Field 'name' is required");
  r = b.http.post(api("/repos"), "{not json", auth(b.alice.token));
  CHECK(r.status == 422);
  CHECK(detail(r) == "9: JSON Decode Error: Request body is not valid JSON");

  // A well-formed URL nobody serves: error 5, and nothing left behind.
  r = with("repo_url", git().public_server.urlFor("missing_repo.git"));
  CHECK(r.status == 422);
  CHECK(detail(r).rfind(kBadCredentials, 0) == 0);

  CHECK(b.repoCount() == count);
  CHECK(entriesOf(b.repoDir()) == dirs);
}

TEST_CASE("repos: a private repo behind basic auth; wrong credentials leave nothing behind") {
  auto& b = shared();
  auto& g = git();
  const auto count = b.repoCount();
  const auto dirs = entriesOf(b.repoDir());
  const auto refused_before = g.private_server.unauthorizedCount();

  const json wrong = {{"name", "secret_wrong"},
                      {"repo_url", g.secretUrl()},
                      {"is_public_repository", false},
                      {"credentials", {{"username", kGitUser}, {"pat_token", kWrongGitPassword}}}};
  auto r = b.createRepo(b.alice, wrong);
  CHECK(r.status == 422);
  CHECK(detail(r) == kBadCredentials);
  CHECK(g.private_server.unauthorizedCount() > refused_before);  // credentials were demanded

  // No credentials at all (a "public" repo that is not): the same clear error.
  r = b.createRepo(b.alice, {{"name", "secret_none"}, {"repo_url", g.secretUrl()}});
  CHECK(r.status == 422);
  CHECK(detail(r) == kBadCredentials);

  // Nothing left behind: no row, no directory (not even a temporary one).
  CHECK(b.repoCount() == count);
  CHECK(entriesOf(b.repoDir()) == dirs);
  const auto names = b.http.get(api("/repos?search_string=secret_"), auth(b.admin.token));
  REQUIRE(names.status == 200);
  CHECK(names.json()["count"] == 0);

  // The right credentials clone; they are never returned.
  const auto repo = b.privateRepo(b.alice, "secret_ok", kGitPassword);
  CHECK(repo["is_public_repository"] == false);
  CHECK(repo["branches"] == json(kBranches));
  CHECK(repo.dump().find(kGitPassword) == std::string::npos);
  CHECK_FALSE(repo.contains("credentials"));
  const auto uuid = repo["uuid"].get<std::string>();
  CHECK(fs::is_directory(b.repoDir() / uuid));
  CHECK(b.repoCount() == count + 1);
  CHECK(b.branchCommits(b.alice, uuid, "repo_branch=main")[0]["commit"] ==
        g.secret.main_commits[2]);

  // Stored encrypted: the database holds neither the token nor the username in clear.
  {
    pqxx::connection conn(b.stack.pg().url());
    pqxx::nontransaction tx(conn);
    const auto row = tx.exec_params1(
        "SELECT cipher_credentials_private_repository FROM repos WHERE uuid = $1::uuid", uuid);
    REQUIRE_FALSE(row[0].is_null());
    const std::string cipher = row[0].c_str();
    CHECK(cipher.find(kGitPassword) == std::string::npos);
    CHECK(cipher.find(kGitUser) == std::string::npos);
  }
  // ... and never logged.
  const auto log = b.stack.backend().logText();
  CHECK(log.find(kGitPassword) == std::string::npos);
  CHECK(log.find(kWrongGitPassword) == std::string::npos);
}

TEST_CASE("repos: file:// URLs are accepted when local repos are on") {
  auto& b = shared();
  const auto repo = b.publicRepo(b.alice, "local_file", git().plain.fileUrl());
  CHECK(repo["repo_url"] == git().plain.fileUrl());
  CHECK(repo["branches"] == json(kBranches));
}

// ---- Read -----------------------------------------------------------------------------------

TEST_CASE("repos: get and list follow visibility and every RepoFilter field") {
  auto& b = shared();
  const auto pub = b.publicRepo(b.bob, "vis_public", git().pythonUrl(), "Public");
  const auto internal = b.publicRepo(b.bob, "vis_internal", git().pythonUrl(), "Internal");
  const auto priv = b.publicRepo(b.bob, "vis_private", git().pythonUrl(), "Private");
  const auto pub_uuid = pub["uuid"].get<std::string>();
  const auto internal_uuid = internal["uuid"].get<std::string>();
  const auto priv_uuid = priv["uuid"].get<std::string>();

  auto r = b.http.get(api("/repos/" + internal_uuid));
  CHECK(r.status == 403);
  CHECK(detail(r) ==
        "1: No Access: Visibility level Internal of this Repo is not available for the current "
        "agent");
  CHECK(b.getRepo(b.alice, internal_uuid)["name"] == "vis_internal");
  r = b.http.get(api("/repos/" + priv_uuid), auth(b.alice.token));
  CHECK(r.status == 403);
  CHECK(detail(r) ==
        "1: No Access: Visibility level Private of this Repo is not available for the current "
        "agent");
  CHECK(b.getRepo(b.bob, priv_uuid)["name"] == "vis_private");
  CHECK(b.getRepo(b.admin, priv_uuid)["name"] == "vis_private");
  r = b.http.get(api("/repos/not-a-uuid"), auth(b.bob.token));
  CHECK(r.status == 422);
  CHECK(detail(r) == kBadUuidPath);
  r = b.http.get(api("/repos/00000000-0000-4000-8000-000000000000"), auth(b.bob.token));
  CHECK(r.status == 422);
  CHECK(detail(r) == kNoObject);

  const auto list = [&](const std::string& query, const std::optional<Account>& who) {
    const auto response =
        b.http.get(api("/repos?" + query), who ? auth(who->token) : HttpHeaders{});
    INFO(query << " -> " << response.body);
    REQUIRE(response.status == 200);
    const auto page = response.json();
    std::vector<std::string> names;
    for (const auto& repo : page["repos"])
      names.push_back(repo["name"]);
    CHECK(page["count"].get<std::size_t>() >= names.size());
    return names;
  };
  const auto mine = "creator_uuid=" + b.bob.uuid();
  // Newest first by default.
  CHECK(list(mine, b.bob) == std::vector<std::string>{"vis_private", "vis_internal", "vis_public"});
  CHECK(list(mine + "&order_by_create_date=asc", b.bob) ==
        std::vector<std::string>{"vis_public", "vis_internal", "vis_private"});
  CHECK(list(mine, std::nullopt) == std::vector<std::string>{"vis_public"});  // Bot: Public
  CHECK(list(mine, b.alice) == std::vector<std::string>{"vis_internal", "vis_public"});
  CHECK(list(mine, b.admin).size() == 3);
  CHECK(list(mine + "&visibility_level=Private&visibility_level=Internal", b.bob) ==
        std::vector<std::string>{"vis_private", "vis_internal"});
  CHECK(list("creators_uuids=" + b.bob.uuid() + "&creators_uuids=" + b.alice.uuid() +
                 "&search_string=VIS_%20pub",
             b.admin) == std::vector<std::string>{"vis_public"});
  CHECK(list(mine + "&search_string=python_unit.git", b.bob).size() == 3);  // repo_url matches
  CHECK(list(mine + "&search_string=%25", b.bob).empty());  // '%' is literal, not a wildcard
  CHECK(list("uuids=" + pub_uuid + "&uuids=" + priv_uuid, b.bob).size() == 2);
  CHECK(list(mine + "&is_auto_update_repo=false", b.bob).empty());
  CHECK(list(mine + "&is_auto_update_repo=true&is_public_repository=false", b.bob).size() == 3);
  CHECK(list(mine + "&offset=1&limit=1", b.bob) == std::vector<std::string>{"vis_internal"});

  // Bot: the level filter is replaced by [Public] (§3.6), whatever was asked for.
  CHECK(list(mine + "&visibility_level=Private", std::nullopt) ==
        std::vector<std::string>{"vis_public"});

  r = b.http.get(api("/repos?visibility_level=Secret"), auth(b.bob.token));
  CHECK(r.status == 422);
  CHECK(detail(r) ==
        "2: Validation Error: Query parameter 'visibility_level' has an unknown "
        "value 'Secret'");
  r = b.http.get(api("/repos?creator_uuid=nope"), auth(b.bob.token));
  CHECK(detail(r) == "2: Validation Error: Query parameter 'creator_uuid' is not a valid UUID");
}

TEST_CASE("repos: branch_commits lists a branch newest first with its tags") {
  auto& b = shared();
  auto& g = git();
  const auto uuid = b.publicRepo(b.alice, "commits_repo", g.pythonUrl())["uuid"].get<std::string>();

  const auto expected_shas = lines(runGit(g.python.bare_dir, {"rev-list", "main"}));
  const auto expected_subjects = lines(runGit(g.python.bare_dir, {"log", "--format=%s", "main"}));
  const auto commits = b.branchCommits(b.alice, uuid, "repo_branch=main");
  REQUIRE(commits.size() == expected_shas.size());
  for (std::size_t i = 0; i < commits.size(); ++i) {
    CHECK(commits[i].size() == 3);
    CHECK(commits[i]["commit"] == expected_shas[i]);
    CHECK(commits[i]["summary"] == expected_subjects[i]);
  }
  // The template repo as built: v0.2.0 and v0.1.0 on main, newest first.
  const auto& main = g.python.main_commits;
  CHECK(commits[commits.size() - 1] ==
        json{{"commit", main[0]}, {"summary", "Initial firmware"}, {"tag", "v0.1.0"}});
  CHECK(commits[commits.size() - 2] ==
        json{{"commit", main[1]}, {"summary", "Blink faster"}, {"tag", "v0.2.0"}});
  CHECK(commits[commits.size() - 3] ==
        json{{"commit", main[2]}, {"summary", "Bump VERSION"}, {"tag", nullptr}});

  const auto tagged = b.branchCommits(b.bob, uuid, "repo_branch=main&only_tag=true");
  REQUIRE(tagged.size() == 2);
  CHECK(tagged[0]["tag"] == "v0.2.0");
  CHECK(tagged[1]["tag"] == "v0.1.0");
  const auto dev = b.branchCommits(b.bob, uuid, "repo_branch=dev&limit=2");
  REQUIRE(dev.size() == 2);
  CHECK(dev[0] == json{{"commit", g.python.dev_commits[0]},
                       {"summary", "Dev experiment"},
                       {"tag", "v0.3.0-dev"}});
  CHECK(dev[1]["commit"] == main[1]);
  const auto paged = b.branchCommits(b.bob, uuid, "repo_branch=main&offset=1&limit=1");
  REQUIRE(paged.size() == 1);
  CHECK(paged[0]["commit"] == expected_shas[1]);
  CHECK(b.branchCommits(b.bob, uuid, "repo_branch=main&offset=50").empty());

  const auto path = api("/repos/branch_commits/" + uuid);
  auto r = b.http.get(path + "?repo_branch=main");
  CHECK(r.status == 403);
  CHECK(detail(r) == kNotAllowed);
  r = b.http.get(path, auth(b.bob.token));
  CHECK(r.status == 422);
  CHECK(detail(r) == "2: Validation Error: Query parameter 'repo_branch' is required");
  r = b.http.get(path + "?repo_branch=nope", auth(b.bob.token));
  CHECK(r.status == 422);
  CHECK(detail(r) == "5: Git Repo Validation Error: Branch nope not found");
  r = b.http.get(path + "?repo_branch=main&limit=-1", auth(b.bob.token));
  CHECK(detail(r) == "2: Validation Error: Query parameter 'limit' must be >= 0");
  r = b.http.get(path + "?repo_branch=main&only_tag=maybe", auth(b.bob.token));
  CHECK(detail(r) == "2: Validation Error: Query parameter 'only_tag' must be true or false");
  r = b.http.get(api("/repos/branch_commits/nope?repo_branch=main"), auth(b.bob.token));
  CHECK(detail(r) == kBadUuidPath);
  r = b.http.get(api("/repos/branch_commits/00000000-0000-4000-8000-000000000000?repo_branch=main"),
                 auth(b.bob.token));
  CHECK(detail(r) == kNoObject);
}

TEST_CASE("repos: available_platforms is [] for interpreted repos") {
  auto& b = shared();
  const auto uuid = b.publicRepo(b.alice, "platform_repo", git().pythonUrl(), "Internal")["uuid"]
                        .get<std::string>();
  auto r = b.http.get(api("/repos/available_platforms/" + uuid + "?target_tag=v0.1.0"),
                      auth(b.bob.token));
  CHECK(r.status == 200);
  CHECK(r.json() == json::array());
  r = b.http.get(api("/repos/available_platforms/" + uuid));
  CHECK(r.status == 403);
  CHECK(detail(r) == kNotAllowed);
  r = b.http.get(api("/repos/available_platforms/00000000-0000-4000-8000-000000000000"),
                 auth(b.bob.token));
  CHECK(detail(r) == kNoObject);
}

TEST_CASE("repos: versions groups the Units' reported commits with their tags") {
  auto& b = shared();
  auto& g = git();
  const auto uuid =
      b.publicRepo(b.alice, "versions_repo", g.pythonUrl(), "Internal")["uuid"].get<std::string>();
  auto r = b.http.get(api("/repos/versions/" + uuid), auth(b.bob.token));
  REQUIRE(r.status == 200);
  CHECK(r.json() == json{{"unit_count", 0}, {"versions", json::array()}});

  REQUIRE(b.patchRepo(b.alice, uuid, {{"default_branch", "main"}}).status == 200);
  const auto& main = g.python.main_commits;
  b.insertUnit(uuid, "ver_unit_1", "Internal", main[0], b.alice);
  b.insertUnit(uuid, "ver_unit_2", "Internal", main[0], b.alice);
  b.insertUnit(uuid, "ver_unit_3", "Private", main[2], b.alice);
  b.insertUnit(uuid, "ver_unit_4", "Internal", std::nullopt, b.alice);  // never reported
  r = b.http.get(api("/repos/versions/" + uuid), auth(b.bob.token));
  REQUIRE(r.status == 200);
  CHECK(r.json() == json{{"unit_count", 3},
                         {"versions",
                          {{{"commit", main[0]}, {"unit_count", 2}, {"tag", "v0.1.0"}},
                           {{"commit", main[2]}, {"unit_count", 1}, {"tag", nullptr}}}}});

  r = b.http.get(api("/repos/versions/" + uuid));  // Bot on an Internal repo
  CHECK(r.status == 403);
  CHECK(detail(r).rfind("1: No Access: Visibility level Internal", 0) == 0);
  r = b.http.get(api("/repos/versions/nope"));
  CHECK(detail(r) == kBadUuidPath);
}

// ---- Update ---------------------------------------------------------------------------------

TEST_CASE("repos: PATCH validates every RepoUpdate rule") {
  auto& b = shared();
  auto& g = git();
  const auto repo = b.publicRepo(b.alice, "update_repo", g.pythonUrl());
  const auto uuid = repo["uuid"].get<std::string>();
  b.publicRepo(b.alice, "other_name", g.pythonUrl());
  const auto& main = g.python.main_commits;

  auto r = b.patchRepo(b.alice, uuid, {{"default_branch", "main"}});
  REQUIRE(r.status == 200);
  CHECK(r.json()["default_branch"] == "main");
  CHECK(r.json()["last_update_datetime"] >= repo["last_update_datetime"]);

  r = b.patchRepo(b.alice, uuid, {{"default_branch", "nope"}});
  CHECK(r.status == 422);
  CHECK(detail(r) ==
        "5: Git Repo Validation Error: Branch nope not found, available: ['dev', 'main']");
  r = b.patchRepo(b.alice, uuid, {{"is_auto_update_repo", false}});
  CHECK(r.status == 422);
  CHECK(detail(r) == "6: Repo Validation Error: Repo updated manually requires branch and commit");
  r = b.patchRepo(b.alice, uuid,
                  {{"is_auto_update_repo", false}, {"default_commit", g.python.dev_commits[0]}});
  CHECK(detail(r) ==
        "5: Git Repo Validation Error: Commit " + g.python.dev_commits[0] + " not in branch main");
  r = b.patchRepo(b.alice, uuid, {{"default_commit", "0123456789abcdef0123456789abcdef01234567"}});
  CHECK(detail(r) ==
        "5: Git Repo Validation Error: Commit "
        "0123456789abcdef0123456789abcdef01234567 not in branch main");
  r = b.patchRepo(b.alice, uuid, {{"name", "other_name"}});
  CHECK(detail(r) == "6: Repo Validation Error: Name is not unique");
  r = b.patchRepo(b.alice, uuid, {{"name", "no spaces"}});
  CHECK(detail(r) == "6: Repo Validation Error: Name is not correct");
  r = b.patchRepo(b.alice, uuid, {{"is_compilable_repo", true}});
  CHECK(detail(r) ==
        "6: Repo Validation Error: Compilable repos are not supported by this instance");
  r = b.patchRepo(b.bob, uuid, {{"name", "stolen"}});
  CHECK(r.status == 403);
  CHECK(detail(r) == kNotCreator);
  r = b.http.patch(api("/repos/" + uuid), json{{"name", "anon"}});
  CHECK(r.status == 403);
  CHECK(detail(r) == kNotAllowed);
  r = b.patchRepo(b.alice, "00000000-0000-4000-8000-000000000000", {{"name", "ghost"}});
  CHECK(detail(r) == kNoObject);
  r = b.patchRepo(b.alice, uuid, {{"is_auto_update_repo", "no"}});
  CHECK(detail(r) ==
        "2: Validation Error: Field 'is_auto_update_repo' must be a boolean, got string");

  // Nothing of the rejected requests was saved.
  auto now = b.getRepo(b.alice, uuid);
  CHECK(now["name"] == "update_repo");
  CHECK(now["is_auto_update_repo"] == true);
  CHECK(now["default_commit"].is_null());

  // Manual mode with branch and commit; then back to auto, following tags; then rename.
  r = b.patchRepo(b.alice, uuid, {{"is_auto_update_repo", false}, {"default_commit", main[1]}});
  REQUIRE(r.status == 200);
  CHECK(r.json()["is_auto_update_repo"] == false);
  CHECK(r.json()["default_commit"] == main[1]);
  r = b.patchRepo(b.alice, uuid, {{"is_auto_update_repo", true}, {"is_only_tag_update", true}});
  REQUIRE(r.status == 200);
  CHECK(r.json()["is_only_tag_update"] == true);
  r = b.patchRepo(b.alice, uuid, {{"default_commit", nullptr}, {"name", "update_repo2"}});
  REQUIRE(r.status == 200);
  CHECK(r.json()["default_commit"].is_null());
  CHECK(r.json()["name"] == "update_repo2");
  CHECK(r.json()["branches"] == json(kBranches));
  // An Admin manages any repo.
  r = b.patchRepo(b.admin, uuid, {{"visibility_level", "Internal"}});
  REQUIRE(r.status == 200);
  CHECK(r.json()["visibility_level"] == "Internal");

  // Auto mode following tags needs a tag on the branch.
  const auto plain = b.publicRepo(b.alice, "plain_repo", g.plainUrl())["uuid"].get<std::string>();
  r = b.patchRepo(b.alice, plain, {{"default_branch", "main"}, {"is_only_tag_update", true}});
  CHECK(r.status == 422);
  CHECK(detail(r) ==
        "5: Git Repo Validation Error: Version is missing: The tags are not in the repository");
  r = b.patchRepo(b.alice, plain, {{"default_branch", "main"}});
  CHECK(r.status == 200);
}

TEST_CASE("repos: a Repo is never more restrictive than its Units") {
  auto& b = shared();
  const auto uuid =
      b.publicRepo(b.alice, "parent_repo", git().pythonUrl(), "Public")["uuid"].get<std::string>();
  b.insertUnit(uuid, "child_unit_1", "Internal", std::nullopt, b.alice);
  auto r = b.patchRepo(b.alice, uuid, {{"visibility_level", "Internal"}});
  CHECK(r.status == 200);
  r = b.patchRepo(b.alice, uuid, {{"visibility_level", "Private"}});
  CHECK(r.status == 422);
  CHECK(detail(r) ==
        "2: Validation Error: The visibility level of the parent object Repo (Private) is lower "
        "than that of its child Unit (Internal)");
  CHECK(b.getRepo(b.alice, uuid)["visibility_level"] == "Internal");
}

TEST_CASE("repos: credentials only for private repos and only by their creator") {
  auto& b = shared();
  const auto pub =
      b.publicRepo(b.alice, "creds_public", git().pythonUrl())["uuid"].get<std::string>();
  const auto path_pub = api("/repos/credentials/" + pub);
  const json creds = {{"username", kGitUser}, {"pat_token", kGitPassword}};
  auto r = b.http.patch(path_pub, creds, auth(b.alice.token));
  CHECK(r.status == 422);
  CHECK(detail(r) == "6: Repo Validation Error: Is public repo");

  const auto priv =
      b.privateRepo(b.alice, "creds_private", kGitPassword)["uuid"].get<std::string>();
  const auto path = api("/repos/credentials/" + priv);
  r = b.http.patch(path, creds, auth(b.bob.token));
  CHECK(r.status == 403);
  CHECK(detail(r) == kNotCreator);
  r = b.http.patch(path, creds, auth(b.admin.token));  // Admins never write others' secrets
  CHECK(r.status == 403);
  CHECK(detail(r) == kNotCreator);
  r = b.http.patch(path, json{{"username", kGitUser}}, auth(b.alice.token));
  CHECK(detail(r) == "2: Validation Error: Field 'pat_token' is required");
  r = b.http.patch(path, json{{"username", ""}, {"pat_token", "x"}}, auth(b.alice.token));
  CHECK(detail(r) ==
        "6: Repo Validation Error: Credentials need a non-empty username and pat_token");

  // Wrong credentials are stored (no fetch now) and break the next re-clone, which keeps the
  // old copy; the right ones repair it.
  r = b.http.patch(path, json{{"username", kGitUser}, {"pat_token", kWrongGitPassword}},
                   auth(b.alice.token));
  REQUIRE(r.status == 200);
  CHECK(r.json()["branches"] == json(kBranches));
  CHECK(r.body.find(kWrongGitPassword) == std::string::npos);
  const auto reclone = api("/repos/update_local_repo/" + priv);
  r = b.http.patch(reclone, json::object(), auth(b.alice.token));
  CHECK(r.status == 422);
  CHECK(detail(r) == kBadCredentials);
  CHECK(b.getRepo(b.alice, priv)["branches"] == json(kBranches));
  r = b.http.patch(path, creds, auth(b.alice.token));
  REQUIRE(r.status == 200);
  r = b.http.patch(reclone, json::object(), auth(b.alice.token));
  CHECK(r.status == 204);
  CHECK(b.stack.backend().logText().find(kWrongGitPassword) == std::string::npos);
}

TEST_CASE("repos: update_local_repo re-clones; update_units_firmware runs") {
  auto& b = shared();
  const auto uuid =
      b.publicRepo(b.alice, "reclone_repo", git().pythonUrl())["uuid"].get<std::string>();
  fs::remove_all(b.repoDir() / uuid);
  CHECK(b.getRepo(b.alice, uuid)["branches"] == json::array());  // [] when the clone is gone

  const auto reclone = api("/repos/update_local_repo/" + uuid);
  auto r = b.http.patch(reclone, json::object(), auth(b.bob.token));
  CHECK(r.status == 403);
  CHECK(detail(r) == kNotCreator);
  r = b.http.patch(reclone, json::object(), auth(b.alice.token));
  CHECK(r.status == 204);
  CHECK(r.body.empty());
  CHECK(b.getRepo(b.alice, uuid)["branches"] == json(kBranches));
  r = b.http.patch(reclone, json::object(), auth(b.admin.token));
  CHECK(r.status == 204);
  r = b.http.patch(api("/repos/update_local_repo/nope"), json::object(), auth(b.alice.token));
  CHECK(detail(r) == kBadUuidPath);

  const auto firmware = api("/repos/update_units_firmware/" + uuid);
  r = b.http.patch(firmware, json::object(), auth(b.alice.token));
  CHECK(r.status == 204);
  r = b.http.patch(firmware, json::object(), auth(b.bob.token));
  CHECK(r.status == 403);
  CHECK(detail(r) == kNotCreator);
  r = b.http.patch(firmware, json::object());
  CHECK(detail(r) == kNotAllowed);
  r = b.http.patch(api("/repos/update_units_firmware/00000000-0000-4000-8000-000000000000"),
                   json::object(), auth(b.alice.token));
  CHECK(detail(r) == kNoObject);
}

// ---- Delete ---------------------------------------------------------------------------------

TEST_CASE("repos: delete only without Units, and the clone goes with the row") {
  auto& b = shared();
  const auto with_units =
      b.publicRepo(b.alice, "del_with_units", git().pythonUrl())["uuid"].get<std::string>();
  b.insertUnit(with_units, "del_unit_1", "Public", std::nullopt, b.alice);
  b.insertUnit(with_units, "del_unit_2", "Public", std::nullopt, b.alice);
  auto r = b.http.del(api("/repos/" + with_units), auth(b.alice.token));
  CHECK(r.status == 422);
  CHECK(detail(r) ==
        "2: Validation Error: The array was expected to be empty, but the Repo has 2 Unit(s)");
  CHECK(fs::is_directory(b.repoDir() / with_units));

  const auto uuid =
      b.publicRepo(b.alice, "del_empty", git().pythonUrl())["uuid"].get<std::string>();
  r = b.http.del(api("/repos/" + uuid), auth(b.bob.token));
  CHECK(r.status == 403);
  CHECK(detail(r) == kNotCreator);
  r = b.http.del(api("/repos/" + uuid));
  CHECK(detail(r) == kNotAllowed);
  r = b.http.del(api("/repos/" + uuid), auth(b.alice.token));
  CHECK(r.status == 204);
  CHECK_FALSE(fs::exists(b.repoDir() / uuid));
  r = b.http.get(api("/repos/" + uuid), auth(b.alice.token));
  CHECK(detail(r) == kNoObject);
  r = b.http.del(api("/repos/" + uuid), auth(b.alice.token));
  CHECK(detail(r) == kNoObject);

  // An Admin deletes anyone's repo.
  const auto other =
      b.publicRepo(b.bob, "del_by_admin", git().pythonUrl())["uuid"].get<std::string>();
  r = b.http.del(api("/repos/" + other), auth(b.admin.token));
  CHECK(r.status == 204);
  CHECK_FALSE(fs::exists(b.repoDir() / other));
}

// ---- Bulk update and the scheduler ------------------------------------------------------------

TEST_CASE("repos: bulk_update fetches every auto-update repo in the background") {
  auto& b = shared();
  auto& g = git();
  const auto uuid = b.publicRepo(b.alice, "bulk_repo", g.pythonUrl())["uuid"].get<std::string>();
  auto r = b.http.post(api("/repos/bulk_update"), json::object(), auth(b.alice.token));
  CHECK(r.status == 403);
  CHECK(detail(r) == kNotAllowed);

  const auto sha = pepeunit::testing::commitAndPush(
      g.python, "main", {"Bulk commit", {{"bulk.txt", "bulk\n"}}, {}, std::nullopt, false});
  CHECK(b.branchCommits(b.alice, uuid, "repo_branch=main")[0]["commit"] != sha);  // not fetched

  r = b.http.post(api("/repos/bulk_update"), json::object(), auth(b.admin.token));
  CHECK(r.status == 204);
  const bool fetched = pollUntil(
      [&] { return b.branchCommits(b.alice, uuid, "repo_branch=main")[0]["commit"] == sha; }, 20s,
      100ms);
  CHECK(fetched);
}

namespace {

/// Blocks in its first call until released: holds a pass (and so the lock) open.
class GateUpdater : public pepeunit::service::RepoUnitsUpdater {
 public:
  pepeunit::service::UnitsUpdateSummary updateAutoUnits(const pepeunit::domain::Uuid&) override {
    if (calls_++ == 0) {
      entered_.set_value();
      release_.wait();
    }
    return {};
  }
  std::future<void> entered() { return entered_.get_future(); }
  void release() { release_promise_.set_value(); }
  int calls() const { return calls_.load(); }

 private:
  std::atomic<int> calls_{0};
  std::promise<void> entered_;
  std::promise<void> release_promise_;
  std::shared_future<void> release_ = release_promise_.get_future().share();
};

class NoUpdater : public pepeunit::service::RepoUnitsUpdater {
 public:
  pepeunit::service::UnitsUpdateSummary updateAutoUnits(const pepeunit::domain::Uuid&) override {
    ++calls;
    return {};
  }
  std::atomic<int> calls{0};
};

}  // namespace

TEST_CASE("repos: the sync pass runs on one backend instance at a time (advisory lock)") {
  auto& b = shared();
  const auto key = pepeunit::crypto::base64Decode(b.stack.backendEnv().at("BACKEND_ENCRYPT_KEY"));
  REQUIRE(key.has_value());
  const pepeunit::crypto::SecretBox box(*key);
  // Two "instances": separate pools (sessions) and mirrors on the shared backend's database.
  pepeunit::store::pg::Pool pool_a(b.stack.pg().url(), 2);
  pepeunit::store::pg::Pool pool_b(b.stack.pg().url(), 2);
  pepeunit::store::pg::PgRepoStore store_a(pool_a);
  pepeunit::store::pg::PgRepoStore store_b(pool_b);
  TempDir mirrors;
  pepeunit::gitsync::RepoMirror mirror_a(mirrors.path() / "a", true);
  pepeunit::gitsync::RepoMirror mirror_b(mirrors.path() / "b", true);

  // Plain lock semantics. (The backend itself may still be finishing a bulk pass: wait.)
  std::unique_ptr<pepeunit::store::SyncLease> lease;
  REQUIRE(pollUntil([&] { return (lease = store_a.tryLockSync()) != nullptr; }, 30s, 50ms));
  CHECK(store_b.tryLockSync() == nullptr);
  CHECK(store_a.tryLockSync() == nullptr);  // another session of the same instance, too
  lease.reset();
  lease = store_b.tryLockSync();
  CHECK(lease != nullptr);
  lease.reset();

  // Two schedulers: while A's pass is in progress, B's pass is skipped entirely.
  GateUpdater gate;
  NoUpdater none;
  const pepeunit::service::RepoSchedulerOptions options{.interval = 3600s,
                                                        .max_repo_size_bytes = 50ull << 20};
  pepeunit::service::RepoScheduler a(store_a, mirror_a, box, gate, options);
  pepeunit::service::RepoScheduler other(store_b, mirror_b, box, none, options);
  auto entered = gate.entered();
  auto pass_a = std::async(std::launch::async, [&] { return a.runOnce(); });
  REQUIRE(entered.wait_for(60s) == std::future_status::ready);
  const auto skipped = other.runOnce();
  CHECK_FALSE(skipped.ran);
  CHECK(none.calls == 0);
  CHECK(entriesOf(mirrors.path() / "b").empty());
  gate.release();
  const auto report = pass_a.get();
  CHECK(report.ran);

  // A fetched (cloned, its mirror being empty) every auto-update repo, the private ones with
  // credentials decrypted by the backend's key.
  const auto auto_repos = b.http.get(api("/repos?is_auto_update_repo=true"), auth(b.admin.token));
  REQUIRE(auto_repos.status == 200);
  CHECK(report.fetched == auto_repos.json()["count"].get<std::size_t>());
  CHECK(report.fetch_failed == 0);
  CHECK(gate.calls() == static_cast<int>(report.fetched));
  const auto auto_page = auto_repos.json();
  for (const auto& repo : auto_page["repos"]) {
    CHECK(mirror_a.exists(*pepeunit::domain::Uuid::parse(repo["uuid"].get<std::string>())));
  }

  // Once A is done, B runs.
  const auto second = other.runOnce();
  CHECK(second.ran);
  CHECK(none.calls > 0);
}

TEST_CASE("repos: with local repos off and a 1 MiB limit, file:// and big repos are refused") {
  auto& g = git();
  const auto big = makeLocalRepo(
      g.public_root, "big_unit",
      RepoSpec{{{"Huge blob", {{"blob.bin", randomBytes(std::size_t{3} << 19)}}, {}, {}, false}},
               {},
               0});
  Backend b({{"BACKEND_ALLOW_LOCAL_REPOS", "false"}, {"BACKEND_MAX_EXTERNAL_REPO_SIZE", "1"}});
  const auto dirs = entriesOf(b.repoDir());

  const auto local = g.plain.fileUrl();
  const auto expected = pepeunit::domain::validateRepoUrl(local, /*allow_local=*/false);
  REQUIRE(expected.has_value());
  auto r = b.createRepo(b.alice, {{"name", "local_off"}, {"repo_url", local}});
  CHECK(r.status == 422);
  CHECK(detail(r) == "6: Repo Validation Error: " + *expected);
  r = b.createRepo(b.alice, {{"name", "local_path"}, {"repo_url", g.plain.bare_dir.string()}});
  CHECK(r.status == 422);
  CHECK(detail(r).rfind("6: Repo Validation Error: ", 0) == 0);

  r = b.createRepo(b.alice,
                   {{"name", "too_big"}, {"repo_url", g.public_server.urlFor("big_unit.git")}});
  CHECK(r.status == 422);
  CHECK(detail(r) ==
        "5: Git Repo Validation Error: Repository size exceeds BACKEND_MAX_EXTERNAL_REPO_SIZE (1 "
        "MiB)");
  CHECK(b.repoCount() == 0);
  CHECK(entriesOf(b.repoDir()) == dirs);

  // A normal-sized repo is still fine under the limit.
  const auto ok = b.publicRepo(b.alice, "small_ok", g.plainUrl());
  CHECK(ok["branches"] == json(kBranches));
}

TEST_CASE("repos: the scheduler fetches public and private repos every interval") {
  auto& g = git();
  auto pub = makeLocalRepo(g.public_root, "sched_pub", pythonUnitSpec());
  auto priv = makeLocalRepo(g.private_root, "sched_priv", pythonUnitSpec());
  Backend b(std::map<std::string, std::string>{{"BACKEND_REPO_SYNC_INTERVAL", "1"}});
  const auto pub_uuid =
      b.publicRepo(b.alice, "sched_pub", g.public_server.urlFor("sched_pub.git"))["uuid"]
          .get<std::string>();
  const auto priv_uuid =
      b.createRepoOk(b.alice, {{"name", "sched_priv"},
                               {"repo_url", g.private_server.urlFor("sched_priv.git")},
                               {"is_public_repository", false},
                               {"credentials",
                                {{"username", kGitUser}, {"pat_token", kGitPassword}}}})["uuid"]
          .get<std::string>();

  const auto pub_sha = pepeunit::testing::commitAndPush(
      pub, "main", {"Scheduled", {{"sched.txt", "1\n"}}, {}, std::string("v9.9.9"), false});
  const auto priv_sha = pepeunit::testing::commitAndPush(
      priv, "dev", {"Scheduled private", {{"sched.txt", "2\n"}}, {}, std::nullopt, false});
  const auto newest = [&](const std::string& uuid, const std::string& branch) {
    return b.branchCommits(b.alice, uuid, "repo_branch=" + branch)[0];
  };
  CHECK(pollUntil([&] { return newest(pub_uuid, "main")["commit"] == pub_sha; }, 30s, 100ms));
  CHECK(newest(pub_uuid, "main")["tag"] == "v9.9.9");
  CHECK(pollUntil([&] { return newest(priv_uuid, "dev")["commit"] == priv_sha; }, 30s, 100ms));

  // A branch that appears upstream shows up too.
  pepeunit::testing::commitAndPush(pub, "feature", {"Feature", {{"f.txt", "f\n"}}, {}, {}, false});
  CHECK(pollUntil(
      [&] {
        return b.getRepo(b.alice, pub_uuid)["branches"] ==
               json(std::vector<std::string>{"dev", "feature", "main"});
      },
      30s, 100ms));
  CHECK(b.stack.backend().logText().find(kGitPassword) == std::string::npos);
}
