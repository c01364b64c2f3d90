// Composition root: the only file that sees every layer. It reads configuration, builds the
// adapters (Postgres pool, Redis pool, MQTT client), injects them into services and routes,
// runs until SIGINT/SIGTERM and stops everything in reverse order.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <thread>

#include "app/config.hpp"
#include "app/logging.hpp"
#include "app/signals.hpp"
#include "bus/mqtt/mqtt_client.hpp"
#include "cache/redis/redis_acl_publisher.hpp"
#include "cache/redis/redis_attempt_counter.hpp"
#include "cache/redis/redis_client.hpp"
#include "common/errors.hpp"
#include "crypto/base64.hpp"
#include "crypto/jwt.hpp"
#include "crypto/random.hpp"
#include "crypto/secret_box.hpp"
#include "gitsync/repo_mirror.hpp"
#include "http/acl_routes.hpp"
#include "http/api.hpp"
#include "http/history_routes.hpp"
#include "http/metrics_routes.hpp"
#include "http/openapi.hpp"
#include "http/permission_routes.hpp"
#include "http/repo_routes.hpp"
#include "http/server.hpp"
#include "http/system_routes.hpp"
#include "http/unit_node_routes.hpp"
#include "http/unit_routes.hpp"
#include "http/user_routes.hpp"
#include "service/acl_service.hpp"
#include "service/auth_service.hpp"
#include "service/command_sender.hpp"
#include "service/history_service.hpp"
#include "service/ingest_service.hpp"
#include "service/metrics_service.hpp"
#include "service/mqtt_commands.hpp"
#include "service/node_value_publisher.hpp"
#include "service/periodic_task.hpp"
#include "service/permission_service.hpp"
#include "service/repo_service.hpp"
#include "service/scheduler.hpp"
#include "service/system_service.hpp"
#include "service/unit_node_service.hpp"
#include "service/unit_service.hpp"
#include "service/user_service.hpp"
#include "store/pg/migrator.hpp"
#include "store/pg/pg_acl_store.hpp"
#include "store/pg/pg_history_store.hpp"
#include "store/pg/pg_ingest_store.hpp"
#include "store/pg/pg_metrics_store.hpp"
#include "store/pg/pg_permission_store.hpp"
#include "store/pg/pg_principal_store.hpp"
#include "store/pg/pg_repo_store.hpp"
#include "store/pg/pg_unit_node_store.hpp"
#include "store/pg/pg_unit_store.hpp"
#include "store/pg/pg_user_store.hpp"
#include "store/pg/pool.hpp"

