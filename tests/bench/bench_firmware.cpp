// Issue 4 benchmark: firmware archive of the python-unit template at a commit. A = the real
// backend's `GET /units/firmware/tgz/{uuid}?wbits=W&level=9` over one keep-alive connection
// (checkout of the commit, .pepeignore, env.json + schema.json, tar, deflate; full response
// received). B = the same-run baseline `git -C <bare repo> archive <commit> | gzip -9` of the
// same commit. A and B are interleaved (ABBA order) after a warm-up (performance_anchors.md §5);
// one JSON line per wbits variant: median/p99/IQR in ms per archive, ratio A/B, bytes of each.
// Args: [repetitions=41] [warmup=5].
#include <sched.h>
#include <unistd.h>
#include <zlib.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/bench_common.hpp"
#include "integration/harness/api_fixtures.hpp"
#include "integration/harness/git_fixtures.hpp"
#include "integration/harness/http_client.hpp"
#include "integration/harness/stack.hpp"

namespace {

namespace fs = std::filesystem;
namespace testing = pepeunit::testing;
using nlohmann::json;
using steady = std::chrono::steady_clock;

double msSince(steady::time_point start) {
  return std::chrono::duration<double, std::milli>(steady::now() - start).count();
}

/// Runs a shell pipeline and returns everything it writes to stdout (binary-safe).
std::string pipeOutput(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) {
    throw std::runtime_error("cannot run: " + cmd);
  }
  std::string out;
  std::array<char, 65536> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe.get())) > 0) {
    out.append(buf.data(), n);
  }
  return out;
}

/// Inflates a whole zlib/gzip/raw stream with `wbits` (proves A's body is a complete archive).
std::string inflateAll(const std::string& data, int wbits) {
  z_stream zs{};
  if (inflateInit2(&zs, wbits) != Z_OK) {
    throw std::runtime_error("inflateInit2 failed");
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  std::array<char, 65536> buf{};
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf.data());
    zs.avail_out = static_cast<uInt>(buf.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      throw std::runtime_error("archive does not inflate (zlib rc " + std::to_string(rc) + ")");
    }
    out.append(buf.data(), buf.size() - zs.avail_out);
  }
  if (zs.avail_in != 0) {
    throw std::runtime_error("trailing bytes after the deflate stream");
  }
  return out;
}

/// cpu totals from /proc/stat: {all jiffies, steal jiffies}.
std::pair<long long, long long> cpuJiffies() {
  std::ifstream in("/proc/stat");
  std::string label;
  in >> label;
  long long total = 0;
  long long steal = 0;
  long long v = 0;
  for (int i = 0; i < 8 && in >> v; ++i) {  // user nice system idle iowait irq softirq steal
    total += v;
    if (i == 7)
      steal = v;
  }
  return {total, steal};
}

/// The 1-minute load average: other work on this 2-core box shows up here, not in steal.
double loadAverage() {
  std::ifstream in("/proc/loadavg");
  double one = 0;
  in >> one;
  return one;
}

struct Variant {
  int wbits;
  int level;
};

struct Samples {
  std::vector<double> a_ms;
  std::vector<double> b_ms;
  size_t a_bytes = 0;
  size_t b_bytes = 0;
};

