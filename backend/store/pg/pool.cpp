// Pool bookkeeping: a counter of free slots plus a stack of idle open connections, both under one
// mutex. Connecting, liveness checks and closing happen outside the lock.
#include "store/pg/pool.hpp"

#include <poll.h>

#include <exception>
#include <pqxx/nontransaction>
#include <stdexcept>
#include <utility>

#include "store/pg/dsn.hpp"

namespace pepeunit::store::pg {
namespace {

// An idle connection has nothing to read. If its socket is readable or hung up, the server has
// closed it (restart, idle timeout, pg_terminate_backend) and the first query would fail; find
// that out here without a round trip. A false alarm (an unsolicited ParameterStatus) only costs
// a reconnect.
bool looksAlive(const pqxx::connection& conn) {
  if (!conn.is_open()) {
    return false;
  }
  const int fd = conn.sock();
  if (fd < 0) {
    return false;
  }
  pollfd probe{fd, POLLIN, 0};
  const int ready = ::poll(&probe, 1, 0);
  if (ready < 0) {
    return true;  // EINTR and friends say nothing about the peer
  }
  return ready == 0 || (probe.revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) == 0;
}

}  // namespace

Pool::Lease::Lease(Lease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)),
      conn_(std::move(other.conn_)),
      broken_(other.broken_) {}

Pool::Lease& Pool::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    release();
    pool_ = std::exchange(other.pool_, nullptr);
    conn_ = std::move(other.conn_);
    broken_ = other.broken_;
  }
  return *this;
}

Pool::Lease::~Lease() {
  release();
}

void Pool::Lease::release() noexcept {
  if (pool_ == nullptr) {
    return;
  }
  const bool reusable = !broken_ && conn_ && conn_->is_open();
  std::exchange(pool_, nullptr)->giveBack(std::move(conn_), reusable);
}

Pool::Pool(const std::string& dsn, std::size_t size)
    : dsn_(withDefaultConnectTimeout(dsn)),
      redacted_dsn_(redactDsn(dsn_)),
      capacity_(size),
      free_slots_(size) {
  if (size == 0) {
    throw std::invalid_argument("pg::Pool needs at least one connection");
  }
  idle_.reserve(size);
}

Pool::~Pool() = default;

Pool::Lease Pool::acquire(std::chrono::milliseconds timeout) {
  std::unique_ptr<pqxx::connection> conn;
  {
    std::unique_lock lock(mutex_);
    if (!slot_freed_.wait_for(lock, timeout, [this] { return free_slots_ > 0; })) {
      throw Unavailable(kUnavailableMessage,
                        "all " + std::to_string(capacity_) + " connections to " + redacted_dsn_ +
                            " stayed busy for " + std::to_string(timeout.count()) + " ms");
    }
    --free_slots_;
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  // The slot is ours from here on: every failure path must give it back.
  if (conn && !looksAlive(*conn)) {
    conn.reset();
  }
  if (!conn) {
    try {
      conn = connect();
    } catch (...) {
      giveBack(nullptr, false);
      throw;
    }
  }
  return Lease(this, std::move(conn));
}

bool Pool::ping(std::chrono::milliseconds timeout) noexcept {
  try {
    Lease lease = acquire(timeout);
    try {
      pqxx::nontransaction txn(*lease);
      txn.exec("SELECT 1");
      return true;
    } catch (const pqxx::broken_connection&) {
      lease.markBroken();
      return false;
    }
  } catch (const std::exception&) {
    return false;
  }
}

std::size_t Pool::idleCount() const {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

std::string Pool::scrub(std::string_view message) const {
  return scrubPassword(std::string(message), dsn_);
}

std::unique_ptr<pqxx::connection> Pool::connect() const {
  try {
    return std::make_unique<pqxx::connection>(dsn_);
  } catch (const std::exception& e) {
    throw Unavailable(kUnavailableMessage,
                      "cannot connect to " + redacted_dsn_ + ": " + scrub(e.what()));
  }
}

void Pool::giveBack(std::unique_ptr<pqxx::connection> conn, bool reusable) noexcept {
  {
    std::lock_guard lock(mutex_);
    if (conn && reusable) {
      idle_.push_back(std::move(conn));
    }
    ++free_slots_;
  }
  slot_freed_.notify_one();
  // A connection not kept is closed here, outside the lock.
}

}  // namespace pepeunit::store::pg
