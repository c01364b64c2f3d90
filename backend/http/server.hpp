// cpp-httplib server with the settings this project depends on: TCP_NODELAY and a large
// keep-alive count (without them every request costs ~44 ms, performance_anchors §4.5), a
// bounded body size and a fixed worker pool.
#pragma once

#include <httplib.h>

#include <string>
#include <thread>

namespace pepeunit::http {

class HttpServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    int port = 0;  // 0 = any free port
    int threads = 8;
    std::size_t max_request_body = 1 << 20;
  };

  explicit HttpServer(Options options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Routes are registered on this before start().
  httplib::Server& routes() { return server_; }

  /// Binds (throws std::runtime_error naming host:port when it cannot) and serves on a thread.
  void start();
  void stop();
  int port() const { return port_; }

 private:
  Options options_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace pepeunit::http
