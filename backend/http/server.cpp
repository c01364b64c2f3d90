// HttpServer lifecycle.
#include "http/server.hpp"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "http/error_mapping.hpp"

namespace pepeunit::http {

HttpServer::HttpServer(Options options) : options_(std::move(options)) {
  server_.set_tcp_nodelay(true);
  server_.set_keep_alive_max_count(100000);
  // stop() joins workers that sit out an idle keep-alive wait; keep it short so SIGTERM is
  // prompt even with idle clients connected (regression: backend_health_redistest).
  server_.set_keep_alive_timeout(2);
  server_.set_read_timeout(10, 0);
  server_.set_write_timeout(30, 0);
  server_.set_payload_max_length(options_.max_request_body);
  const int threads = options_.threads;
  server_.new_task_queue = [threads] {
    return new httplib::ThreadPool(static_cast<size_t>(threads));
  };
  installErrorHandling(server_);
}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::start() {
  if (options_.port == 0) {
    port_ = server_.bind_to_any_port(options_.host);
  } else if (server_.bind_to_port(options_.host, options_.port)) {
    port_ = options_.port;
  } else {
    port_ = -1;
  }
  if (port_ <= 0) {
    throw std::runtime_error("cannot listen on " + options_.host + ":" +
                             std::to_string(options_.port) + " (port in use or not permitted)");
  }
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  spdlog::info("http: listening on {}:{}", options_.host, port_);
}

void HttpServer::stop() {
  if (thread_.joinable()) {
    server_.stop();
    thread_.join();
  }
}

}  // namespace pepeunit::http
