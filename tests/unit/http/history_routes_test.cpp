// CSV quoting of the history export (RFC 4180): only fields that need it are quoted.
#include "http/history_routes.hpp"

#include <doctest/doctest.h>

using pepeunit::http::csvField;

TEST_CASE("csvField: plain text stays as it is") {
  CHECK(csvField("21.5") == "21.5");
  CHECK(csvField("") == "");
  CHECK(csvField("with space") == "with space");
}

TEST_CASE("csvField: commas, quotes and line breaks are quoted, quotes doubled") {
  CHECK(csvField("a,b") == "\"a,b\"");
  CHECK(csvField("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csvField("line1\nline2") == "\"line1\nline2\"");
  CHECK(csvField("cr\r") == "\"cr\r\"");
}
