// REST fixtures shared by the end-to-end tests.
#include "integration/harness/api_fixtures.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

namespace pepeunit::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string readAll(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + file.string());
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

std::string apiPath(const std::string& path) {
  return kApiPrefix + path;
}

HttpHeaders authHeader(const std::string& token) {
  return {{"x-auth-token", token}};
}

std::string errorDetail(const HttpResponse& response) {
  const auto body = json::parse(response.body, nullptr, false);
  if (!body.is_object() || !body.contains("detail") || !body["detail"].is_string()) {
    return "<no detail: " + response.body.substr(0, 300) + ">";
  }
  return body["detail"].get<std::string>();
}

const HttpResponse& expectStatus(const HttpResponse& response, int expected,
                                 const std::string& what) {
  if (response.status != expected) {
    throw std::runtime_error(what + ": expected " + std::to_string(expected) + ", got " +
                             std::to_string(response.status) + " " + response.body.substr(0, 500));
  }
  return response;
}

ApiUser registerAndLogin(HttpClient& http, const std::string& login, const std::string& password) {
  const auto created = http.post(apiPath("/users"), json{{"login", login}, {"password", password}});
  expectStatus(created, 201, "POST /users " + login);
  const auto token =
      http.post(apiPath("/users/auth"), json{{"credentials", login}, {"password", password}});
  expectStatus(token, 200, "POST /users/auth " + login);
  return {created.json()["uuid"].get<std::string>(), token.json()["token"].get<std::string>()};
}

std::map<std::string, std::string> templateFiles(const std::string& template_name) {
  const fs::path root = fs::path(PEPEUNIT_SOURCE_DIR) / "firmware-templates" / template_name;
  if (!fs::is_directory(root)) {
    throw std::runtime_error("no firmware template " + root.string());
  }
  std::map<std::string, std::string> files;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    if (it->is_directory() && it->path().filename() == "__pycache__") {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file() || it->path().extension() == ".pyc") {
      continue;
    }
    files[fs::relative(it->path(), root).generic_string()] = readAll(it->path());
  }
  return files;
}

LocalRepo createLocalTemplateRepo(const std::filesystem::path& dir, const TemplateRepoSpec& spec) {
  RepoSpec repo_spec;
  CommitSpec first{
      "Template " + spec.template_name, templateFiles(spec.template_name), {}, {}, true};
  if (!spec.first_tag.empty()) {
    first.tag = spec.first_tag;
  }
  repo_spec.main_commits.push_back(std::move(first));
  for (const auto& commit : spec.main_commits) {
    repo_spec.main_commits.push_back(commit);
  }
  repo_spec.dev_commits = spec.dev_commits;
  if (repo_spec.dev_commits.empty()) {
    repo_spec.dev_commits.push_back(
        CommitSpec{"Dev commit", {{"dev.txt", "dev\n"}}, {}, "v1.1.0-dev", false});
  }
  repo_spec.dev_from = 0;
  return makeLocalRepo(dir, spec.name, repo_spec);
}

std::string createRepo(HttpClient& http, const std::string& token, const std::string& name,
                       const std::string& url, const std::string& visibility,
                       const std::string& default_branch) {
  const json body{{"visibility_level", visibility},
                  {"name", name},
                  {"repo_url", url},
                  {"platform", "Gitlab"},
                  {"is_public_repository", true},
                  {"is_compilable_repo", false}};
  const auto created = http.post(apiPath("/repos"), body, authHeader(token));
  expectStatus(created, 201, "POST /repos " + name);
  auto uuid = created.json()["uuid"].get<std::string>();
  if (!default_branch.empty()) {
    const auto patched = http.patch(apiPath("/repos/" + uuid),
                                    json{{"default_branch", default_branch}}, authHeader(token));
    expectStatus(patched, 200, "PATCH /repos/" + uuid + " default_branch");
  }
  return uuid;
}

}  // namespace pepeunit::testing
