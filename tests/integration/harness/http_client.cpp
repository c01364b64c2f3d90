// HttpClient over httplib::Client.
#include "integration/harness/http_client.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace pepeunit::testing {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

nlohmann::json HttpResponse::json() const {
  return nlohmann::json::parse(body);
}

std::string HttpResponse::header(const std::string& name) const {
  const auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

HttpClient::HttpClient(std::string host, int port)
    : host_(std::move(host)),
      port_(port),
      client_(std::make_unique<httplib::Client>(host_, port_)) {
  client_->set_tcp_nodelay(true);
  client_->set_keep_alive(true);
  client_->set_connection_timeout(std::chrono::seconds(10));
  // Generous: clones and archive builds on a loaded 2-core CI machine can take seconds, and a
  // timeout here surfaces as an exception rather than a failed check.
  client_->set_read_timeout(std::chrono::seconds(60));
  client_->set_write_timeout(std::chrono::seconds(60));
}

HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

void HttpClient::setDefaultHeader(const std::string& name, const std::string& value) {
  default_headers_[name] = value;
}

HttpResponse HttpClient::send(const std::string& method, const std::string& path,
                              const std::string* body, const std::string& content_type,
                              const HttpHeaders& headers) {
  httplib::Headers all;
  for (const auto& [name, value] : headers) {
    all.emplace(name, value);
  }
  for (const auto& [name, value] : default_headers_) {
    if (all.find(name) == all.end()) {  // httplib::Headers compares names case-insensitively
      all.emplace(name, value);
    }
  }
  httplib::Result result{nullptr, httplib::Error::Unknown};
  const std::string no_body;
  const std::string& payload = body != nullptr ? *body : no_body;
  if (method == "GET") {
    result = client_->Get(path, all);
  } else if (method == "POST") {
    result = client_->Post(path, all, payload, content_type);
  } else if (method == "PATCH") {
    result = client_->Patch(path, all, payload, content_type);
  } else if (body != nullptr) {
    result = client_->Delete(path, all, payload, content_type);
  } else {
    result = client_->Delete(path, all);
  }
  if (!result) {
    throw std::runtime_error(method + " http://" + host_ + ":" + std::to_string(port_) + path +
                             " failed: " + httplib::to_string(result.error()));
  }
  HttpResponse response;
  response.status = result->status;
  response.body = result->body;
  for (const auto& [name, value] : result->headers) {
    response.headers[lower(name)] = value;
  }
  return response;
}

HttpResponse HttpClient::get(const std::string& path, const HttpHeaders& headers) {
  return send("GET", path, nullptr, "", headers);
}

HttpResponse HttpClient::post(const std::string& path, const nlohmann::json& body,
                              const HttpHeaders& headers) {
  const std::string text = body.dump();
  return send("POST", path, &text, "application/json", headers);
}

HttpResponse HttpClient::post(const std::string& path, const std::string& body,
                              const HttpHeaders& headers, const std::string& content_type) {
  return send("POST", path, &body, content_type, headers);
}

HttpResponse HttpClient::post(const std::string& path, const char* body, const HttpHeaders& headers,
                              const std::string& content_type) {
  return post(path, std::string(body), headers, content_type);
}

HttpResponse HttpClient::patch(const std::string& path, const nlohmann::json& body,
                               const HttpHeaders& headers) {
  const std::string text = body.dump();
  return send("PATCH", path, &text, "application/json", headers);
}

HttpResponse HttpClient::patch(const std::string& path, const std::string& body,
                               const HttpHeaders& headers, const std::string& content_type) {
  return send("PATCH", path, &body, content_type, headers);
}

HttpResponse HttpClient::patch(const std::string& path, const char* body,
                               const HttpHeaders& headers, const std::string& content_type) {
  return patch(path, std::string(body), headers, content_type);
}

HttpResponse HttpClient::del(const std::string& path, const HttpHeaders& headers) {
  return send("DELETE", path, nullptr, "", headers);
}

HttpResponse HttpClient::del(const std::string& path, const nlohmann::json& body,
                             const HttpHeaders& headers) {
  const std::string text = body.dump();
  return send("DELETE", path, &text, "application/json", headers);
}

std::string detail(const HttpResponse& response) {
  const auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (!body.is_object() || !body.contains("detail") || !body["detail"].is_string()) {
    return "<no detail: " + response.body.substr(0, 300) + ">";
  }
  return body["detail"].get<std::string>();
}

}  // namespace pepeunit::testing
