// Connection-string handling: the pool's default connect_timeout and password redaction.
#include "store/pg/dsn.hpp"

#include <doctest/doctest.h>

using pepeunit::store::pg::dsnPassword;
using pepeunit::store::pg::redactDsn;
using pepeunit::store::pg::scrubPassword;
using pepeunit::store::pg::withDefaultConnectTimeout;

TEST_CASE("dsn: connect_timeout is added once, in the DSN's own syntax") {
  CHECK(withDefaultConnectTimeout("postgresql://u@h:5432/db") ==
        "postgresql://u@h:5432/db?connect_timeout=2");
  CHECK(withDefaultConnectTimeout("postgresql://u@h/db?sslmode=disable") ==
        "postgresql://u@h/db?sslmode=disable&connect_timeout=2");
  CHECK(withDefaultConnectTimeout("postgres://h/db?connect_timeout=7") ==
        "postgres://h/db?connect_timeout=7");
  CHECK(withDefaultConnectTimeout("host=h dbname=db") == "host=h dbname=db connect_timeout=2");
  CHECK(withDefaultConnectTimeout("host=h connect_timeout = 9") == "host=h connect_timeout = 9");
  CHECK(withDefaultConnectTimeout("") == "connect_timeout=2");
  CHECK(withDefaultConnectTimeout("postgresql://h/db", 5) == "postgresql://h/db?connect_timeout=5");
}

TEST_CASE("dsn: the password is found in URL user info, URL query and keyword form") {
  CHECK(dsnPassword("postgresql://user:p%40ss@h:5432/db") == "p@ss");
  CHECK(dsnPassword("postgresql://user@h/db?password=q%20w") == "q w");
  CHECK(dsnPassword("postgresql://user@h/db") == std::nullopt);
  CHECK(dsnPassword("host=h password='a b\\'c' user=u") == "a b'c");
  CHECK(dsnPassword("host=h password = plain user=u") == "plain");
}

TEST_CASE("dsn: redaction replaces every password value and nothing else") {
  CHECK(redactDsn("postgresql://user:secret@h:5432/db?password=other&sslmode=require") ==
        "postgresql://user:***@h:5432/db?password=***&sslmode=require");
  CHECK(redactDsn("host=h password='a b' user=u") == "host=h password=*** user=u");
  CHECK(redactDsn("postgresql://user@h/db") == "postgresql://user@h/db");
  // An '@' after the first '/' is part of the path, not user info (libpq's rule).
  CHECK(redactDsn("postgresql://h/db@x") == "postgresql://h/db@x");
}

TEST_CASE("dsn: scrubbing removes the raw and the decoded password from messages") {
  const std::string dsn = "postgresql://user:s3%2Fcret@h/db";
  CHECK(scrubPassword("invalid token: \"s3%2Fcret\"", dsn) == "invalid token: \"***\"");
  CHECK(scrubPassword("auth failed for s3/cret", dsn) == "auth failed for ***");
  CHECK(scrubPassword("nothing here", "postgresql://h/db") == "nothing here");
}
