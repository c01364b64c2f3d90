// B6 (performance_anchors.md §5): the backend's endpoints for the broker plugin, the rule-set
// endpoint `POST /pepeunit/api/v1/mqtt/acl/rules` (bearer BACKEND_PLUGIN_TOKEN, body
// {"principal":…}) and the single-decision `POST …/mqtt/acl/check` (body {"principal","action",
// "topic"}: JSON parse + policy lookup; read checks of the visible nodes, rotating), under wrk with
// keep-alive at 1 and 8 connections, against the trivial `GET /ping` of the same backend process,
// interleaved for `reps` repetitions. The principals rotate over 100 units of a realistic shape
// (own Output and Input, one linked Output, 10 visible Public nodes: 28 rules; served from the
// backend's rule-set cache after the first request of each principal). The backend is pinned to CPU
// 0 and wrk to CPU 1; Postgres is not pinned (it serves each principal's first request). Fails when
// a response is not 2xx or when the c=1 median latency shows Nagle/delayed-ACK stalls (≥ 5 ms).
//
// Usage: bench_backend_acl_http [reps=7] [seconds=2]
// B6_ACL_CACHE_TTL=0 turns the backend's rule-set cache off (every request reads Postgres).
#include <sched.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <pqxx/pqxx>

#include "bench/bench_common.hpp"
#include "crypto/random.hpp"
#include "integration/harness/stack.hpp"

using pepeunit::bench::summary;

namespace {

constexpr int kUnits = 100;
constexpr int kVisible = 10;

}  // namespace

