// Unit use cases (pepeunit_backend_spec.md §2.3, §2.4, §6.3, §7.5-§7.7, §8.1, §8.2): create a
// Unit from a Repo at its target version (nodes and permissions from schema_example.json), read,
// list, update (validate, save, raise node visibility, reconcile, send Update), delete; the
// encrypted env (GET/PATCH), target version, generated schema.json, state storage, commands and
// firmware archives. The rules are in domain/; this layer loads the facts and applies them.
//
// Access ("self/creator" of §2.3): secrets (env, state storage, archives that hold the env) are
// read by the creator User or the Unit itself, never by an Admin for someone else's Unit
// (domain::canReadSecrets); env PATCH is the creator User only. Target version, schema and
// commands: the creator, an Admin or the Unit itself.
//
// Deliberate departures from the original:
//  * Every validation that depends on the new target (target version, schema_example.json,
//    env_example.json) runs BEFORE a PATCH is saved, so a rejected PATCH changes nothing.
//  * The node reconcile always runs (the original skipped it when the device already reported
//    the target commit, which leaves stale nodes after switching back and forth); when the nodes
//    already match, the plan is empty and nothing but last_update_datetime is written.
//  * Compilable repos (release assets) are out of scope: Units of such repos are refused with
//    a clear error 6.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "crypto/secret_box.hpp"
#include "domain/access.hpp"
#include "domain/env_file.hpp"
#include "domain/schema_file.hpp"
#include "domain/target_version.hpp"
#include "firmware/archive.hpp"
#include "gitsync/repo_mirror.hpp"
#include "service/access_events.hpp"
#include "service/auth_service.hpp"
#include "service/command_sender.hpp"
#include "service/repo_units_updater.hpp"
#include "store/permission_store.hpp"
#include "store/unit_store.hpp"

namespace pepeunit::service {

/// What the unit use cases read from a Repo's local git mirror. RepoMirror in production
/// (MirrorGitSource); an in-memory fake in unit tests.
class UnitGitSource {
 public:
  virtual ~UnitGitSource() = default;
  virtual std::vector<std::string> branches(const domain::Uuid& repo) = 0;
  /// Newest first, with tags (§7.4).
  virtual std::vector<domain::CommitInfo> commits(const domain::Uuid& repo,
                                                  const std::string& branch) = 0;
  /// nullopt when the commit has no such regular file.
  virtual std::optional<std::string> readFile(const domain::Uuid& repo, const std::string& commit,
                                              const std::string& path) = 0;
  /// Writes the commit's tree into `dest` (never outside it; symlinks are not created).
  virtual void checkout(const domain::Uuid& repo, const std::string& commit,
                        const std::filesystem::path& dest, std::uint64_t max_total_bytes) = 0;
};

/// UnitGitSource over the shared RepoMirror.
class MirrorGitSource : public UnitGitSource {
 public:
  explicit MirrorGitSource(gitsync::RepoMirror& mirror) : mirror_(mirror) {}
  std::vector<std::string> branches(const domain::Uuid& repo) override;
  std::vector<domain::CommitInfo> commits(const domain::Uuid& repo,
                                          const std::string& branch) override;
  std::optional<std::string> readFile(const domain::Uuid& repo, const std::string& commit,
                                      const std::string& path) override;
  void checkout(const domain::Uuid& repo, const std::string& commit,
                const std::filesystem::path& dest, std::uint64_t max_total_bytes) override;

 private:
  gitsync::RepoMirror& mirror_;
};

/// POST /units body (§2.3 UnitCreate).
struct UnitCreate {
  domain::Uuid repo_uuid;
  domain::Visibility visibility_level = domain::Visibility::kPublic;
  std::string name;
  bool is_auto_update_from_repo_unit = true;
  std::optional<std::string> target_firmware_platform;
  std::optional<std::string> repo_branch;
  std::optional<std::string> repo_commit;
};

/// PATCH /units/{uuid} body (§2.3 UnitUpdate): absent fields keep their value; for the
/// nullable text fields an explicit null clears the column (inner nullopt).
struct UnitUpdate {
  std::optional<domain::Visibility> visibility_level;
  std::optional<std::string> name;
  std::optional<bool> is_auto_update_from_repo_unit;
  std::optional<std::optional<std::string>> target_firmware_platform;
  std::optional<std::optional<std::string>> repo_branch;
  std::optional<std::optional<std::string>> repo_commit;
};

/// A built firmware archive and the file name to send it as.
struct FirmwareArchive {
  std::string data;
  /// `<unit uuid>.<zip|tar|tgz>`
  std::string filename;
};

struct UnitServiceOptions {
  /// The reserved env values (BACKEND_DOMAIN, prefixes, MQTT host/port, intervals...).
  domain::InstanceFacts facts;
  /// Scratch space for firmware builds: one fresh directory per request, always removed.
  std::filesystem::path work_dir;
  /// Caps of the checked-out tree and the archive (a hostile repo gets a clear error 5).
  firmware::ArchiveLimits archive_limits;
};

class UnitService : public RepoUnitsUpdater {
 public:
  using Clock = std::function<std::int64_t()>;  // unix seconds

  UnitService(store::UnitStore& units, store::PermissionStore& permissions, UnitGitSource& git,
              const AuthService& auth, const crypto::SecretBox& box, CommandSender& commands,
              UnitServiceOptions options, Clock clock, AccessEvents* events = nullptr);

