// repo_url validation: accepted forms, every rejection class (scheme, credentials, host, port,
// path segments, option-looking segments, percent-encoded traversal, control characters) and the
// local-repo switch.
#include "domain/git_url.hpp"

#include <doctest/doctest.h>

#include <string>

namespace pd = pepeunit::domain;

TEST_CASE("domain: validateRepoUrl accepts http(s) URLs ending with .git") {
  const char* good[] = {
      "https://github.com/owner/repo.git",
      "http://gitlab.example.com/group/sub/repo.git",
      "https://git.example.com:8443/a/b.git",
      "http://127.0.0.1:5000/unit.git",
      "http://[::1]:8080/unit.git",
      "https://example.com/repo.git",
      "https://example.com/%D0%B0/my-repo_1.0.git",
      "https://example.com/~user/repo.git",
      "https://example.com/a/repo.name.git",
      "https://my_host.example.com/a/repo.git",
  };
  for (const std::string url : good) {
    CAPTURE(url);
    CHECK_FALSE(pd::validateRepoUrl(url, false).has_value());
    CHECK_FALSE(pd::validateRepoUrl(url, true).has_value());
  }
}

TEST_CASE("domain: validateRepoUrl rejects bad http(s) URLs") {
  struct Row {
    std::string url;
    std::string message_part;
  };
  const Row rows[] = {
      {"", "empty"},
      {"github.com/owner/repo.git", "http:// or https://"},
      {"ssh://git@github.com/owner/repo.git", "http:// or https://"},
      {"git@github.com:owner/repo.git", "http:// or https://"},
      {"ftp://example.com/repo.git", "http:// or https://"},
      {"HTTPS://example.com/repo.git", "http:// or https://"},
      {"ext::sh -c touch% /tmp/pwned", "whitespace"},
      {"ext::sh", "http:// or https://"},
      {"-uhttps://example.com/repo.git", "start with '-'"},
      {"--upload-pack=touch /tmp/x", "whitespace"},
      {"https://user:pass@github.com/owner/repo.git", "credentials"},
      {"https://token@github.com/owner/repo.git", "credentials"},
      {"https://github.com/owner/repo", ".git"},
      {"https://github.com/owner/repo.git/", "empty segments"},
      {"https://github.com/.git", ".git"},
      {"https://github.com/owner/repo.gitx", ".git"},
      {"https://github.com", "path"},
      {"https:///owner/repo.git", "host"},
      {"https://:443/owner/repo.git", "host"},
      {"https://-evil.com/repo.git", "host"},
      {"https://evil-.com/repo.git", "host"},
      {"https://evil..com/repo.git", "host"},
      {"https://ex ample.com/repo.git", "whitespace"},
      {"https://example.com:0/repo.git", "port"},
      {"https://example.com:65536/repo.git", "port"},
      {"https://example.com:80a/repo.git", "port"},
      {"https://example.com:/repo.git", "port"},
      {"https://[::1/repo.git", "host"},
      {"https://[]/repo.git", "host"},
      {"https://[zz::1]/repo.git", "host"},
      {"https://[::1]x/repo.git", "host"},
      {"https://example.com/repo.git?x=1", "query"},
      {"https://example.com/repo.git#frag", "query"},
      {"https://example.com?/repo.git", "query"},
      {"https://example.com/a/../repo.git", "'..'"},
      {"https://example.com/a/./repo.git", "'..'"},
      {"https://example.com/a/%2e%2e/repo.git", "'..'"},
      {"https://example.com/a/%2E%2E/repo.git", "'..'"},
      {"https://example.com/a/%2fetc/repo.git", "forbidden"},
      {"https://example.com/a/%5cetc/repo.git", "forbidden"},
      {"https://example.com/a/%0a/repo.git", "forbidden"},
      {"https://example.com/a/%zz/repo.git", "forbidden"},
      {"https://example.com/a/%2/repo.git", "forbidden"},
      {"https://example.com/a/repo%.git", "forbidden"},
      {"https://example.com/-u/repo.git", "'-'"},
      {"https://example.com/a/--upload-pack.git", "'-'"},
      {"https://example.com/a/%2dx/repo.git", "'-'"},
      {"https://example.com//repo.git", "empty segments"},
      {"https://example.com/a\\b/repo.git", "forbidden"},
      {"https://example.com/a\"b/repo.git", "forbidden"},
      {"https://example.com/a<b>/repo.git", "forbidden"},
      {"https://example.com/re po.git", "whitespace"},
      {"https://example.com/repo.git\n", "whitespace"},
      {"https://example.com/repo.git\t", "whitespace"},
      {std::string("https://example.com/re") + '\0' + "po.git", "whitespace"},
      {"https://example.com/a%20b/repo.git", "forbidden"},
      {"https://example.com/r\x7f.git", "whitespace"},
      {"https://example.com/\xd0\xb0.git", "ASCII"},
      {"https://example.com/" + std::string(3000, 'a') + ".git", "too long"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.url);
    for (const bool allow_local : {false, true}) {
      const auto error = pd::validateRepoUrl(row.url, allow_local);
      REQUIRE(error.has_value());
      CHECK(error->find(row.message_part) != std::string::npos);
    }
  }
}

