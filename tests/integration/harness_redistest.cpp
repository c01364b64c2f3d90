// Self-test of the integration harness: the real servers come up on free loopback ports, answer,
// survive restart/pause, carry MQTT over plain and TLS listeners, and leave nothing behind.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <httplib.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pqxx/pqxx>
#include <thread>

#include "integration/harness/backend_process.hpp"
#include "integration/harness/http_client.hpp"
#include "integration/harness/process.hpp"
#include "integration/harness/stack.hpp"
#include "integration/harness/tcp_probe.hpp"
#include "integration/harness/temp_dir.hpp"
#include "integration/harness/wait.hpp"

namespace t = pepeunit::testing;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

/// The bare servers: with no backend there is nobody for the auth plugin to ask, and these cases
/// test the harness's own start/stop/restart, so the broker accepts anonymous clients.
t::StackOptions withoutBackend() {
  t::StackOptions options;
  options.start_backend = false;
  options.auth_plugin = false;
  return options;
}

/// True once `pid` no longer exists (or is a zombie nobody will reap for us).
bool gone(pid_t pid) {
  if (::kill(pid, 0) != 0) {
    return true;
  }
  const std::string stat = t::readFile("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

/// Subscribes with mosquitto_sub (one message, 10 s limit), waits until the broker logs its
/// SUBACK, publishes one message with mosquitto_pub, and returns what the subscriber printed.
std::string roundTrip(t::MosquittoServer& broker, const t::TempDir& dir, const std::string& name,
                      const std::vector<std::string>& connection_args, const std::string& payload) {
  const auto log = dir.path() / (name + ".sub.log");
  std::vector<std::string> sub{
      "mosquitto_sub", "-i", name + "-sub", "-t", "harness/" + name, "-C", "1", "-W", "10"};
  sub.insert(sub.end(), connection_args.begin(), connection_args.end());
  t::Process subscriber = t::Process::spawn(sub, {}, log);
  const std::string suback = "Sending SUBACK to " + name + "-sub\n";
  REQUIRE(t::pollUntil([&] { return broker.logText().find(suback) != std::string::npos; },
                       seconds(10)));
  std::vector<std::string> pub{
      "mosquitto_pub", "-i", name + "-pub", "-t", "harness/" + name, "-m", payload, "-q", "1"};
  pub.insert(pub.end(), connection_args.begin(), connection_args.end());
  t::Process publisher = t::Process::spawn(pub, {}, dir.path() / (name + ".pub.log"));
  CHECK(publisher.wait(seconds(10)) == 0);
  CHECK(subscriber.wait(seconds(10)) == 0);
  return t::readFile(log);
}

}  // namespace

TEST_CASE("TempDir is traversable by other users and removed with its contents") {
  std::filesystem::path path;
  {
    const t::TempDir dir;
    path = dir.path();
    CHECK(path.filename().string().rfind("pepeunit-test-", 0) == 0);
    CHECK((std::filesystem::status(path).permissions() & std::filesystem::perms::others_exec) !=
          std::filesystem::perms::none);
    std::filesystem::create_directories(path / "a" / "b");
    std::ofstream(path / "a" / "b" / "f") << "x";
  }
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("Process: exit codes, output, environment, timeouts, escalation") {
  const t::TempDir dir;
  SUBCASE("exit code and log output") {
    t::Process p =
        t::Process::spawn({"sh", "-c", "echo out; echo err >&2; exit 3"}, {}, dir.path() / "p.log");
    CHECK(p.wait(seconds(10)) == 3);
    CHECK_FALSE(p.running());
    CHECK(t::readFile(dir.path() / "p.log") == "out\nerr\n");
  }
  SUBCASE("environment overrides and a clean environment") {
    t::Process inherit = t::Process::spawn({"sh", "-c", "echo \"$PEPEUNIT_X:${HOME:+home}\""},
                                           {{"PEPEUNIT_X", "42"}}, dir.path() / "inherit.log");
    CHECK(inherit.wait(seconds(10)) == 0);
    const bool have_home = std::getenv("HOME") != nullptr;
    CHECK(t::readFile(dir.path() / "inherit.log") == (have_home ? "42:home\n" : "42:\n"));

    t::SpawnOptions clean;
    clean.argv = {"/bin/sh", "-c", "echo \"$PEPEUNIT_X:${HOME:-none}\"; pwd"};
    clean.env_overrides = {{"PEPEUNIT_X", "7"}};
    clean.inherit_env = false;
    clean.log_file = dir.path() / "clean.log";
    clean.working_dir = dir.path();
    t::Process p = t::Process::launch(clean);
    CHECK(p.wait(seconds(10)) == 0);
    CHECK(t::readFile(dir.path() / "clean.log") == "7:none\n" + dir.path().string() + "\n");
  }
  SUBCASE("a missing program throws") {
    CHECK_THROWS_WITH_AS(t::Process::spawn({"/nonexistent/pepeunit-program"}),
                         doctest::Contains("No such file or directory"), std::runtime_error);
  }
  SUBCASE("wait times out on a running child; stop() escalates to SIGKILL") {
    const auto log = dir.path() / "stubborn.log";
    t::Process p = t::Process::spawn(
        {"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"}, {}, log);
    REQUIRE(t::pollUntil([&] { return t::readFile(log) == "ready\n"; }, seconds(10)));
    CHECK_FALSE(p.wait(milliseconds(50)).has_value());
    CHECK(p.running());
    CHECK(p.stop(SIGTERM, milliseconds(200)) == 128 + SIGKILL);
    CHECK_FALSE(p.running());
  }
  SUBCASE("a graceful stop reports the signal") {
    t::Process p = t::Process::spawn({"sleep", "60"});
    CHECK(p.stop() == 128 + SIGTERM);
  }
  SUBCASE("the destructor stops the child, moves transfer ownership") {
    pid_t pid = -1;
    {
      t::Process a = t::Process::spawn({"sleep", "60"});
      t::Process b = std::move(a);
      CHECK(a.pid() == -1);  // NOLINT(bugprone-use-after-move): the moved-from state
      pid = b.pid();
      CHECK(b.running());
    }
    CHECK(gone(pid));
  }
  SUBCASE("run_as_user switches uid") {
    if (::geteuid() != 0) {
      MESSAGE("not root: run_as_user not exercised");
      return;
    }
    const passwd* pw = ::getpwnam("postgres");
    REQUIRE(pw != nullptr);
    t::Process p = t::Process::spawn({"id", "-u"}, {}, dir.path() / "id.log", "postgres");
    CHECK(p.wait(seconds(10)) == 0);
    CHECK(t::readFile(dir.path() / "id.log") == std::to_string(pw->pw_uid) + "\n");
  }
}

TEST_CASE("Process: children die with the process that spawned them") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t middle = ::fork();
  REQUIRE(middle >= 0);
  if (middle == 0) {
    // A stand-in for a test process that gets killed: spawn, report the pid, die abruptly.
    ::close(fds[0]);
    try {
      t::Process child = t::Process::spawn({"sleep", "60"});
      const pid_t pid = child.pid();
      [[maybe_unused]] const auto n = ::write(fds[1], &pid, sizeof(pid));
      ::_exit(0);  // no destructors: only PR_SET_PDEATHSIG can clean up now
    } catch (...) {
      ::_exit(1);
    }
  }
  ::close(fds[1]);
  pid_t grandchild = -1;
  const auto n = ::read(fds[0], &grandchild, sizeof(grandchild));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(middle, &status, 0);
  REQUIRE(n == static_cast<ssize_t>(sizeof(grandchild)));
  CHECK(t::pollUntil([&] { return gone(grandchild); }, seconds(10)));
}

TEST_CASE("Stack without backend: postgres, redis and mosquitto on free loopback ports") {
  std::filesystem::path dir;
  std::vector<pid_t> pids;
  {
    const auto started = std::chrono::steady_clock::now();
    t::Stack stack(withoutBackend());
    MESSAGE("stack started in " << std::chrono::duration_cast<milliseconds>(
                                       std::chrono::steady_clock::now() - started)
                                       .count()
                                << " ms");
    dir = stack.dir();
    pids = {stack.pg().process().pid(), stack.redis().process().pid(),
            stack.mqtt().process().pid()};
    CHECK(std::filesystem::is_directory(dir));
    CHECK(stack.pg().port() != stack.redis().port());
    CHECK(stack.mqtt().port() != stack.mqtt().tlsPort());

    SUBCASE("postgres answers through libpqxx, databases can be created, restart keeps data") {
      CHECK(stack.pg().url() ==
            "postgresql://postgres@127.0.0.1:" + std::to_string(stack.pg().port()) + "/pepeunit");
      {
        pqxx::connection conn(stack.pg().url());
        pqxx::work tx(conn);
        CHECK(tx.exec1("SELECT 1")[0].as<int>() == 1);
        CHECK(tx.exec1("SELECT current_database()")[0].as<std::string>() == "pepeunit");
        tx.exec0("CREATE TABLE kept (v int)");
        tx.exec0("INSERT INTO kept VALUES (42)");
        tx.commit();
      }
      stack.pg().createDatabase("second_db");
      {
        pqxx::connection conn(stack.pg().url("second_db"));
        pqxx::work tx(conn);
        CHECK(tx.exec1("SELECT 2")[0].as<int>() == 2);
      }
      const int port = stack.pg().port();
      stack.pg().restart();
      CHECK(stack.pg().port() == port);
      pqxx::connection conn(stack.pg().url());
      pqxx::work tx(conn);
      CHECK(tx.exec1("SELECT v FROM kept")[0].as<int>() == 42);
      pids[0] = stack.pg().process().pid();
    }

    SUBCASE("redis answers PING; pause, resume and restart work") {
      CHECK(stack.redis().url() ==
            "redis://127.0.0.1:" + std::to_string(stack.redis().port()) + "/0");
      const auto reply = t::tcpExchange(
          stack.redis().port(), "SET k v\r\nGET k\r\n",
          [](std::string_view got) { return got.size() >= 12; }, seconds(2));
      REQUIRE(reply.has_value());
      CHECK(*reply == "+OK\r\n$1\r\nv\r\n");

      stack.redis().pause();
      CHECK_FALSE(stack.redis().ping(milliseconds(200)));
      stack.redis().resume();
      CHECK(stack.redis().ping());

      const int port = stack.redis().port();
      stack.redis().stop();
      CHECK_FALSE(stack.redis().ping(milliseconds(200)));
      stack.redis().start();
      CHECK(stack.redis().port() == port);
      CHECK(stack.redis().ping());
      pids[1] = stack.redis().process().pid();
    }

    SUBCASE("mosquitto carries messages on the plain and the TLS listener") {
      const t::TempDir work;
      const std::string plain_port = std::to_string(stack.mqtt().port());
      const std::string tls_port = std::to_string(stack.mqtt().tlsPort());
      CHECK(stack.mqtt().connackCode() == 0);

      CHECK(roundTrip(stack.mqtt(), work, "plain", {"-h", "127.0.0.1", "-p", plain_port},
                      "hello-plain") == "hello-plain\n");
      const std::string ca = stack.mqtt().caFile().string();
      CHECK(roundTrip(stack.mqtt(), work, "tls-ip",
                      {"-h", "127.0.0.1", "-p", tls_port, "--cafile", ca},
                      "hello-tls-ip") == "hello-tls-ip\n");
      CHECK(roundTrip(stack.mqtt(), work, "tls-name",
                      {"-h", "localhost", "-p", tls_port, "--cafile", ca},
                      "hello-tls-name") == "hello-tls-name\n");

      // The TLS listener really is TLS: a plain MQTT client cannot publish there.
      t::Process plain_to_tls = t::Process::spawn(
          {"mosquitto_pub", "-h", "127.0.0.1", "-p", tls_port, "-t", "x", "-m", "y"}, {},
          work.path() / "plain_to_tls.log");
      const auto code = plain_to_tls.wait(seconds(10));
      REQUIRE(code.has_value());
      CHECK(*code != 0);

      const int port = stack.mqtt().port();
      stack.mqtt().restart();
      CHECK(stack.mqtt().port() == port);
      CHECK(roundTrip(stack.mqtt(), work, "restarted", {"-h", "127.0.0.1", "-p", plain_port},
                      "again") == "again\n");
      pids[2] = stack.mqtt().process().pid();
    }

    SUBCASE("backendEnv points at the servers") {
      const auto& env = stack.backendEnv();
      CHECK(env.at("DATABASE_URL") == stack.pg().url());
      CHECK(env.at("REDIS_URL") == stack.redis().url());
      CHECK(env.at("MQTT_PORT") == std::to_string(stack.mqtt().port()));
      CHECK(env.at("BACKEND_SAVE_REPO_PATH") == (dir / "repos").string());
      CHECK(env.at("BACKEND_SECRET_KEY").size() >= 32);
      CHECK(env.at("BACKEND_ENCRYPT_KEY").size() == 44);  // base64 of 32 bytes
      CHECK(std::filesystem::is_directory(env.at("BACKEND_MIGRATIONS_DIR")));
      CHECK_FALSE(stack.backend().running());
    }
  }
  CHECK_FALSE(std::filesystem::exists(dir));
  for (const pid_t pid : pids) {
    CHECK(gone(pid));
  }
}

TEST_CASE("Mosquitto with anonymous access off refuses an anonymous CONNECT") {
  const t::TempDir dir;
  t::MosquittoOptions options;
  options.allow_anonymous = false;
  options.tls = false;
  t::MosquittoServer broker(dir.path() / "mqtt", options);
  broker.start();
  CHECK(broker.tlsPort() == 0);
  CHECK(broker.connackCode() == 5);  // "not authorized"
  CHECK(t::readFile(broker.configFile()).find("allow_anonymous false\n") != std::string::npos);
}

TEST_CASE("HttpClient talks JSON with headers over keep-alive") {
  httplib::Server server;
  server.Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-Token-Seen", req.get_header_value("x-auth-token"));
    res.set_content(req.body, "application/json");
  });
  server.Patch("/echo", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content("patched:" + req.body, "text/plain");
  });
  server.Delete("/items/1",
                [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  server.Get("/missing", [](const httplib::Request&, httplib::Response& res) {
    res.status = 404;
    res.set_content(R"({"detail":"nope"})", "application/json");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  std::thread listener([&] { server.listen_after_bind(); });
  REQUIRE(t::pollUntil([&] { return server.is_running(); }, seconds(10)));

  {
    // Scoped: httplib's Server::stop() waits out idle keep-alive connections (5 s).
    t::HttpClient client("127.0.0.1", port);
    client.setDefaultHeader("x-auth-token", "default");
    const auto echoed = client.post("/echo", {{"a", 1}, {"b", "c"}});
    CHECK(echoed.status == 200);
    CHECK(echoed.json() == nlohmann::json{{"a", 1}, {"b", "c"}});
    CHECK(echoed.header("X-Token-Seen") == "default");
    CHECK(echoed.headers.at("content-type") == "application/json");
    const auto overridden = client.post("/echo", "[1,2]", {{"x-auth-token", "mine"}});
    CHECK(overridden.json() == nlohmann::json::array({1, 2}));
    CHECK(overridden.header("x-token-seen") == "mine");
    CHECK(client.patch("/echo", nlohmann::json{{"x", true}}).body == R"(patched:{"x":true})");
    CHECK(client.del("/items/1").status == 204);
    const auto missing = client.get("/missing");
    CHECK(missing.status == 404);
    CHECK(missing.json()["detail"] == "nope");
  }
  server.stop();
  listener.join();
  t::HttpClient refused("127.0.0.1", t::freePort());
  CHECK_THROWS_AS(refused.get("/"), std::runtime_error);
}

TEST_CASE("Stack with backend: serve answers GET /pepeunit and stops cleanly on SIGTERM") {
  t::Stack stack;
  CHECK(stack.backend().running());
  CHECK(stack.backend().port() == std::stoi(stack.backendEnv().at("BACKEND_HTTP_PORT")));
  CHECK(stack.backend().baseUrl() == "http://127.0.0.1:" + std::to_string(stack.backend().port()));
  {
    t::HttpClient http("127.0.0.1", stack.backend().port());
    CHECK(http.get("/pepeunit").status == 200);
    // The broker runs our plugin: anonymous clients are refused (CONNACK 5, not authorized)
    // while the backend's own token gets through.
    CHECK(stack.mqtt().connackCode() == 5);
    CHECK(t::pollUntil(
        [&] { return http.get("/pepeunit/health").json()["components"]["mqtt"]["status"] == "up"; },
        seconds(10)));
  }
  CHECK_FALSE(stack.backend().logText().empty());
  // No client connection is open here: an idle keep-alive connection is the backend's own
  // shutdown concern, not the harness's.
  const auto code = stack.backend().stop();
  INFO(stack.backend().logText());
  CHECK(code.value_or(-1) == 0);
  t::HttpClient http("127.0.0.1", stack.backend().port());
  CHECK_THROWS_AS(http.get("/pepeunit"), std::runtime_error);
}

TEST_CASE("BackendProcess::runOnce reports a refused start with its output") {
  const auto result = t::BackendProcess::runOnce({"serve"}, {}, seconds(20));
  CHECK_FALSE(result.timed_out);
  CHECK(result.exit_code != 0);
  CHECK(result.output.find("BACKEND_DOMAIN") != std::string::npos);
}
