// PostgresServer: initdb + postgres as the right user, readiness by connecting with libpqxx.
#include "integration/harness/postgres_server.hpp"

#include <pwd.h>
#include <unistd.h>

#include <optional>
#include <pqxx/pqxx>
#include <stdexcept>
#include <system_error>

#include "integration/harness/wait.hpp"

namespace pepeunit::testing {
namespace {

constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin";
constexpr auto kStartTimeout = std::chrono::seconds(30);

/// initdb and postgres refuse to run as root; as any other user they run as that user.
std::optional<std::string> serviceUser() {
  if (::geteuid() == 0) {
    return std::string("postgres");
  }
  return std::nullopt;
}

void chownToPostgres(const std::filesystem::path& path) {
  const passwd* pw = ::getpwnam("postgres");
  if (pw == nullptr) {
    throw std::runtime_error("running as root but there is no user 'postgres'");
  }
  if (::chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    throw std::system_error(errno, std::generic_category(), "chown(" + path.string() + ")");
  }
}

}  // namespace

PostgresServer::PostgresServer(const std::filesystem::path& dir) : dir_(dir) {
  std::filesystem::create_directories(dir_);
  if (serviceUser()) {
    chownToPostgres(dir_);  // postgres writes its data dir and socket here
  }
}

PostgresServer::~PostgresServer() {
  stop();
}

std::string PostgresServer::url(const std::string& db) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

void PostgresServer::initDb() {
  SpawnOptions options;
  options.argv = {std::string(kBinDir) + "/initdb",
                  "-D",
                  (dir_ / "data").string(),
                  "--auth=trust",
                  "-U",
                  "postgres",
                  "--no-locale",
                  "-E",
                  "UTF8",
                  "--no-sync",
                  "--no-instructions"};
  options.env_overrides = {{"LC_ALL", "C"}};
  options.log_file = dir_ / "initdb.log";
  options.run_as_user = serviceUser();
  options.working_dir = dir_;
  Process initdb = Process::launch(options);
  const auto code = initdb.wait(std::chrono::seconds(60));
  if (code != 0) {
    initdb.stop(SIGKILL);
    throw std::runtime_error("initdb failed; log:\n" + readFileTail(dir_ / "initdb.log"));
  }
  initialized_ = true;
}

bool PostgresServer::accepts() const {
  try {
    pqxx::connection conn(url("postgres") + "?connect_timeout=2");
    return conn.is_open();
  } catch (const std::exception&) {
    return false;
  }
}

bool PostgresServer::launch() {
  SpawnOptions options;
  options.argv = {std::string(kBinDir) + "/postgres",
                  "-D",
                  (dir_ / "data").string(),
                  "-p",
                  std::to_string(port_),
                  "-k",
                  dir_.string(),
                  "-c",
                  "listen_addresses=127.0.0.1",
                  "-c",
                  "fsync=off",
                  "-c",
                  "synchronous_commit=off",
                  "-c",
                  "full_page_writes=off"};
  options.env_overrides = {{"LC_ALL", "C"}};
  options.log_file = dir_ / "postgres.log";
  options.run_as_user = serviceUser();
  options.working_dir = dir_;
  process_ = Process::launch(options);
  if (pollUntil([this] { return !process_.running() || accepts(); }, kStartTimeout) &&
      process_.running()) {
    return true;
  }
  if (!process_.running()) {
    return false;
  }
  process_.stop(SIGKILL);
  throw std::runtime_error("postgres did not accept connections on port " + std::to_string(port_) +
                           "; log:\n" + readFileTail(dir_ / "postgres.log"));
}

void PostgresServer::start() {
  if (process_.running()) {
    return;
  }
  const bool first_start = !initialized_;
  if (first_start) {
    initDb();
  }
  // A port from freePort() can be taken by someone else before postgres binds it: retry with a
  // new one, but only while the port is not yet part of our contract (restart keeps it).
  const bool fixed_port = port_ != 0;
  for (int attempt = 1;; ++attempt) {
    if (!fixed_port) {
      port_ = freePort();
    }
    if (launch()) {
      break;
    }
    if (fixed_port || attempt == 3) {
      throw std::runtime_error("postgres exited during start-up on port " + std::to_string(port_) +
                               "; log:\n" + readFileTail(dir_ / "postgres.log"));
    }
  }
  if (first_start) {
    createDatabase("pepeunit");
  }
}

void PostgresServer::stop() {
  process_.stop(SIGINT, std::chrono::seconds(10));
}

void PostgresServer::restart() {
  stop();
  start();
}

void PostgresServer::createDatabase(const std::string& name) {
  pqxx::connection conn(url("postgres"));
  pqxx::nontransaction tx(conn);
  tx.exec0("CREATE DATABASE " + tx.quote_name(name));
}

}  // namespace pepeunit::testing
