// parseRedisUrl: the URL forms operators write in REDIS_URL, and the ones we refuse.
#include <doctest/doctest.h>

#include "cache/redis/redis_client.hpp"

namespace redis = pepeunit::cache::redis;

TEST_CASE("parseRedisUrl accepts the documented forms") {
  SUBCASE("host only takes the defaults") {
    const auto url = redis::parseRedisUrl("redis://cache.local");
    REQUIRE(url);
    CHECK(url->host == "cache.local");
    CHECK(url->port == 6379);
    CHECK(url->db == 0);
    CHECK_FALSE(url->username);
    CHECK_FALSE(url->password);
  }
  SUBCASE("host, port and db") {
    const auto url = redis::parseRedisUrl("redis://127.0.0.1:6380/3");
    REQUIRE(url);
    CHECK(url->host == "127.0.0.1");
    CHECK(url->port == 6380);
    CHECK(url->db == 3);
  }
  SUBCASE("a trailing slash means db 0") {
    const auto url = redis::parseRedisUrl("redis://redis:6379/");
    REQUIRE(url);
    CHECK(url->db == 0);
  }
  SUBCASE("password only") {
    const auto url = redis::parseRedisUrl("redis://:s3cret@redis:6379/0");
    REQUIRE(url);
    CHECK_FALSE(url->username);
    CHECK(url->password == "s3cret");
    CHECK(url->host == "redis");
  }
  SUBCASE("ACL user and a percent-encoded password containing @ and :") {
    const auto url = redis::parseRedisUrl("redis://backend:p%40ss%3Aword@redis/2");
    REQUIRE(url);
    CHECK(url->username == "backend");
    CHECK(url->password == "p@ss:word");
    CHECK(url->db == 2);
  }
  SUBCASE("bracketed IPv6") {
    const auto url = redis::parseRedisUrl("redis://[::1]:7000/1");
    REQUIRE(url);
    CHECK(url->host == "::1");
    CHECK(url->port == 7000);
    CHECK(url->db == 1);
  }
  SUBCASE("an empty password is no password") {
    const auto url = redis::parseRedisUrl("redis://:@redis");
    REQUIRE(url);
    CHECK_FALSE(url->password);
  }
}

TEST_CASE("parseRedisUrl refuses malformed URLs") {
  for (const char* text : {
           "",
           "redis://",
           "http://redis:6379",
           "rediss://redis:6379",
           "redis:/redis",
           "redis://:6379",
           "redis://redis:",
           "redis://redis:0",
           "redis://redis:65536",
           "redis://redis:63x9",
           "redis://redis:6379/x",
           "redis://redis:6379/-1",
           "redis://redis:6379/0/extra",
           "redis://redis:6379/0?timeout=1",
           "redis://user@redis",
           "redis://user:@redis",
           "redis://:bad%zzpct@redis",
           "redis://:trunc%4@redis",
           "redis://[::1",
           "redis://[::1]x",
       }) {
    CAPTURE(text);
    CHECK_FALSE(redis::parseRedisUrl(text));
  }
}
