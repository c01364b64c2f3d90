// Non-blocking socket + poll() with one deadline for the whole exchange.
#include "integration/harness/tcp_probe.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace pepeunit::testing {
namespace {

using Clock = std::chrono::steady_clock;

/// Owns one socket descriptor.
class Socket {
 public:
  Socket() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) {}
  ~Socket() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

int msLeft(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

/// Waits for `events` on `fd` until `deadline`; true if they arrived.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, msLeft(deadline));
    if (r > 0) {
      return true;
    }
    if (r == 0 || errno != EINTR) {
      return false;
    }
  }
}

bool connectLoopback(const Socket& sock, int port, Clock::time_point deadline) {
  if (sock.fd() < 0) {
    return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(sock.fd(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) {
    return true;
  }
  if (errno != EINPROGRESS || !waitFor(sock.fd(), POLLOUT, deadline)) {
    return false;
  }
  int err = 0;
  socklen_t len = sizeof(err);
  return ::getsockopt(sock.fd(), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

}  // namespace

bool tcpConnects(int port, std::chrono::milliseconds timeout) {
  const Socket sock;
  return connectLoopback(sock, port, Clock::now() + timeout);
}

std::optional<std::string> tcpExchange(int port, std::string_view request,
                                       const std::function<bool(std::string_view)>& complete,
                                       std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  const Socket sock;
  if (!connectLoopback(sock, port, deadline)) {
    return std::nullopt;
  }
  const int one = 1;
  ::setsockopt(sock.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  while (!request.empty()) {
    const ssize_t n = ::send(sock.fd(), request.data(), request.size(), MSG_NOSIGNAL);
    if (n > 0) {
      request.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!waitFor(sock.fd(), POLLOUT, deadline)) {
        return std::nullopt;
      }
    } else {
      return std::nullopt;
    }
  }
  std::string received;
  char buf[4096];
  while (!complete(received)) {
    if (!waitFor(sock.fd(), POLLIN, deadline)) {
      return std::nullopt;
    }
    const ssize_t n = ::recv(sock.fd(), buf, sizeof(buf), 0);
    if (n > 0) {
      received.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      return std::nullopt;
    }
  }
  return received;
}

}  // namespace pepeunit::testing