namespace {

using namespace pepeunit;
using namespace std::chrono_literals;

#ifndef PEPEUNIT_MIGRATIONS_DIR
#define PEPEUNIT_MIGRATIONS_DIR "schemas/sql"
#endif

app::Config loadConfiguration(const std::string& env_file) {
  app::EnvMap file_env;
  if (!env_file.empty()) {
    file_env = app::readEnvFile(env_file);
  } else if (std::filesystem::exists(".env")) {
    file_env = app::readEnvFile(".env");
  }
  return app::loadConfig(app::overlay(file_env, app::processEnvironment()));
}

std::filesystem::path migrationsDir(const app::Config& config) {
  return config.migrations_dir.empty() ? PEPEUNIT_MIGRATIONS_DIR : config.migrations_dir;
}

/// Applies pending migrations, retrying while Postgres is still starting up.
std::vector<int> migrate(const app::Config& config, std::chrono::seconds patience) {
  const store::pg::Migrator migrator(migrationsDir(config));
  store::pg::Pool pool(config.database_url, 1);
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (true) {
    try {
      auto lease = pool.acquire();
      return migrator.run(*lease);
    } catch (const Unavailable& e) {
      if (std::chrono::steady_clock::now() >= deadline)
        throw;
      spdlog::warn("migrate: database not reachable yet, retrying");
      std::this_thread::sleep_for(500ms);
    }
  }
}

/// The backend's own MQTT identity (spec §3.1, with the 2026 "type" claim).
std::string backendToken(const app::Config& config) {
  nlohmann::ordered_json claims;
  claims["domain"] = config.domain;
  claims["type"] = "Backend";
  claims["exp"] = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count() +
                  config.auth_token_expiration;
  return crypto::signJwt(claims, config.secret_key);
}

int runServe(const app::Config& config) {
  app::ShutdownSignal shutdown;  // before any thread starts
  app::setupLogging(config.log_level, config.log_format);
  spdlog::info("pepeunit-backend {} starting, domain {}", PEPEUNIT_VERSION, config.domain);

  if (config.auto_migrate) {
    const auto applied = migrate(config, 30s);
    spdlog::info("migrate: {} migration(s) applied", applied.size());
  }

  store::pg::Pool pg(config.database_url, static_cast<std::size_t>(config.http_threads) + 2);
  const auto redis_url = cache::redis::parseRedisUrl(config.redis_url);
  if (!redis_url)
    throw ConfigError("REDIS_URL", "cannot be parsed");
  cache::redis::RedisPool redis(*redis_url, 4, 300ms);

  bus::mqtt::MqttClient mqtt({.host = config.mqtt_host,
                              .port = config.mqtt_port,
                              .tls = config.mqtt_secure,
                              .ca_file = config.mqtt_ca_file,
                              .client_id = {},
                              .username = backendToken(config),
                              .password = {},
                              .keepalive_s = config.mqtt_keepalive});
  mqtt.start();

  service::SystemService system(
      {PEPEUNIT_VERSION,
       std::string(config.secure ? "https" : "http") + "://" + config.domain + config.app_prefix,
       config.apiBaseLink()},
      {{"postgres", [&pg] { return pg.ping(1000ms); }},
       {"redis", [&redis] { return redis.ping(); }},
       {"mqtt", [&mqtt] { return mqtt.connected(); }}});

  http::HttpServer server({.host = config.http_host,
                           .port = config.http_port,
                           .threads = config.http_threads,
                           .max_request_body = config.max_request_body});
  http::registerSystemRoutes(server.routes(), config.app_prefix, system);

  const auto now_unix = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  store::pg::PgPrincipalStore principals(pg);
  service::AuthService auth(config.secret_key, config.auth_token_expiration, principals, now_unix);
  http::Api api(
      server.routes(), config.app_prefix + config.api_v1_prefix,
      [&auth](const std::optional<std::string>& token) { return auth.authenticate(token); });
  // Broker authorization (issue 6): rule sets for the Mosquitto plugin and the EMQX hook. The
  // use cases below announce every change of access to it (service::AccessEvents), which writes
  // the new rule sets through to Redis and publishes invalidation events for the brokers.
  store::pg::PgAclStore acl_store(pg);
  cache::redis::RedisAclPublisher acl_publisher(redis);
  service::AclService::Options acl_options;
  acl_options.domain = config.domain;
  acl_options.secret_key = config.secret_key;
  acl_options.ttl_s = config.acl_ttl_s;
  acl_options.stale_ttl_s = config.acl_stale_ttl_s;
  acl_options.cache_ttl_s = config.acl_cache_ttl_s;
  acl_options.max_visible_nodes = static_cast<std::size_t>(config.acl_max_visible_nodes);
  service::AclService acl(acl_store, &acl_publisher, acl_options, now_unix);
  // Registered first: httplib tries the routes of a method in registration order, one regex
  // each, and the plugin's are the hot ones.
  http::registerAclRoutes(api, acl, auth, config.plugin_token);
  crypto::SecretBox box(config.encrypt_key, config.max_cipher_length);
  store::pg::PgUserStore user_store(pg);
  cache::redis::RedisAttemptCounter login_attempts(
      redis, std::string(cache::redis::RedisAttemptCounter::kLoginFailurePrefix));
  service::UserService users(user_store, login_attempts, box, auth,
                             {.static_salt = config.static_salt,
                              .login_max_failures = config.login_max_failures,
                              .login_throttle_window_s = config.login_throttle_window_s});
  http::registerUserRoutes(api, users, config.max_pagination_size);
  // Every instance's changes arrive on the events channel; while we hear it, rule sets may be
  // served from memory (AclService cache), otherwise each request reads Postgres.
  cache::redis::RedisSubscriber acl_events(
      *redis_url, {cache::redis::RedisAclPublisher::kDefaultChannel},
      {.on_message = [&acl](std::string_view, std::string_view) { acl.forgetCachedRuleSets(); },
       .on_subscribed = [&acl] { acl.setRemoteInvalidationLive(true); },
       .on_disconnected = [&acl](std::string_view) { acl.setRemoteInvalidationLive(false); }});
  acl_events.start();  // stopped when it goes out of scope, after the HTTP server
  // Time-limited grants lapse without a request: announce them like a revoke, once a second.
  service::PeriodicTask lapsed_grants(1s, [&acl] { acl.announceLapsedGrants(); });
  lapsed_grants.start();
  service::AccessEventsFanOut access_events;  // the ingest joins below, before anything runs
  access_events.add(&acl);
  store::pg::PgPermissionStore permission_store(pg);
  service::PermissionService permissions(permission_store, now_unix, &access_events);
  http::registerPermissionRoutes(api, permissions, config.max_pagination_size);
  store::pg::PgMetricsStore metrics_store(pg);
  service::MetricsService metrics(metrics_store);
  http::registerMetricsRoutes(api, metrics);
  // Shared by the repo, unit and node use cases: commands go out over MQTT (§8.4, QoS 0, no
  // retain). The sender needs the UnitService's target computation while the UnitService needs
  // the sender: the lookup is set right after the UnitService exists (setTargetLookup below).
  gitsync::RepoMirror mirror(config.save_repo_path, config.allow_local_repos);
  const service::PublishFunction mqtt_publish = [&mqtt](std::string topic, std::string payload) {
    return mqtt.publish(topic, payload, 0, false);
  };
  store::pg::PgUnitStore unit_store(pg);
  service::MqttCommandSender commands(config.domain, mqtt_publish, unit_store, [] {
    return std::chrono::time_point_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now());
  });
  // Units (§2.3, §2.4, §7.7). Firmware archives are built in the system temp dir (TMPDIR),
  // one scratch directory per request, always removed.
  service::MirrorGitSource unit_git(mirror);
  service::UnitService unit_service(unit_store, permission_store, unit_git, auth, box, commands,
                                    {.facts = {.domain = config.domain,
                                               .secure = config.secure,
                                               .app_prefix = config.app_prefix,
                                               .api_prefix = config.api_v1_prefix,
                                               .mqtt_host = config.mqtt_host,
                                               .mqtt_port = config.mqtt_port,
                                               .ping_interval = 30,
                                               .mqtt_keepalive = config.mqtt_keepalive,
                                               .state_send_interval = config.state_send_interval},
                                     .work_dir = std::filesystem::temp_directory_path(),
                                     .archive_limits = {}},
                                    now_unix, &access_events);
  commands.setTargetLookup(
      [&unit_service](const domain::Uuid& unit) -> std::optional<service::CommandTarget> {
        auto files = unit_service.currentTargetFiles(unit);
        if (!files)
          return std::nullopt;
        return service::CommandTarget{files->target.commit, std::move(files->schema)};
      });
  http::registerUnitRoutes(api, unit_service, config.max_pagination_size);
  // Repos (§2.2) and the repo scheduler (§8.3); repo-driven unit updates go to the UnitService.
  store::pg::PgRepoStore repo_store(pg);
  const auto max_repo_size_bytes =
      static_cast<std::uint64_t>(config.max_external_repo_size_mib) * 1024 * 1024;
  service::RepoScheduler repo_scheduler(
      repo_store, mirror, box, unit_service,
      {.interval = std::chrono::seconds(config.repo_sync_interval_s),
       .max_repo_size_bytes = max_repo_size_bytes});
  service::RepoService repo_service(
      repo_store, permission_store, mirror, box, unit_service,
      [&repo_scheduler] { repo_scheduler.requestPass(); }, now_unix,
      {.allow_local_repos = config.allow_local_repos, .max_repo_size_bytes = max_repo_size_bytes});
  http::registerRepoRoutes(api, repo_service, config.max_pagination_size);
  store::pg::PgUnitNodeStore unit_node_store(pg);
  // Values set through the API go to the node's topic (the ingest then stores them like any
  // other `D/<node>/pepeunit` value).
  service::MqttNodeValuePublisher node_values(config.domain, mqtt_publish);
  service::UnitNodeService unit_nodes(unit_node_store, permission_store, commands, node_values,
                                      now_unix, &access_events);
  http::registerUnitNodeRoutes(api, unit_nodes, config.max_pagination_size);
  // Value history, aggregates and unit logs (issue 5): read back what the ingest stored.
  store::pg::PgHistoryStore history_store(pg);
  service::HistoryService history(history_store, unit_node_store, unit_nodes, [] {
    return std::chrono::time_point_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now());
  });
  http::registerHistoryRoutes(api, history, config.max_pagination_size);
  // MQTT ingest (§5.3, §5.4, §8.5): values, states and logs from the bus into Postgres over its
  // own small pool, so a burst of values never waits behind HTTP requests (or starves them).
  store::pg::Pool ingest_pg(config.database_url, 2);
  store::pg::PgIngestStore ingest_store(ingest_pg);
  service::IngestService ingest(ingest_store,
                                {.domain = config.domain,
                                 .max_payload_size = config.mqtt_max_payload_size,
                                 .state_interval = std::chrono::seconds(config.state_send_interval),
                                 .log_ttl = std::chrono::seconds(config.unit_log_expiration_s)});
  service::IngestNodeSync ingest_nodes(ingest);
  access_events.add(&ingest_nodes);
  ingest.start();          // stopped before the MQTT client on shutdown
  repo_scheduler.start();  // stopped before the HTTP server on shutdown
  mqtt.setMessageHandler(
      [&ingest](std::string topic, std::string payload) { ingest.onMessage(topic, payload); });
  {
    const std::string prefix =
        config.mqtt_shared_subscriptions ? "$share/" + config.mqtt_share_group + "/" : "";
    mqtt.subscribe(prefix + config.domain + "/+/pepeunit", 0);
    mqtt.subscribe(prefix + config.domain + "/+/+/+/pepeunit", 0);
  }
  http::registerOpenApiRoute(api);
  // A route without documentation (or a stale document) is a build defect: refuse to start.
  if (const auto mismatches = http::openApiMismatches(api.routes(), http::openApiDocument());
      !mismatches.empty()) {
    std::string list;
    for (const auto& m : mismatches)
      list += (list.empty() ? "" : "; ") + m;
    throw std::runtime_error("schemas/openapi.yaml is out of step with the routes: " + list);
  }
  server.start();

  const int sig = shutdown.wait();
  spdlog::info("received signal {}, stopping", sig);
  repo_scheduler.stop();
  server.stop();
  mqtt.setMessageHandler({});
  ingest.stop();
  mqtt.stop();
  spdlog::info("stopped");
  return 0;
}