TEST_CASE("domain: validateRepoUrl error messages never echo the URL") {
  const std::string url = "https://alice:s3cr3t-token@example.com/repo.git";
  const auto error = pd::validateRepoUrl(url, true);
  REQUIRE(error.has_value());
  CHECK(error->find("s3cr3t") == std::string::npos);
  CHECK(error->find("alice") == std::string::npos);
}

TEST_CASE("domain: validateRepoUrl local repositories only when allowed") {
  const char* local_good[] = {
      "file:///srv/repos/unit.git",
      "/srv/repos/unit.git",
      "/srv/repos/unit/.git",
      "/tmp/pepeunit-test-AbC123/repos/python_unit.git",
  };
  for (const std::string url : local_good) {
    CAPTURE(url);
    CHECK(pd::isLocalRepoUrl(url));
    const auto off = pd::validateRepoUrl(url, false);
    REQUIRE(off.has_value());
    CHECK(off->find("BACKEND_ALLOW_LOCAL_REPOS") != std::string::npos);
    CHECK_FALSE(pd::validateRepoUrl(url, true).has_value());
  }

  struct Row {
    std::string url;
    std::string message_part;
  };
  const Row local_bad[] = {
      {"file://host/srv/unit.git", "empty host"},
      {"file://", "empty host"},
      {"file://relative/unit.git", "empty host"},
      {"file:///srv/../etc/unit.git", "'..'"},
      {"/srv/../etc/unit.git", "'..'"},
      {"/srv/./unit.git", "'..'"},
      {"/srv//unit.git", "empty segments"},
      {"/srv/unit", ".git"},
      {"/srv/unit.git/", "empty segments"},
      {"/.git", ".git"},
      {"/", "empty segments"},
      {"/srv/-unit.git", "'-'"},
      {"/srv/--upload-pack=x/unit.git", "'-'"},
      {"file:///srv/%2e%2e/unit.git", "'%'"},
      {"/srv/unit.git?x", "'%'"},
      {"/srv/my unit.git", "whitespace"},
  };
  for (const auto& row : local_bad) {
    CAPTURE(row.url);
    const auto error = pd::validateRepoUrl(row.url, true);
    REQUIRE(error.has_value());
    CHECK(error->find(row.message_part) != std::string::npos);
  }
  CHECK_FALSE(pd::isLocalRepoUrl("https://example.com/repo.git"));
  CHECK_FALSE(pd::isLocalRepoUrl("relative/unit.git"));
  // Relative paths are neither URLs nor allowed local paths.
  CHECK(pd::validateRepoUrl("relative/unit.git", true).has_value());
  CHECK(pd::validateRepoUrl("./unit.git", true).has_value());
}
