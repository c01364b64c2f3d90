// A small blocking HTTP client for tests against the backend: JSON in, status/body/headers out,
// one keep-alive connection per client.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace httplib {
class Client;
}  // namespace httplib

namespace pepeunit::testing {

using HttpHeaders = std::map<std::string, std::string>;

struct HttpResponse {
  int status = 0;
  std::string body;
  HttpHeaders headers;  ///< names lower-cased
  /// The body parsed as JSON; throws nlohmann::json::parse_error if it is not JSON.
  nlohmann::json json() const;
  /// A header by (case-insensitive) name, "" when absent.
  std::string header(const std::string& name) const;
};

/// The `detail` text of an error body, or "<no detail: …>" with the start of the body, so a
/// failed check shows what came back instead.
std::string detail(const HttpResponse& response);

/// Wraps httplib::Client with TCP_NODELAY, keep-alive and generous timeouts. Not thread-safe: one
/// client per thread. Transport failures (refused, timeout) throw std::runtime_error; any HTTP
/// status is returned.
class HttpClient {
 public:
  HttpClient(std::string host, int port);
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;

  /// Sent with every request (e.g. `x-auth-token`); per-call headers win.
  void setDefaultHeader(const std::string& name, const std::string& value);

  HttpResponse get(const std::string& path, const HttpHeaders& headers = {});
  /// JSON bodies are sent as application/json; string bodies as-is with `content_type`.
  HttpResponse post(const std::string& path, const nlohmann::json& body,
                    const HttpHeaders& headers = {});
  HttpResponse post(const std::string& path, const std::string& body,
                    const HttpHeaders& headers = {},
                    const std::string& content_type = "application/json");
  HttpResponse post(const std::string& path, const char* body, const HttpHeaders& headers = {},
                    const std::string& content_type = "application/json");
  HttpResponse patch(const std::string& path, const nlohmann::json& body,
                     const HttpHeaders& headers = {});
  HttpResponse patch(const std::string& path, const std::string& body,
                     const HttpHeaders& headers = {},
                     const std::string& content_type = "application/json");
  HttpResponse patch(const std::string& path, const char* body, const HttpHeaders& headers = {},
                     const std::string& content_type = "application/json");
  HttpResponse del(const std::string& path, const HttpHeaders& headers = {});
  HttpResponse del(const std::string& path, const nlohmann::json& body,
                   const HttpHeaders& headers = {});

 private:
  HttpResponse send(const std::string& method, const std::string& path, const std::string* body,
                    const std::string& content_type, const HttpHeaders& headers);

  std::string host_;
  int port_;
  HttpHeaders default_headers_;
  std::unique_ptr<httplib::Client> client_;
};

}  // namespace pepeunit::testing