int runMigrate(const app::Config& config) {
  app::setupLogging(config.log_level, config.log_format);
  const auto applied = migrate(config, 10s);
  if (applied.empty()) {
    std::cout << "database schema is up to date\n";
  } else {
    for (int v : applied)
      std::cout << "applied migration " << v << "\n";
  }
  return 0;
}

int runGenSecrets() {
  std::cout << "BACKEND_SECRET_KEY=" << crypto::base64UrlEncode(crypto::randomBytes(32)) << "\n"
            << "BACKEND_ENCRYPT_KEY=" << crypto::base64Encode(crypto::randomBytes(32)) << "\n"
            << "BACKEND_STATIC_SALT=" << crypto::base64UrlEncode(crypto::randomBytes(24)) << "\n"
            << "BACKEND_PLUGIN_TOKEN=" << crypto::base64UrlEncode(crypto::randomBytes(32)) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"Pepeunit C++ backend"};
  std::string env_file;
  cli.add_option("--env-file", env_file, "read variables from this file (default: ./.env if any)");
  auto* serve = cli.add_subcommand("serve", "run the REST API, MQTT ingest and scheduler");
  auto* migrate_cmd = cli.add_subcommand("migrate", "apply pending database migrations and exit");
  auto* gen = cli.add_subcommand("gen-secrets", "print fresh BACKEND_* secrets as KEY=VALUE");
  for (auto* sub : {serve, migrate_cmd}) {
    sub->add_option("--env-file", env_file, "read variables from this file");
  }
  cli.require_subcommand(1);
  CLI11_PARSE(cli, argc, argv);

  try {
    if (gen->parsed())
      return runGenSecrets();
    const app::Config config = loadConfiguration(env_file);
    if (migrate_cmd->parsed())
      return runMigrate(config);
    return runServe(config);
  } catch (const ConfigError& e) {
    std::cerr << "configuration error: " << e.what() << "\n";
    return 2;
  } catch (const store::pg::MigrationError& e) {
    std::cerr << "migration error: " << e.what() << "\n";
    return 3;
  } catch (const Error& e) {
    std::cerr << "error: " << e.detail() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
