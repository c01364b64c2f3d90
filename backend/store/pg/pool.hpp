// A fixed-size, thread-safe pool of libpqxx connections shared by the HTTP handler threads,
// ingest and the scheduler. Connections are opened lazily, checked on checkout and replaced
// when they broke, so a Postgres restart costs the requests in flight and nothing after.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/transaction>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/errors.hpp"
#include "store/pg/errors.hpp"

namespace pepeunit::store::pg {

class Pool {
 public:
  static constexpr std::chrono::milliseconds kDefaultAcquireTimeout{2000};

  /// RAII checkout: the connection goes back to the pool when the Lease dies, or is dropped
  /// (and re-created by a later acquire) if it broke. A Lease must not outlive its Pool, and
  /// transactions opened on it must end before it does.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    pqxx::connection& operator*() const noexcept { return *conn_; }
    pqxx::connection* operator->() const noexcept { return conn_.get(); }

    /// Tells the pool not to reuse this connection (e.g. after a pqxx::broken_connection).
    void markBroken() noexcept { broken_ = true; }

   private:
    friend class Pool;
    Lease(Pool* pool, std::unique_ptr<pqxx::connection> conn) noexcept
        : pool_(pool), conn_(std::move(conn)) {}
    void release() noexcept;

    Pool* pool_ = nullptr;
    std::unique_ptr<pqxx::connection> conn_;
    bool broken_ = false;
  };

  /// `dsn` is a libpq URL or keyword string; `connect_timeout=2` is added when it has none.
  /// Nothing connects until the first acquire.
  Pool(const std::string& dsn, std::size_t size);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  /// Waits up to `timeout` for a free slot, then hands out an idle connection that still looks
  /// alive or opens a new one (which may add up to connect_timeout). Throws
  /// Unavailable("Database is unavailable", <detail without the password>) when the pool stays
  /// exhausted or the connect fails.
  Lease acquire(std::chrono::milliseconds timeout = kDefaultAcquireTimeout);

  /// `SELECT 1` on a pooled connection, for /health: false when no connection could be had
  /// within `timeout` (down, or every connection busy) or the query failed. Never throws.
  bool ping(std::chrono::milliseconds timeout) noexcept;

  /// Runs `f(pqxx::work&)` in a transaction on a leased connection and commits when `f`
  /// returns; any exception rolls back. A lost connection becomes Unavailable; other pqxx
  /// errors propagate (wrap `f` in translateErrors to map unique violations).
  template <class F>
  auto withTransaction(F&& f, std::chrono::milliseconds timeout = kDefaultAcquireTimeout);

  /// Runs `f(pqxx::nontransaction&)`: autocommit, one round trip per statement. For reads made
  /// of a single statement (point lookups on the request path), where BEGIN/COMMIT would
  /// triple the round trips for nothing.
  template <class F>
  auto withRead(F&& f, std::chrono::milliseconds timeout = kDefaultAcquireTimeout);

  std::size_t capacity() const noexcept { return capacity_; }
  /// Open connections waiting in the pool (for metrics and tests).
  std::size_t idleCount() const;
  /// The DSN with its password replaced by `***`.
  const std::string& redactedDsn() const noexcept { return redacted_dsn_; }
  /// `message` with the DSN's password scrubbed; use on any text that came out of libpq.
  std::string scrub(std::string_view message) const;

 private:
  std::unique_ptr<pqxx::connection> connect() const;
  void giveBack(std::unique_ptr<pqxx::connection> conn, bool reusable) noexcept;

  const std::string dsn_;
  const std::string redacted_dsn_;
  const std::size_t capacity_;

  mutable std::mutex mutex_;
  std::condition_variable slot_freed_;
  std::size_t free_slots_;                               // guarded by mutex_
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // guarded by mutex_
};

template <class F>
auto Pool::withTransaction(F&& f, std::chrono::milliseconds timeout) {
  Lease lease = acquire(timeout);
  try {
    pqxx::work txn(*lease);
    if constexpr (std::is_void_v<std::invoke_result_t<F&, pqxx::work&>>) {
      std::invoke(f, txn);
      txn.commit();
    } else {
      auto result = std::invoke(f, txn);
      txn.commit();
      return result;
    }
  } catch (const pqxx::broken_connection& e) {
    lease.markBroken();
    throw Unavailable(kUnavailableMessage, scrub(e.what()));
  } catch (const pqxx::in_doubt_error& e) {
    lease.markBroken();
    throw Unavailable(kUnavailableMessage, "commit outcome unknown: " + scrub(e.what()));
  }
}

template <class F>
auto Pool::withRead(F&& f, std::chrono::milliseconds timeout) {
  Lease lease = acquire(timeout);
  try {
    pqxx::nontransaction tx(*lease);
    return std::invoke(f, tx);
  } catch (const pqxx::broken_connection& e) {
    lease.markBroken();
    throw Unavailable(kUnavailableMessage, scrub(e.what()));
  }
}

}  // namespace pepeunit::store::pg
