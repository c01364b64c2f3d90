// B6 (first cut): `GET /pepeunit` (instance info) vs the trivial `GET /ping` in the same backend
// process, under wrk with keep-alive, interleaved A/B runs; prints one JSON line.
#include <iostream>

#include "bench/bench_common.hpp"
#include "integration/harness/stack.hpp"

int main(int argc, char** argv) {
  using namespace pepeunit;
  const int runs = argc > 1 ? std::atoi(argv[1]) : 7;
  const int seconds = argc > 2 ? std::atoi(argv[2]) : 2;
  const int connections = 8;
  try {
    testing::Stack stack;
    const std::string base = "http://127.0.0.1:" + std::to_string(stack.backend().port());
    bench::runWrk(base + "/ping", connections, 1);  // warm-up
    std::vector<double> root_rps, ping_rps, root_p99, ping_p99, root_p50;
    for (int i = 0; i < runs; ++i) {
      const auto a = bench::runWrk(base + "/pepeunit", connections, seconds);
      const auto b = bench::runWrk(base + "/ping", connections, seconds);
      if (a.errors || b.errors)
        throw std::runtime_error("non-2xx responses during the run");
      root_rps.push_back(a.rps);
      root_p50.push_back(a.p50_ms);
      root_p99.push_back(a.p99_ms);
      ping_rps.push_back(b.rps);
      ping_p99.push_back(b.p99_ms);
    }
    bench::report("b6_http_root_vs_ping",
                  {{"connections", connections}, {"seconds", seconds}, {"runs", runs}},
                  bench::median(root_rps), bench::median(root_p99), "req/s",
                  bench::median(ping_rps),
                  {{"p50_ms", bench::median(root_p50)},
                   {"p99_ms", bench::median(root_p99)},
                   {"baseline_p99_ms", bench::median(ping_p99)}});
  } catch (const std::exception& e) {
    std::cerr << "bench_http_root: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
