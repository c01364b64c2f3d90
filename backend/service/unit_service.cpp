// Unit use cases; see unit_service.hpp for the rules and the departures from the original.
#include "service/unit_service.hpp"

#include <spdlog/spdlog.h>

#include <map>
#include <span>
#include <system_error>
#include <utility>

#include "common/errors.hpp"
#include "crypto/random.hpp"
#include "domain/names.hpp"
#include "domain/reconcile.hpp"
#include "firmware/pepeignore.hpp"

namespace pepeunit::service {
namespace {

using domain::EnvJson;
using domain::Principal;
using domain::Role;
using domain::Uuid;

constexpr const char* kNoObject = "The object does not exist";
constexpr const char* kSchemaFile = "schema_example.json";
constexpr const char* kEnvFile = "env_example.json";

/// The CSPRNG behind the reserved keys (SYNC_ENCRYPT_KEY, PU_SECRET_KEY, ...).
class CryptoRandom : public domain::RandomSource {
 public:
  void fill(std::span<std::uint8_t> out) override {
    const auto bytes = crypto::randomBytes(out.size());
    std::copy(bytes.begin(), bytes.end(), out.begin());
  }
};

/// A fresh scratch directory, removed with everything in it when the owner goes away (also
/// when the build throws), so no request leaves files behind.
class ScratchDir {
 public:
  explicit ScratchDir(const std::filesystem::path& parent) {
    std::filesystem::create_directories(parent);
    path_ = parent / ("pepeunit-firmware-" + crypto::randomAlphanumeric(16));
    if (!std::filesystem::create_directory(path_)) {
      throw Error(ErrorKind::kInternal, "Internal server error",
                  "firmware scratch dir exists: " + path_.string());
    }
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// The `access_check([User, Admin], is_unit_available=False)` gate with the original's messages.
void requireUserOrAdmin(const Principal& caller) {
  if (domain::roleAllowed(caller, {Role::kUser, Role::kAdmin}, /*unit_allowed=*/false)) {
    return;
  }
  if (caller.isUnit()) {
    throw NoAccess("The resource is not available for the current Unit");
  }
  if (caller.isBlocked()) {
    throw NoAccess("User is Blocked");
  }
  throw NoAccess("The current user role is not in the list of available roles");
}

/// The message for a caller that is neither the Unit's creator nor the Unit itself.
[[noreturn]] void denyNotOwner(const Principal& caller) {
  if (caller.isUnit()) {
    throw NoAccess("The resource is not available for the current Unit");
  }
  if (caller.isBot()) {
    throw NoAccess("The current user role is not in the list of available roles");
  }
  if (caller.isBlocked()) {
    throw NoAccess("User is Blocked");
  }
  throw NoAccess("The current user is not the creator of this Unit");
}

Uuid creatorOf(const store::Unit& unit) {
  // A Unit without a creator (imported data) is managed by Admins only.
  return unit.creator_uuid.value_or(Uuid{});
}

bool isSelf(const Principal& caller, const store::Unit& unit) {
  return caller.isUnit() && caller.uuid == unit.uuid;
}

/// Creator, Admin or the Unit itself: target version, schema, commands.
void requireManagerOrSelf(const Principal& caller, const store::Unit& unit) {
  if (isSelf(caller, unit) || domain::canManage(caller, creatorOf(unit))) {
    return;
  }
  denyNotOwner(caller);
}

void requireSecretReader(const Principal& caller, const store::Unit& unit) {
  if (domain::canReadSecrets(caller, creatorOf(unit), unit.uuid)) {
    return;
  }
  denyNotOwner(caller);
}

void requireName(const std::string& name) {
  if (!domain::isValidName(name)) {
    throw Error(ErrorKind::kUnitValidation, "Name is not correct");
  }
}

void requireNotCompilable(const store::UnitRepoFacts& repo) {
  if (repo.is_compilable_repo) {
    throw Error(ErrorKind::kRepoValidation,
                "Compilable repos (firmware from release assets) are not supported by this "
                "instance");
  }
}

void requireChildVisibility(domain::Visibility parent, domain::Visibility child) {
  if (domain::childVisibilityAllowed(parent, child)) {
    return;
  }
  throw ValidationError("The visibility level of the parent object Repo (" +
                        std::string(toString(parent)) +
                        ") is more restrictive than the visibility level of the Unit (" +
                        std::string(toString(child)) + ")");
}

domain::RepoVersionFacts versionFacts(const store::UnitRepoFacts& repo) {
  return {repo.is_auto_update_repo, repo.is_compilable_repo, repo.is_only_tag_update,
          repo.default_branch, repo.default_commit};
}

domain::UnitVersionFacts versionFacts(const store::Unit& unit) {
  return {unit.is_auto_update_from_repo_unit, unit.repo_branch, unit.repo_commit};
}

std::vector<domain::ExistingNode> existingNodes(const std::vector<store::UnitNode>& nodes) {
  std::vector<domain::ExistingNode> out;
  out.reserve(nodes.size());
  for (const auto& node : nodes) {
    out.push_back({node.type, node.topic_name, node.uuid});
  }
  return out;
}

/// Users granted the new nodes: the Unit's creator (owner) and the acting user when another.
std::vector<Uuid> grantedUsers(const std::optional<Uuid>& creator,
                               const std::optional<Uuid>& acting_user) {
  std::vector<Uuid> users;
  if (creator) {
    users.push_back(*creator);
  }
  if (acting_user && acting_user != creator) {
    users.push_back(*acting_user);
  }
  return users;
}

std::string extensionOf(firmware::ArchiveFormat format) {
  return std::string(firmware::toString(format));
}

}  // namespace

// ---- MirrorGitSource --------------------------------------------------------------------------

std::vector<std::string> MirrorGitSource::branches(const Uuid& repo) {
  return mirror_.branches(repo);
}

std::vector<domain::CommitInfo> MirrorGitSource::commits(const Uuid& repo,
                                                         const std::string& branch) {
  std::vector<domain::CommitInfo> out;
  for (auto& commit : mirror_.commits(repo, branch)) {
    out.push_back({std::move(commit.commit), std::move(commit.tag)});
  }
  return out;
}

std::optional<std::string> MirrorGitSource::readFile(const Uuid& repo, const std::string& commit,
                                                     const std::string& path) {
  return mirror_.readFile(repo, commit, path);
}

void MirrorGitSource::checkout(const Uuid& repo, const std::string& commit,
                               const std::filesystem::path& dest, std::uint64_t max_total_bytes) {
  const auto report = mirror_.checkout(repo, commit, dest, max_total_bytes);
  for (const auto& skipped : report.skipped) {
    spdlog::info("firmware: repo {} commit {}: skipped {}", repo.toString(), commit, skipped);
  }
}

// ---- UnitService ------------------------------------------------------------------------------

UnitService::UnitService(store::UnitStore& units, store::PermissionStore& permissions,
                         UnitGitSource& git, const AuthService& auth, const crypto::SecretBox& box,
                         CommandSender& commands, UnitServiceOptions options, Clock clock,
                         AccessEvents* events)
    : units_(units),
      permissions_(permissions),
      git_(git),
      auth_(auth),
      box_(box),
      commands_(commands),
      options_(std::move(options)),
      clock_(std::move(clock)),
      events_(events) {}

store::Unit UnitService::loadUnit(const Uuid& uuid) {
  auto unit = units_.find(uuid);
  if (!unit) {
    throw ValidationError(kNoObject);
  }
  return *unit;
}

store::UnitRepoFacts UnitService::loadRepo(const Uuid& repo) {
  auto facts = units_.findRepo(repo);
  if (!facts) {
    throw ValidationError(kNoObject);
  }
  return *facts;
}

store::UnitRepoFacts UnitService::loadRepo(const store::Unit& unit) {
  if (!unit.repo_uuid) {
    throw ValidationError(kNoObject);
  }
  return loadRepo(*unit.repo_uuid);
}

domain::TargetVersion UnitService::targetOf(const store::UnitRepoFacts& repo,
                                            const domain::UnitVersionFacts& unit) {
  requireNotCompilable(repo);
  domain::RepoHistory history;
  history.branches = git_.branches(repo.uuid);
  history.commits_of = [this, &repo](const std::string& branch) {
    return git_.commits(repo.uuid, branch);
  };
  return domain::unitTargetVersion(versionFacts(repo), unit, history);
}

UnitService::TargetFiles UnitService::targetFiles(const store::UnitRepoFacts& repo,
                                                  const domain::UnitVersionFacts& unit) {
  TargetFiles files;
  files.target = targetOf(repo, unit);
  const auto& commit = files.target.commit;
  const auto schema_text = git_.readFile(repo.uuid, commit, kSchemaFile);
  if (!schema_text) {
    throw Error(ErrorKind::kGitRepoValidation,
                std::string("File ") + kSchemaFile + " not found in commit " + commit);
  }
  files.schema = domain::parseSchemaExample(*schema_text);
  const auto env_text = git_.readFile(repo.uuid, commit, kEnvFile);
  if (!env_text) {
    throw Error(ErrorKind::kGitRepoValidation,
                std::string("File ") + kEnvFile + " not found in commit " + commit);
  }
  files.env_example = domain::parseEnvExample(*env_text);
  files.generation = domain::detectEnvGeneration(files.env_example);
  return files;
}

std::optional<UnitService::TargetFiles> UnitService::currentTargetFiles(const Uuid& uuid) {
  const auto unit = units_.find(uuid);
  if (!unit || !unit->repo_uuid) {
    return std::nullopt;
  }
  const auto repo = units_.findRepo(*unit->repo_uuid);
  if (!repo) {
    return std::nullopt;
  }
  return targetFiles(*repo, versionFacts(*unit));
}

std::optional<EnvJson> UnitService::storedEnv(const store::Unit& unit) const {
  if (!unit.cipher_env_dict) {
    return std::nullopt;
  }
  auto env = EnvJson::parse(box_.decrypt(*unit.cipher_env_dict), nullptr, false);
  if (env.is_discarded() || !env.is_object()) {
    throw Error(ErrorKind::kInternal, "Internal server error",
                "unit " + unit.uuid.toString() + ": stored env is not a JSON object");
  }
  return env;
}

EnvJson UnitService::generatedValues(const store::Unit& unit, const EnvJson& example) {
  CryptoRandom random;
  const auto keys = domain::envKeys(example);
  return domain::generateReservedValues(keys, options_.facts, auth_.issueUnitToken(unit.uuid),
                                        random);
}

nlohmann::ordered_json UnitService::schemaFor(const store::Unit& unit,
                                              const domain::SchemaExample& schema) {
  domain::UnitSchemaNodes nodes;
  std::map<Uuid, std::string> input_names;
  for (const auto& node : units_.nodesOf(unit.uuid)) {
    if (node.type == domain::UnitNodeType::kInput) {
      nodes.inputs.emplace(node.topic_name, node.uuid);
      input_names.emplace(node.uuid, node.topic_name);
    } else {
      nodes.outputs.emplace(node.topic_name, node.uuid);
    }
  }
  for (const auto& link : units_.linkedOutputs(unit.uuid)) {
    if (const auto it = input_names.find(link.input_node); it != input_names.end()) {
      nodes.linked_outputs[it->second].push_back({link.output_node, link.output_topic_name});
    }
  }
  return domain::buildUnitSchema(schema, options_.facts.domain, unit.uuid, nodes);
}

UnitService::ReconcileStep UnitService::planReconcile(const store::Unit& unit,
                                                      const TargetFiles& files,
                                                      const std::optional<Uuid>& acting_user) {
  ReconcileStep step;
  if (const auto current = storedEnv(unit)) {
    // §7.6 step 4: new developer variables get their defaults; values, token and keys stay.
    const auto merged =
        domain::envMerge(files.env_example, generatedValues(unit, files.env_example), *current);
    domain::requireCompleteEnv(merged, files.env_example);
    if (merged != *current) {
      step.new_cipher_env = box_.encrypt(merged.dump());
    }
  }
  const auto plan =
      domain::planNodeReconcile(existingNodes(units_.nodesOf(unit.uuid)), files.schema);
  step.changes.create = plan.create;
  step.changes.remove = plan.remove;
  step.changes.visibility_level = unit.visibility_level;
  step.changes.creator_uuid = unit.creator_uuid;
  step.changes.granted_users = grantedUsers(unit.creator_uuid, acting_user);
  return step;
}

void UnitService::reconcile(const store::Unit& unit, const TargetFiles& files,
                            const std::optional<Uuid>& acting_user) {
  const auto step = planReconcile(unit, files, acting_user);
  units_.reconcile(unit.uuid, step.changes, step.new_cipher_env);
}

bool UnitService::hasActiveGrant(const Principal& caller, const Uuid& resource) {
  if (!caller.uuid || caller.isBot()) {
    return false;
  }
  const auto record = permissions_.find(*caller.uuid, resource);
  if (!record) {
    return false;
  }
  return !record->valid_until_unix || *record->valid_until_unix > clock_();
}

store::Unit UnitService::create(const Principal& caller, const UnitCreate& request) {
  requireUserOrAdmin(caller);
  requireName(request.name);
  if (units_.findUuidByName(request.name)) {
    throw Error(ErrorKind::kUnitValidation, "Name is not unique");
  }
  const auto repo = loadRepo(request.repo_uuid);
  requireNotCompilable(repo);
  requireChildVisibility(repo.visibility_level, request.visibility_level);
  if (!request.is_auto_update_from_repo_unit && (!request.repo_branch || !request.repo_commit)) {
    throw Error(ErrorKind::kUnitValidation,
                "Unit created manually requires branch and commit: repo_branch and repo_commit");
  }
  const domain::UnitVersionFacts version{request.is_auto_update_from_repo_unit, request.repo_branch,
                                         request.repo_commit};
  const auto files = targetFiles(repo, version);

  store::NewUnit row;
  row.repo_uuid = request.repo_uuid;
  row.creator_uuid = *caller.uuid;
  row.visibility_level = request.visibility_level;
  row.name = request.name;
  row.is_auto_update_from_repo_unit = request.is_auto_update_from_repo_unit;
  row.target_firmware_platform = request.target_firmware_platform;
  row.repo_branch = request.repo_branch;
  row.repo_commit = request.repo_commit;

  const auto plan = domain::planNodeReconcile({}, files.schema);
  store::NodeChanges nodes;
  nodes.create = plan.create;
  nodes.visibility_level = request.visibility_level;
  nodes.creator_uuid = *caller.uuid;
  nodes.granted_users = {*caller.uuid};
  auto created = units_.insert(row, nodes);
  // A new unit and new nodes that other units may see.
  if (events_ != nullptr) {
    events_->everythingChanged();
  }
  return created;
}

store::Unit UnitService::get(const Principal& caller, const Uuid& uuid) {
  auto unit = loadUnit(uuid);
  if (!domain::canView(caller, unit.visibility_level, hasActiveGrant(caller, unit.uuid))) {
    if (caller.isBlocked()) {
      throw NoAccess("User is Blocked");
    }
    throw NoAccess(std::string(toString(unit.visibility_level)) +
                   " visibility level is not available for the current agent");
  }
  return unit;
}

store::UnitPage UnitService::list(const Principal& caller, const store::UnitFilter& filter) {
  const auto now = clock_();
  std::vector<domain::Grant> unit_grants;
  std::vector<domain::Grant> node_grants;
  if (caller.uuid && !caller.isBot()) {
    unit_grants = permissions_.activeGrants(*caller.uuid, domain::ResourceType::kUnit, now);
    if (filter.include_nodes) {
      node_grants = permissions_.activeGrants(*caller.uuid, domain::ResourceType::kUnitNode, now);
    }
  }
  store::UnitListScopes scopes;
  scopes.units = domain::listScope(caller, filter.visibility_levels, unit_grants, now);
  scopes.nodes = domain::listScope(caller, {}, node_grants, now);
  return units_.list(filter, scopes);
}

store::Unit UnitService::update(const Principal& caller, const Uuid& uuid,
                                const UnitUpdate& request) {
  requireUserOrAdmin(caller);
  const auto current = loadUnit(uuid);
  if (!domain::canManage(caller, creatorOf(current))) {
    denyNotOwner(caller);
  }

  store::UnitSettings settings;
  settings.visibility_level = request.visibility_level.value_or(current.visibility_level);
  settings.name = request.name.value_or(current.name);
  settings.is_auto_update_from_repo_unit =
      request.is_auto_update_from_repo_unit.value_or(current.is_auto_update_from_repo_unit);
  settings.target_firmware_platform =
      request.target_firmware_platform.value_or(current.target_firmware_platform);
  settings.repo_branch = request.repo_branch.value_or(current.repo_branch);
  settings.repo_commit = request.repo_commit.value_or(current.repo_commit);

  if (request.name) {
    requireName(settings.name);
    if (const auto owner = units_.findUuidByName(settings.name); owner && *owner != uuid) {
      throw Error(ErrorKind::kUnitValidation, "Name is not unique");
    }
  }
  const auto repo = loadRepo(current);
  requireNotCompilable(repo);
  requireChildVisibility(repo.visibility_level, settings.visibility_level);
  if (!settings.is_auto_update_from_repo_unit && (!settings.repo_branch || !settings.repo_commit)) {
    throw Error(ErrorKind::kUnitValidation,
                "Unit updated manually requires branch and commit: repo_branch and repo_commit");
  }
  // Everything the new target implies (contract files, env merge, node plan) is computed before
  // anything is saved, so a rejected PATCH changes nothing.
  const auto files = targetFiles(
      repo, {settings.is_auto_update_from_repo_unit, settings.repo_branch, settings.repo_commit});
  auto next = current;
  next.visibility_level = settings.visibility_level;
  const auto step = planReconcile(next, files, caller.uuid);

  if (!units_.update(uuid, settings)) {
    throw ValidationError(kNoObject);
  }
  units_.reconcile(uuid, step.changes, step.new_cipher_env);
  if (events_ != nullptr) {
    events_->everythingChanged();  // visibility and the node set may have changed
  }
  commands_.send(uuid, UnitCommand::kUpdate);
  // Re-read: the reconcile touched last_update_datetime (and maybe the env).
  return loadUnit(uuid);
}

void UnitService::remove(const Principal& caller, const Uuid& uuid) {
  requireUserOrAdmin(caller);
  const auto unit = loadUnit(uuid);
  if (!domain::canManage(caller, creatorOf(unit))) {
    denyNotOwner(caller);
  }
  if (!units_.remove(uuid)) {
    throw ValidationError(kNoObject);
  }
  auth_.forget(uuid);
  if (events_ != nullptr) {
    events_->accessChanged(uuid, cache::AclChangeKind::kDeleted);
  }
}

EnvJson UnitService::env(const Principal& caller, const Uuid& uuid) {
  const auto unit = loadUnit(uuid);
  requireSecretReader(caller, unit);
  const auto files = targetFiles(loadRepo(unit), versionFacts(unit));
  const auto env = domain::envForGet(files.env_example, storedEnv(unit), files.target.commit);
  return domain::encodeEnvBody(files.generation, env);
}

void UnitService::setEnv(const Principal& caller, const Uuid& uuid,
                         const std::string& env_json_string) {
  const auto unit = loadUnit(uuid);
  if (!domain::canWriteSecrets(caller, creatorOf(unit))) {
    denyNotOwner(caller);
  }
  const auto user_env = domain::parseEnvJsonString(env_json_string);
  const auto files = targetFiles(loadRepo(unit), versionFacts(unit));
  const auto env =
      domain::envForPatch(user_env, files.env_example, generatedValues(unit, files.env_example));
  const auto cipher = box_.encrypt(env.dump());
  if (!units_.setCipherEnv(uuid, cipher)) {
    throw ValidationError(kNoObject);
  }
}

domain::TargetVersion UnitService::targetVersion(const Principal& caller, const Uuid& uuid) {
  const auto unit = loadUnit(uuid);
  requireManagerOrSelf(caller, unit);
  return targetOf(loadRepo(unit), versionFacts(unit));
}

nlohmann::ordered_json UnitService::currentSchema(const Principal& caller, const Uuid& uuid) {
  const auto unit = loadUnit(uuid);
  requireManagerOrSelf(caller, unit);
  const auto files = targetFiles(loadRepo(unit), versionFacts(unit));
  return domain::encodeEnvBody(files.generation, schemaFor(unit, files.schema));
}

void UnitService::setStateStorage(const Principal& caller, const Uuid& uuid,
                                  const std::string& state) {
  const auto unit = loadUnit(uuid);
  if (!domain::canWriteSecrets(caller, creatorOf(unit), unit.uuid)) {
    denyNotOwner(caller);
  }
  std::optional<std::string> cipher;
  if (!state.empty()) {
    cipher = box_.encrypt(state);  // CipherError (12) when too long
  }
  if (!units_.setCipherStateStorage(uuid, cipher)) {
    throw ValidationError(kNoObject);
  }
}

std::string UnitService::stateStorage(const Principal& caller, const Uuid& uuid) {
  const auto unit = loadUnit(uuid);
  requireSecretReader(caller, unit);
  if (!unit.cipher_state_storage) {
    return {};
  }
  return box_.decrypt(*unit.cipher_state_storage);
}

void UnitService::sendCommand(const Principal& caller, const Uuid& uuid, UnitCommand command) {
  const auto unit = loadUnit(uuid);
  requireManagerOrSelf(caller, unit);
  // LogSync asks the unit to resend its whole buffer: what is stored goes first, or every line
  // would be there twice (unit protocol §4).
  if (command == UnitCommand::kLogSync) {
    units_.deleteLogs(uuid);
  }
  commands_.send(uuid, command);
}

FirmwareArchive UnitService::firmware(const Principal& caller, const Uuid& uuid,
                                      firmware::ArchiveFormat format, int wbits, int level) {
  // Bad parameters are refused before anything is loaded, checked out or packed.
  if (format == firmware::ArchiveFormat::kTgz) {
    firmware::validateWbitsLevel(wbits, level);
  }
  const auto unit = loadUnit(uuid);
  requireSecretReader(caller, unit);
  const auto repo = loadRepo(unit);
  const auto files = targetFiles(repo, versionFacts(unit));
  const auto env = domain::envForGet(files.env_example, storedEnv(unit), files.target.commit);
  // Reserved keys come only from a saved env: an archive without them would brick the device.
  domain::requireCompleteEnv(env, files.env_example);
  const auto schema = schemaFor(unit, files.schema);

  ScratchDir scratch(options_.work_dir);
  git_.checkout(repo.uuid, files.target.commit, scratch.path(),
                options_.archive_limits.max_input_bytes);
  const auto removed = firmware::applyPepeIgnore(scratch.path());
  spdlog::debug("firmware: unit {}: .pepeignore removed {} file(s)", uuid.toString(),
                removed.size());
  firmware::writeUnitFiles(scratch.path(), env, schema);
  FirmwareArchive archive;
  archive.data =
      firmware::buildArchive(scratch.path(), format, wbits, level, options_.archive_limits);
  archive.filename = uuid.toString() + "." + extensionOf(format);
  return archive;
}

UnitsUpdateSummary UnitService::updateAutoUnits(const Uuid& repo_uuid) {
  UnitsUpdateSummary summary;
  std::vector<store::Unit> units;
  std::optional<store::UnitRepoFacts> repo;
  try {
    repo = units_.findRepo(repo_uuid);
    if (!repo) {
      return summary;
    }
    units = units_.autoUpdateUnitsOf(repo_uuid);
  } catch (const std::exception& e) {
    spdlog::error("units update: repo {}: cannot list its units: {}", repo_uuid.toString(),
                  e.what());
    return summary;
  }
  if (units.empty()) {
    return summary;
  }

  // Auto-updating Units all follow the repo's target: compute it (and read the files) once.
  std::optional<TargetFiles> files;
  try {
    files = targetFiles(*repo, domain::UnitVersionFacts{});
  } catch (const std::exception& e) {
    spdlog::warn("units update: repo {}: no usable target, {} unit(s) not updated: {}",
                 repo_uuid.toString(), units.size(), e.what());
    summary.failed = units.size();
    return summary;
  }
  for (const auto& unit : units) {
    try {
      reconcile(unit, *files, unit.creator_uuid);
      commands_.send(unit.uuid, UnitCommand::kUpdate);
      ++summary.updated;
    } catch (const std::exception& e) {
      ++summary.failed;
      const auto* error = dynamic_cast<const Error*>(&e);
      spdlog::warn(
          "units update: unit {}: {}", unit.uuid.toString(),
          error ? error->detail() + (error->internal().empty() ? "" : " | " + error->internal())
                : std::string(e.what()));
    }
  }
  spdlog::info("units update: repo {}: {} updated, {} failed", repo_uuid.toString(),
               summary.updated, summary.failed);
  // One announcement per pass, whoever started it (REST or the hourly scheduler).
  if (events_ != nullptr && summary.updated > 0) {
    events_->everythingChanged();
  }
  return summary;
}

}  // namespace pepeunit::service