json summary(const std::vector<double>& v) {
  return {{"p25_ms", pepeunit::bench::percentile(v, 25)},
          {"p75_ms", pepeunit::bench::percentile(v, 75)},
          {"iqr_ms", pepeunit::bench::percentile(v, 75) - pepeunit::bench::percentile(v, 25)},
          {"min_ms", pepeunit::bench::percentile(v, 0)},
          {"max_ms", pepeunit::bench::percentile(v, 100)}};
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = argc > 1 ? std::atoi(argv[1]) : 41;
  const int warmup = argc > 2 ? std::atoi(argv[2]) : 5;
  try {
    testing::Stack stack;
    testing::HttpClient http("127.0.0.1", stack.backend().port());
    const auto owner = testing::registerAndLogin(http, "bench_fw_owner");
    const auto headers = testing::authHeader(owner.token);

    const fs::path git_dir = stack.dir() / "bench_git";
    fs::create_directories(git_dir);
    testing::TemplateRepoSpec spec;
    spec.name = "py";
    spec.template_name = "python-unit";
    const auto repo = testing::createLocalTemplateRepo(git_dir, spec);
    const std::string commit = repo.main_commits.at(0);
    const auto repo_uuid = testing::createRepo(http, owner.token, "bench_fw_repo", repo.fileUrl());

    const auto created = http.post(testing::apiPath("/units"),
                                   json{{"repo_uuid", repo_uuid},
                                        {"visibility_level", "Public"},
                                        {"name", "bench_fw_unit"},
                                        {"is_auto_update_from_repo_unit", false},
                                        {"repo_branch", "main"},
                                        {"repo_commit", commit}},
                                   headers);
    testing::expectStatus(created, 201, "POST /units");
    const auto unit = created.json()["uuid"].get<std::string>();
    const json user_env{{"DELAY_PUB_MSG", 2}, {"START_VALUE", "1"}};
    testing::expectStatus(http.patch(testing::apiPath("/units/env/" + unit),
                                     json{{"env_json_string", user_env.dump()}}, headers),
                          204, "PATCH /units/env");

    // The uncompressed sizes of both sides (once, outside the timing).
    const auto tar = http.get(testing::apiPath("/units/firmware/tar/" + unit), headers);
    testing::expectStatus(tar, 200, "GET /units/firmware/tar");
    const std::string git_cmd = "git -C '" + repo.bare_dir.string() + "' archive " + commit;
    const size_t git_tar_bytes = pipeOutput(git_cmd).size();
    const std::string baseline_cmd = git_cmd + " | gzip -9";

    // §5 rule 3: backend (all its threads) on core 0, this process and its git/gzip on core 1.
    bool pinned = false;
    if (sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
      const auto pid = std::to_string(stack.backend().process().pid());
      pinned = std::system(("taskset -a -p -c 0 " + pid + " >/dev/null").c_str()) == 0;
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(1, &set);
      pinned = pinned && sched_setaffinity(0, sizeof(set), &set) == 0;
    }

    const std::vector<Variant> variants = {{9, 9}, {31, 9}};
    for (const auto& variant : variants) {
      const std::string path = testing::apiPath("/units/firmware/tgz/" + unit +
                                                "?wbits=" + std::to_string(variant.wbits) +
                                                "&level=" + std::to_string(variant.level));
      Samples s;
      auto runA = [&](bool record) {
        const auto start = steady::now();
        const auto response = http.get(path, headers);
        const double ms = msSince(start);
        testing::expectStatus(response, 200, "GET " + path);
        if (response.header("content-length") != std::to_string(response.body.size())) {
          throw std::runtime_error("short firmware body");
        }
        if (record)
          s.a_ms.push_back(ms);
        if (s.a_bytes == 0) {
          const auto inflated = inflateAll(response.body, variant.wbits);
          if (inflated.size() != tar.body.size() || inflated.compare(0, 2, "./") != 0) {
            throw std::runtime_error("inflated archive is not the unit's tar");
          }
        }
        s.a_bytes = response.body.size();
      };
      auto runB = [&](bool record) {
        const auto start = steady::now();
        const auto out = pipeOutput(baseline_cmd);
        const double ms = msSince(start);
        if (out.size() < 18 || static_cast<unsigned char>(out[0]) != 0x1f ||
            static_cast<unsigned char>(out[1]) != 0x8b) {
          throw std::runtime_error("git archive | gzip produced no gzip stream");
        }
        if (record)
          s.b_ms.push_back(ms);
        s.b_bytes = out.size();
      };

      for (int i = 0; i < warmup; ++i) {
        runA(false);
        runB(false);
      }
      const auto cpu_before = cpuJiffies();
      for (int i = 0; i < reps; ++i) {
        if (i % 2 == 0) {  // ABBA: neither side always runs first
          runA(true);
          runB(true);
        } else {
          runB(true);
          runA(true);
        }
      }
      const auto cpu_after = cpuJiffies();
      const long long total = cpu_after.first - cpu_before.first;
      const double steal_pct =
          total > 0 ? 100.0 * static_cast<double>(cpu_after.second - cpu_before.second) /
                          static_cast<double>(total)
                    : 0;

      json extra{{"p50", pepeunit::bench::median(s.a_ms)},
                 {"bytes", s.a_bytes},
                 {"baseline_bytes", s.b_bytes},
                 {"tar_bytes", tar.body.size()},
                 {"baseline_tar_bytes", git_tar_bytes},
                 {"baseline_p99", pepeunit::bench::percentile(s.b_ms, 99)},
                 {"a", summary(s.a_ms)},
                 {"b", summary(s.b_ms)},
                 {"steal_pct", steal_pct},
                 {"loadavg_1m", loadAverage()},
                 {"discard", steal_pct > 10.0},
                 {"pinned", pinned}};
      pepeunit::bench::report("issue4_firmware_tgz_vs_git_archive_gzip",
                              {{"template", "python-unit"},
                               {"wbits", variant.wbits},
                               {"level", variant.level},
                               {"repetitions", reps},
                               {"warmup", warmup},
                               {"baseline", "git archive <commit> | gzip -9"}},
                              pepeunit::bench::median(s.a_ms),
                              pepeunit::bench::percentile(s.a_ms, 99), "ms",
                              pepeunit::bench::median(s.b_ms), extra);
      if (steal_pct > 10.0) {
        std::cerr << "bench_firmware: steal " << steal_pct << "% > 10%: discard this run\n";
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_firmware: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
