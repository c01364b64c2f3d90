// The error table and envelope, exercised through a real httplib::Server bound to port 0.
#include "http/error_mapping.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "http/server.hpp"

using pepeunit::Error;
using pepeunit::ErrorKind;
using pepeunit::http::httpStatus;

TEST_CASE("http: error kinds map to the E3 statuses") {
  CHECK(httpStatus(ErrorKind::kNoAccess) == 403);
  for (int code = 2; code <= 12; ++code) {
    CAPTURE(code);
    CHECK(httpStatus(static_cast<ErrorKind>(code)) == 422);
  }
  CHECK(httpStatus(ErrorKind::kTooManyRequests) == 429);
  CHECK(httpStatus(ErrorKind::kPayloadTooLarge) == 413);
  CHECK(httpStatus(ErrorKind::kNotFound) == 404);
  CHECK(httpStatus(ErrorKind::kUnavailable) == 503);
  CHECK(httpStatus(ErrorKind::kInternal) == 500);
}

TEST_CASE("http: detail text is '<code>: <Category>: <message>'") {
  CHECK(Error(ErrorKind::kNoAccess, "Token is invalid").detail() ==
        "1: No Access: Token is invalid");
  CHECK(Error(ErrorKind::kCipher, "too long").detail() == "12: Cipher Error: too long");
  CHECK(Error(ErrorKind::kUnitNodeValidation, "x").detail() == "8: UnitNode Validation Error: x");
}

TEST_CASE("http: server hooks turn exceptions and bare statuses into JSON errors") {
  pepeunit::http::HttpServer server(
      {.host = "127.0.0.1", .port = 0, .threads = 2, .max_request_body = 1024});
  server.routes().Get("/typed", [](const httplib::Request&, httplib::Response&) {
    throw Error(ErrorKind::kUserValidation, "Login is not correct", "internal detail");
  });
  server.routes().Get("/crash", [](const httplib::Request&, httplib::Response&) {
    throw std::runtime_error("secret internal state");
  });
  server.routes().Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content(req.body, "text/plain");
  });
  server.start();
  httplib::Client client("127.0.0.1", server.port());
  client.set_tcp_nodelay(true);

  auto typed = client.Get("/typed");
  REQUIRE(typed);
  CHECK(typed->status == 422);
  CHECK(nlohmann::json::parse(typed->body)["detail"] ==
        "3: User Validation Error: Login is not correct");

  auto crash = client.Get("/crash");
  REQUIRE(crash);
  CHECK(crash->status == 500);
  CHECK(crash->body.find("secret") == std::string::npos);
  CHECK(nlohmann::json::parse(crash->body)["detail"] ==
        "17: Internal Error: Internal server error");

  auto missing = client.Get("/nope");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(nlohmann::json::parse(missing->body)["detail"] == "15: Not Found: No route GET /nope");

  auto big = client.Post("/echo", std::string(4096, 'x'), "text/plain");
  REQUIRE(big);
  CHECK(big->status == 413);
  CHECK(nlohmann::json::parse(big->body)["detail"] ==
        "14: Payload Too Large: Request body is too large");

  auto small = client.Post("/echo", "hi", "text/plain");
  REQUIRE(small);
  CHECK(small->status == 200);
  CHECK(small->body == "hi");
  server.stop();
}
