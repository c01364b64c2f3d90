// Shared benchmark plumbing: wrk runs, percentiles and the one-JSON-line report format
// (performance_anchors.md §5: baseline measured in the same run, interleaved, median of runs).
#pragma once

#include <sched.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace pepeunit::bench {

inline std::string runCommand(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe)
    throw std::runtime_error("cannot run: " + cmd);
  std::string out;
  std::array<char, 4096> buf{};
  while (fgets(buf.data(), buf.size(), pipe.get()))
    out += buf.data();
  return out;
}

inline std::string gitCommit() {
  std::string c = runCommand("git -C " PEPEUNIT_SOURCE_DIR " rev-parse --short HEAD 2>/dev/null");
  c.erase(std::remove(c.begin(), c.end(), '\n'), c.end());
  return c.empty() ? "unknown" : c;
}

inline double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

inline double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  const auto idx = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

/// One wrk run: requests/s and latency percentiles in milliseconds.
struct WrkResult {
  double rps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  long errors = 0;
};

inline double toMs(const std::string& value, const std::string& unit) {
  const double v = std::stod(value);
  if (unit == "us")
    return v / 1000.0;
  if (unit == "s")
    return v * 1000.0;
  return v;  // ms
}

inline WrkResult runWrk(const std::string& url, int connections, int seconds,
                        const std::string& extra = "") {
  const std::string out =
      runCommand("wrk -t1 -c" + std::to_string(connections) + " -d" + std::to_string(seconds) +
                 "s --latency " + extra + " '" + url + "' 2>&1");
  WrkResult r;
  std::smatch m;
  if (std::regex_search(out, m, std::regex(R"(Requests/sec:\s+([0-9.]+))")))
    r.rps = std::stod(m[1]);
  if (std::regex_search(out, m, std::regex(R"(\n\s+50%\s+([0-9.]+)(us|ms|s))")))
    r.p50_ms = toMs(m[1], m[2]);
  if (std::regex_search(out, m, std::regex(R"(\n\s+99%\s+([0-9.]+)(us|ms|s))")))
    r.p99_ms = toMs(m[1], m[2]);
  if (std::regex_search(out, m, std::regex(R"(Non-2xx or 3xx responses:\s+([0-9]+))")))
    r.errors += std::stol(m[1]);
  if (r.rps == 0)
    throw std::runtime_error("wrk produced no result:\n" + out);
  return r;
}

inline void report(const std::string& name, const nlohmann::json& params, double median_value,
                   double p99, const std::string& unit, double baseline,
                   const nlohmann::json& extra) {
  nlohmann::json line = {{"name", name},
                         {"params", params},
                         {"unit", unit},
                         {"median", median_value},
                         {"p99", p99},
                         {"baseline", baseline},
                         {"ratio", baseline > 0 ? median_value / baseline : 0},
                         {"git_commit", gitCommit()}};
  for (const auto& [k, v] : extra.items())
    line[k] = v;
  std::cout << line.dump() << std::endl;
}

/// Median, IQR and range of the per-repetition values: what every report shows of a column.
inline nlohmann::json summary(const std::vector<double>& v) {
  return {{"median", median(v)},
          {"iqr", percentile(v, 75) - percentile(v, 25)},
          {"min", v.empty() ? 0 : *std::min_element(v.begin(), v.end())},
          {"max", v.empty() ? 0 : *std::max_element(v.begin(), v.end())}};
}

/// One numeric member of every row, e.g. field(runs, &Run::per_s), for median() and friends.
template <class Row>
std::vector<double> field(const std::vector<Row>& rows, double Row::*member) {
  std::vector<double> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    out.push_back(row.*member);
  }
  return out;
}

/// Pins every thread of `pid` to `cpu`.
inline void pinProcess(pid_t pid, int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks)) {
    sched_setaffinity(static_cast<pid_t>(std::stol(task.path().filename().string())), sizeof set,
                      &set);
  }
}
/// Pins the calling thread; threads started afterwards inherit it.
inline void pinSelf(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  sched_setaffinity(0, sizeof set, &set);
}
inline void unpinSelf() {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c = 0; c < static_cast<int>(std::thread::hardware_concurrency()); ++c) {
    CPU_SET(c, &set);
  }
  sched_setaffinity(0, sizeof set, &set);
}

}  // namespace pepeunit::bench

namespace pepeunit::bench {

/// One fixed-rate `hey` run: achieved rate and latency percentiles in milliseconds.
struct HeyResult {
  double rps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  long ok = 0;
  long total = 0;
};

/// `rate` requests/s in total over `workers` connections for `seconds`.
inline HeyResult runHey(const std::string& url, int rate, int workers, int seconds,
                        const std::string& header = "") {
  const int per_worker = std::max(1, rate / workers);
  std::string cmd = "hey -z " + std::to_string(seconds) + "s -c " + std::to_string(workers) +
                    " -q " + std::to_string(per_worker);
  if (!header.empty())
    cmd += " -H '" + header + "'";
  std::cerr << "bench: " << cmd << " <url>\n";
  const std::string out = runCommand(cmd + " '" + url + "' 2>&1");
  HeyResult r;
  std::smatch m;
  if (std::regex_search(out, m, std::regex(R"(Requests/sec:\s+([0-9.]+))")))
    r.rps = std::stod(m[1]);
  // Latency distribution lines look like "  50% in 0.0004 secs".
  if (std::regex_search(out, m, std::regex(R"(50%+ in ([0-9.]+) secs)")))
    r.p50_ms = std::stod(m[1]) * 1000;
  if (std::regex_search(out, m, std::regex(R"(99%+ in ([0-9.]+) secs)")))
    r.p99_ms = std::stod(m[1]) * 1000;
  static const std::regex status_line(R"(\[(\d{3})\]\s+(\d+) responses)");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), status_line);
       it != std::sregex_iterator(); ++it) {
    const long n = std::stol((*it)[2]);
    r.total += n;
    if ((*it)[1] == "200")
      r.ok += n;
  }
  if (r.rps == 0)
    throw std::runtime_error("hey produced no result:\n" + out);
  return r;
}

}  // namespace pepeunit::bench