  /// POST /units (Users and Admins).
  store::Unit create(const domain::Principal& caller, const UnitCreate& request);
  /// GET /units/{uuid} (anyone who can see it).
  store::Unit get(const domain::Principal& caller, const domain::Uuid& uuid);
  /// GET /units: the caller's visibility scope is applied to the Units and to their nodes.
  store::UnitPage list(const domain::Principal& caller, const store::UnitFilter& filter);
  /// PATCH /units/{uuid} (creator or Admin): §8.1, then always an Update command.
  store::Unit update(const domain::Principal& caller, const domain::Uuid& uuid,
                     const UnitUpdate& request);
  /// DELETE /units/{uuid} (creator or Admin).
  void remove(const domain::Principal& caller, const domain::Uuid& uuid);

  /// GET /units/env/{uuid}: the HTTP body (a JSON string for 2024-generation repos, the object
  /// for 2026-generation ones).
  domain::EnvJson env(const domain::Principal& caller, const domain::Uuid& uuid);
  /// PATCH /units/env/{uuid} (creator User only): `{"env_json_string": "<json text>"}`.
  void setEnv(const domain::Principal& caller, const domain::Uuid& uuid,
              const std::string& env_json_string);
  /// GET /units/get_target_version/{uuid}.
  domain::TargetVersion targetVersion(const domain::Principal& caller, const domain::Uuid& uuid);
  /// GET /units/get_current_schema/{uuid}: the HTTP body, encoded like env().
  nlohmann::ordered_json currentSchema(const domain::Principal& caller, const domain::Uuid& uuid);
  /// POST /units/set_state_storage/{uuid}: "" clears it; longer than BACKEND_MAX_CIPHER_LENGTH
  /// is error 12.
  void setStateStorage(const domain::Principal& caller, const domain::Uuid& uuid,
                       const std::string& state);
  /// GET /units/get_state_storage/{uuid}: "" when unset.
  std::string stateStorage(const domain::Principal& caller, const domain::Uuid& uuid);
  /// POST /units/send_command_to_input_base_topic/{uuid}.
  void sendCommand(const domain::Principal& caller, const domain::Uuid& uuid, UnitCommand command);
  /// GET /units/firmware/{zip,tar,tgz}/{uuid} (§7.7). wbits/level are validated first (error
  /// 7) and apply to kTgz only.
  FirmwareArchive firmware(const domain::Principal& caller, const domain::Uuid& uuid,
                           firmware::ArchiveFormat format, int wbits, int level);

  /// §8.2 for the repo use cases: reconcile every auto-updating Unit of `repo`, send Update.
  UnitsUpdateSummary updateAutoUnits(const domain::Uuid& repo) override;

  /// What a target version brings: the validated contract files at that commit.
  struct TargetFiles {
    domain::TargetVersion target;
    domain::SchemaExample schema;
    domain::EnvJson env_example;
    domain::EnvGeneration generation = domain::EnvGeneration::k2024;
  };

  /// §8.4 step 1 for the command sender (service/mqtt_commands.hpp), which is wired to this
  /// through a setter because UnitService itself holds the CommandSender. No access check (the
  /// use case that sends the command did it). nullopt when the Unit or its Repo is gone; throws
  /// like the target computation when the Repo has no usable target.
  std::optional<TargetFiles> currentTargetFiles(const domain::Uuid& unit);

 private:
  store::Unit loadUnit(const domain::Uuid& uuid);
  store::UnitRepoFacts loadRepo(const store::Unit& unit);
  store::UnitRepoFacts loadRepo(const domain::Uuid& repo);
  domain::TargetVersion targetOf(const store::UnitRepoFacts& repo,
                                 const domain::UnitVersionFacts& unit);
  TargetFiles targetFiles(const store::UnitRepoFacts& repo, const domain::UnitVersionFacts& unit);
  std::optional<domain::EnvJson> storedEnv(const store::Unit& unit) const;
  domain::EnvJson generatedValues(const store::Unit& unit, const domain::EnvJson& example);
  nlohmann::ordered_json schemaFor(const store::Unit& unit, const domain::SchemaExample& schema);
  /// §7.6 steps 4-5 computed (nothing written): the node changes and the re-encrypted merged
  /// env (nullopt when unchanged or there is no env). Throws what the merge can throw.
  struct ReconcileStep {
    store::NodeChanges changes;
    std::optional<std::string> new_cipher_env;
  };
  ReconcileStep planReconcile(const store::Unit& unit, const TargetFiles& files,
                              const std::optional<domain::Uuid>& acting_user);
  /// planReconcile + write it (§7.6 steps 4-6 in one transaction).
  void reconcile(const store::Unit& unit, const TargetFiles& files,
                 const std::optional<domain::Uuid>& acting_user);
  bool hasActiveGrant(const domain::Principal& caller, const domain::Uuid& resource);

  store::UnitStore& units_;
  store::PermissionStore& permissions_;
  UnitGitSource& git_;
  const AuthService& auth_;
  const crypto::SecretBox& box_;
  CommandSender& commands_;
  UnitServiceOptions options_;
  Clock clock_;
  AccessEvents* events_;  // may be null
};

}  // namespace pepeunit::service
