// Shared REST fixtures for the issue-4 end-to-end tests: "register a user and log in", "build a
// local git repo from a firmware template", "create a Repo through the API". Every helper
// throws std::runtime_error quoting the HTTP status and body when the backend refuses, so a
// broken precondition names itself instead of failing a later assertion.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "integration/harness/git_fixtures.hpp"
#include "integration/harness/http_client.hpp"

namespace pepeunit::testing {

/// The REST prefix of the backend under test.
inline constexpr const char* kApiPrefix = "/pepeunit/api/v1";
/// A password that passes the user rules.
inline constexpr const char* kFixturePassword = "Pass-word_123";

/// `kApiPrefix + path`.
std::string apiPath(const std::string& path);

/// `{"x-auth-token": token}`.
HttpHeaders authHeader(const std::string& token);

/// The `detail` text of an error response, or a marker quoting the body when there is none.
std::string errorDetail(const HttpResponse& response);

/// Throws std::runtime_error (what + status + body) unless `response.status == expected`.
const HttpResponse& expectStatus(const HttpResponse& response, int expected,
                                 const std::string& what);

struct ApiUser {
  std::string uuid;
  std::string token;
};

/// POST /users then POST /users/auth. The first user of an instance is its Admin.
ApiUser registerAndLogin(HttpClient& http, const std::string& login,
                         const std::string& password = kFixturePassword);

/// The files of `firmware-templates/<template_name>` in the source tree (path relative to the
/// template root → content), without `__pycache__` and `*.pyc`.
std::map<std::string, std::string> templateFiles(const std::string& template_name);

/// A local repo made from a firmware template.
struct TemplateRepoSpec {
  /// Name of the repo directories (`<dir>/<name>.git`, `<dir>/<name>.work`).
  std::string name;
  /// `python-unit` (2024-generation env keys) or `micropython-unit` (2026 keys).
  std::string template_name = "python-unit";
  /// Tag of the first commit (the template as it is), annotated; "" for none.
  std::string first_tag = "v1.0.0";
  /// Commits on `main` after the first one; their files overwrite the template's.
  std::vector<CommitSpec> main_commits;
  /// Commits on `dev`, which branches off the first commit. Empty: one commit adding
  /// `dev.txt`, tagged `v1.1.0-dev`.
  std::vector<CommitSpec> dev_commits;
};

/// Builds the repo (bare `origin` + work tree) with git_fixtures; `repo.fileUrl()` is what the
/// backend clones (BACKEND_ALLOW_LOCAL_REPOS=true in the harness).
LocalRepo createLocalTemplateRepo(const std::filesystem::path& dir, const TemplateRepoSpec& spec);

/// POST /repos (public git repository, platform Gitlab) and, when `default_branch` is not
/// empty, PATCH /repos/{uuid} with it (Units need it). Returns the repo uuid.
std::string createRepo(HttpClient& http, const std::string& token, const std::string& name,
                       const std::string& url, const std::string& visibility = "Public",
                       const std::string& default_branch = "main");

}  // namespace pepeunit::testing