int main(int argc, char** argv) {
  using pepeunit::bench::median;
  const int reps = argc > 1 ? std::stoi(argv[1]) : 7;
  const int seconds = argc > 2 ? std::stoi(argv[2]) : 2;
  try {
    const std::string token = pepeunit::crypto::randomToken(32);
    pepeunit::testing::StackOptions options;
    options.start_backend = true;
    options.backend_env_overrides["BACKEND_PLUGIN_TOKEN"] = token;
    options.backend_env_overrides["BACKEND_LOG_LEVEL"] = "warn";
    if (const char* ttl = std::getenv("B6_ACL_CACHE_TTL")) {  // 0: every request reads Postgres
      options.backend_env_overrides["BACKEND_ACL_CACHE_TTL"] = ttl;
    }
    pepeunit::testing::Stack stack(options);

    std::vector<std::string> units;
    std::vector<std::string> visible;
    {
      pqxx::connection c(stack.pg().url());
      pqxx::work tx(c);
      const auto user =
          tx.exec1(
                "INSERT INTO users (role, status, login, hashed_password, cipher_dynamic_salt)"
                " VALUES ('User', 'Verified', 'bench_b6', 'x', 'x') RETURNING uuid::text")[0]
              .as<std::string>();
      const auto repo = tx.exec_params1(
                              "INSERT INTO repos (name, repo_url, creator_uuid) VALUES ('b6',"
                              " 'https://example.com/r.git', $1) RETURNING uuid::text",
                              user)[0]
                            .as<std::string>();
      for (const auto& row :
           tx.exec_params("INSERT INTO units (name, creator_uuid, repo_uuid) SELECT 'b6_' || i,"
                          " $1, $2 FROM generate_series(0, $3) i ORDER BY i RETURNING uuid::text",
                          user, repo, kUnits)) {
        units.push_back(row[0].as<std::string>());
      }
      const std::string publisher = units.back();  // owns the visible nodes
      units.pop_back();
      const auto node = [&](const std::string& unit, const char* type, const char* level) {
        return tx
            .exec_params1(
                "INSERT INTO units_nodes (type, visibility_level, topic_name, creator_uuid,"
                " unit_uuid) VALUES ($1, $2, 'n/pepeunit', $3, $4) RETURNING uuid::text",
                type, level, user, unit)[0]
            .as<std::string>();
      };
      for (int v = 0; v < kVisible; ++v) {
        visible.push_back(node(publisher, "Output", "Public"));
      }
      std::vector<std::string> outputs, inputs;
      for (const auto& unit : units) {
        outputs.push_back(node(unit, "Output", "Private"));
        inputs.push_back(node(unit, "Input", "Private"));
      }
      for (std::size_t i = 0; i < units.size(); ++i) {
        tx.exec_params(
            "INSERT INTO units_nodes_edges (node_output_uuid, node_input_uuid, creator_uuid)"
            " VALUES ($1, $2, $3)",
            outputs[i], inputs[(i + 1) % units.size()], user);
      }
      tx.commit();
    }

    const std::string base = stack.backend().baseUrl();
    // Both plugin endpoints: the bearer header and the principals rotate the same way; the
    // check endpoint also rotates the visible nodes' topics.
    const auto write_plugin_script = [&](const std::filesystem::path& path, bool check) {
      std::ofstream lua(path);
      lua << "wrk.method = \"POST\"\n"
          << "wrk.headers[\"Authorization\"] = \"Bearer " << token << "\"\n"
          << "wrk.headers[\"Content-Type\"] = \"application/json\"\n"
          << "local principals = {\n";
      for (const auto& unit : units) {
        lua << "  \"unit:" << unit << "\",\n";
      }
      lua << "}\nlocal topics = {\n";
      for (const auto& node : visible) {
        lua << "  \"" << stack.domain() << "/" << node << "/pepeunit\",\n";
      }
      lua << "}\n"
          << "local i = 0\n"
          << "request = function()\n"
          << "  i = i + 1\n"
          << "  return wrk.format(nil, nil, nil, '{\"principal\":\"' .. principals[(i % "
             "#principals) + 1] .. '\"";
      if (check) {
        lua << ",\"action\":\"read\",\"topic\":\"' .. topics[(i % #topics) + 1] .. '\"";
      }
      lua << "}')\nend\n";
    };
    const std::filesystem::path script = stack.dir() / "acl_rules.lua";
    const std::filesystem::path check_script = stack.dir() / "acl_check.lua";
    write_plugin_script(script, false);
    write_plugin_script(check_script, true);
    // The baseline pays the same generator cost: one Lua-formatted request each time. Without
    // it wrk's per-request Lua, not the backend, would set the rule-set figure (the backend ran
    // at ~0.3 of a core while wrk was saturated).
    const std::filesystem::path ping_script = stack.dir() / "ping.lua";
    {
      std::ofstream lua(ping_script);
      lua << "local i = 0\n"
          << "request = function()\n"
          << "  i = i + 1\n"
          << "  return wrk.format(\"GET\", \"/ping\")\n"
          << "end\n";
    }
    const std::string ping_prefix = "-s " + ping_script.string();
    const std::string acl_url = base + "/pepeunit/api/v1/mqtt/acl/rules";
    const std::string check_url = base + "/pepeunit/api/v1/mqtt/acl/check";
    const std::string ping_url = base + "/ping";
    // One real answer first: the endpoint is configured and the rule set has the expected size.
    {
      const auto out = pepeunit::bench::runCommand(
          "curl -s -X POST -H 'Authorization: Bearer " + token +
          "' -H 'Content-Type: application/json' -d '{\"principal\":\"unit:" + units[0] + "\"}' '" +
          acl_url + "'");
      const auto body = nlohmann::json::parse(out, nullptr, false);
      if (!body.is_object() || !body.contains("rules") ||
          body["rules"].size() != static_cast<std::size_t>(2 + 2 * (2 + 1 + kVisible))) {
        throw std::runtime_error("unexpected rule set: " + out);
      }
      const auto decision = pepeunit::bench::runCommand(
          "curl -s -X POST -H 'Authorization: Bearer " + token +
          "' -H 'Content-Type: application/json' -d '{\"principal\":\"unit:" + units[0] +
          "\",\"action\":\"read\",\"topic\":\"" + stack.domain() + "/" + visible[0] +
          "/pepeunit\"}' '" + check_url + "'");
      if (nlohmann::json::parse(decision, nullptr, false).value("result", "") != "allow") {
        throw std::runtime_error("unexpected decision: " + decision);
      }
    }
    pepeunit::bench::pinProcess(stack.backend().process().pid(), 0);
    const std::string wrk_prefix = "-s " + script.string();
    {
      // wrk inherits this process's affinity.
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(1, &set);
      sched_setaffinity(0, sizeof set, &set);
    }
    const auto wrk = [&](const std::string& url, int connections, const std::string& extra) {
      return pepeunit::bench::runWrk(url, connections, seconds, extra);
    };
    wrk(acl_url, 8, wrk_prefix);  // warm-up (connection pools, plan caches)
    bool ok = true;
    struct Endpoint {
      std::string name;  // "" for the rule-set endpoint (its report names predate the check)
      std::string url;
      std::string script;
    };
    const Endpoint endpoints[] = {{"", acl_url, wrk_prefix},
                                  {"check.", check_url, "-s " + check_script.string()}};
    for (const auto& endpoint : endpoints)
      for (const int connections : {1, 8}) {
        std::vector<double> acl_rps, acl_p50, acl_p99, ping_rps, ping_p50, ping_p99;
        long errors = 0;
        for (int r = 0; r < reps; ++r) {
          pepeunit::bench::WrkResult a, b;
          if (r % 2 == 0) {
            a = wrk(endpoint.url, connections, endpoint.script);
            b = wrk(ping_url, connections, ping_prefix);
          } else {
            b = wrk(ping_url, connections, ping_prefix);
            a = wrk(endpoint.url, connections, endpoint.script);
          }
          errors += a.errors + b.errors;
          acl_rps.push_back(a.rps);
          acl_p50.push_back(a.p50_ms);
          acl_p99.push_back(a.p99_ms);
          ping_rps.push_back(b.rps);
          ping_p50.push_back(b.p50_ms);
          ping_p99.push_back(b.p99_ms);
          std::cerr << "bench_backend_acl_http: c=" << connections << " rep " << r << ": "
                    << (endpoint.name.empty() ? "rules " : "check ") << a.rps << " req/s p50 "
                    << a.p50_ms << " ms p99 " << a.p99_ms << " ms; ping " << b.rps << " req/s p99 "
                    << b.p99_ms << " ms\n";
        }
        const bool nagle_free = connections != 1 || median(acl_p50) < 5.0;
        ok = ok && errors == 0 && nagle_free;
        pepeunit::bench::report(
            "bench_backend_acl_http." + endpoint.name + "c" + std::to_string(connections),
            {{"connections", connections},
             {"seconds", seconds},
             {"reps", reps},
             {"principals", units.size()},
             {"rules_per_set", 2 + 2 * (2 + 1 + kVisible)},
             {"pinned", "backend cpu0, wrk cpu1, postgres unpinned"}},
            median(acl_rps), median(acl_p99), "req/s", median(ping_rps),
            {{"endpoint_rps", summary(acl_rps)},
             {"endpoint", endpoint.url.substr(base.size())},
             {"ping_rps", summary(ping_rps)},
             {"p50_ms", median(acl_p50)},
             {"p99_ms", median(acl_p99)},
             {"ping_p50_ms", median(ping_p50)},
             {"ping_p99_ms", median(ping_p99)},
             {"non_2xx", errors},
             {"nagle_free", nagle_free},
             {"baseline_name", "GET /ping, same process, same Lua request formatting"}});
      }
    if (!ok) {
      std::cerr << "bench_backend_acl_http: errors or Nagle-like latency\n";
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_backend_acl_http: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
