// B9 (issue 3): DB-backed `GET /users/{uuid}` (token check + user lookup + target lookup) at a
// fixed rate, vs `GET /ping` at the same rate in the same process and run. Prints one JSON line
// with p50/p99 of both. Args: [rate=4000] [seconds=20].
#include <iostream>

#include "bench/bench_common.hpp"
#include "integration/harness/http_client.hpp"
#include "integration/harness/stack.hpp"

int main(int argc, char** argv) {
  using namespace pepeunit;
  const int rate = argc > 1 ? std::atoi(argv[1]) : 4000;
  const int seconds = argc > 2 ? std::atoi(argv[2]) : 20;
  // hey workers are closed loops: enough of them that the offered rate never waits on latency.
  const int workers = 32;
  try {
    testing::Stack stack;
    testing::HttpClient http("127.0.0.1", stack.backend().port());
    const auto created =
        http.post("/pepeunit/api/v1/users",
                  nlohmann::json{{"login", "bench_user"}, {"password", "bench-Pass1"}});
    if (created.status != 201)
      throw std::runtime_error("register failed: " + created.body);
    const auto uuid = created.json()["uuid"].get<std::string>();
    const auto login =
        http.post("/pepeunit/api/v1/users/auth",
                  nlohmann::json{{"credentials", "bench_user"}, {"password", "bench-Pass1"}});
    if (login.status != 200)
      throw std::runtime_error("login failed: " + login.body);
    const auto token = login.json()["token"].get<std::string>();

    const std::string base = "http://127.0.0.1:" + std::to_string(stack.backend().port());
    const std::string user_url = base + "/pepeunit/api/v1/users/" + uuid;
    bench::runHey(user_url, rate / 4, workers, 2, "x-auth-token: " + token);  // warm-up
    const auto users = bench::runHey(user_url, rate, workers, seconds, "x-auth-token: " + token);
    const auto ping = bench::runHey(base + "/ping", rate, workers, seconds);
    if (users.ok != users.total || ping.ok != ping.total) {
      throw std::runtime_error("non-200 responses during the run");
    }
    bench::report("b9_rest_get_user_fixed_rate",
                  {{"target_rps", rate}, {"seconds", seconds}, {"connections", workers}},
                  users.p99_ms, users.p99_ms, "p99_ms", ping.p99_ms,
                  {{"p50_ms", users.p50_ms},
                   {"achieved_rps", users.rps},
                   {"requests", users.total},
                   {"baseline_p50_ms", ping.p50_ms},
                   {"baseline_achieved_rps", ping.rps}});
  } catch (const std::exception& e) {
    std::cerr << "bench_rest_users: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
