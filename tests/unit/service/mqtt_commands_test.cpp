// MqttCommandSender and MqttNodeValuePublisher (§8.4, §5.2) over a recording publish function
// and a fake UnitStore that only records the Update bookkeeping: topics, payloads, the
// "declared topics only" rule and RequestSent / Error with the target commit.
#include "service/mqtt_commands.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using pepeunit::domain::FirmwareUpdateStatus;
using pepeunit::domain::Uuid;
using pepeunit::service::CommandTarget;
using pepeunit::service::MqttCommandSender;
using pepeunit::service::MqttNodeValuePublisher;
using pepeunit::service::UnitCommand;
namespace store = pepeunit::store;

const Uuid kUnit = *Uuid::parse("11111111-2222-4333-8444-555555555555");
const store::Timestamp kNow{std::chrono::microseconds(1'700'000'000'000'000)};

/// Records setFirmwareUpdate; everything else is never called by the sender.
class BookkeepingStore : public store::UnitStore {
 public:
  struct Call {
    Uuid unit;
    std::optional<FirmwareUpdateStatus> status;
    std::optional<std::string> error;
    std::optional<store::Timestamp> at;
    std::optional<std::string> target;
  };
  std::vector<Call> calls;

  bool setFirmwareUpdate(const Uuid& unit, std::optional<FirmwareUpdateStatus> status,
                         const std::optional<std::string>& error,
                         std::optional<store::Timestamp> at,
                         const std::optional<std::string>& target) override {
    calls.push_back({unit, status, error, at, target});
    return true;
  }

  std::optional<store::Unit> find(const Uuid&) override { unused(); }
  std::optional<Uuid> findUuidByName(const std::string&) override { unused(); }
  std::optional<store::UnitRepoFacts> findRepo(const Uuid&) override { unused(); }
  store::Unit insert(const store::NewUnit&, const store::NodeChanges&) override { unused(); }
  std::optional<store::Unit> update(const Uuid&, const store::UnitSettings&) override { unused(); }
  std::vector<store::UnitNode> reconcile(const Uuid&, const store::NodeChanges&,
                                         const std::optional<std::string>&) override {
    unused();
  }
  bool remove(const Uuid&) override { unused(); }
  std::size_t deleteLogs(const Uuid&) override { unused(); }
  std::vector<store::UnitNode> nodesOf(const Uuid&) override { unused(); }
  std::vector<store::LinkedOutput> linkedOutputs(const Uuid&) override { unused(); }
  store::UnitPage list(const store::UnitFilter&, const store::UnitListScopes&) override {
    unused();
  }
  std::vector<store::Unit> autoUpdateUnitsOf(const Uuid&) override { unused(); }
  bool setCipherEnv(const Uuid&, const std::optional<std::string>&) override { unused(); }
  bool setCipherStateStorage(const Uuid&, const std::optional<std::string>&) override { unused(); }

 private:
  [[noreturn]] static void unused() { throw std::logic_error("not used by the sender"); }
};

struct Bus {
  std::vector<std::pair<std::string, std::string>> messages;
  bool up = true;
  pepeunit::service::PublishFunction function() {
    return [this](std::string topic, std::string payload) {
      if (!up)
        return false;
      messages.emplace_back(std::move(topic), std::move(payload));
      return true;
    };
  }
};

CommandTarget target(const std::vector<std::string>& input_base_topics) {
  const nlohmann::json schema = {{"input_base_topic", input_base_topics},
                                 {"output_base_topic", {"state/pepeunit"}},
                                 {"input_topic", {"input/pepeunit"}},
                                 {"output_topic", {"output/pepeunit"}}};
  return {"abc123", pepeunit::domain::parseSchemaExample(schema.dump())};
}

struct Fixture {
  Bus bus;
  BookkeepingStore units;
  MqttCommandSender sender{"example.com:8080", bus.function(), units, [] { return kNow; }};
};

}  // namespace

TEST_CASE("MqttCommandSender: topics and payloads of the four commands") {
  Fixture f;
  f.sender.setTargetLookup([](const Uuid&) {
    return std::optional(target(
        {"update/pepeunit", "env_update/pepeunit", "schema_update/pepeunit", "log_sync/pepeunit"}));
  });
  const std::string base = "example.com:8080/input_base_topic/" + kUnit.toString() + "/";
  CHECK(f.sender.send(kUnit, UnitCommand::kUpdate));
  CHECK(f.sender.send(kUnit, UnitCommand::kEnvUpdate));
  CHECK(f.sender.send(kUnit, UnitCommand::kSchemaUpdate));
  CHECK(f.sender.send(kUnit, UnitCommand::kLogSync));
  REQUIRE(f.bus.messages.size() == 4);
  CHECK(f.bus.messages[0].first == base + "update/pepeunit");
  CHECK(f.bus.messages[0].second ==
        R"({"COMMAND":"Update","NEW_COMMIT_VERSION":"abc123","PU_COMMIT_VERSION":"abc123"})");
  CHECK(f.bus.messages[1].first == base + "env_update/pepeunit");
  CHECK(f.bus.messages[1].second == R"({"COMMAND":"EnvUpdate"})");
  CHECK(f.bus.messages[2].first == base + "schema_update/pepeunit");
  CHECK(f.bus.messages[2].second == R"({"COMMAND":"SchemaUpdate"})");
  CHECK(f.bus.messages[3].first == base + "log_sync/pepeunit");
  CHECK(f.bus.messages[3].second == R"({"COMMAND":"LogSync"})");
  // Only Update is tracked: RequestSent, now, no error, the commit it carried.
  REQUIRE(f.units.calls.size() == 1);
  CHECK(f.units.calls[0].unit == kUnit);
  CHECK(f.units.calls[0].status == std::optional(FirmwareUpdateStatus::kRequestSent));
  CHECK(!f.units.calls[0].error);
  CHECK(f.units.calls[0].at == std::optional(kNow));
  CHECK(f.units.calls[0].target == std::optional<std::string>("abc123"));
}

TEST_CASE("MqttCommandSender: nothing is sent to a topic the schema does not declare") {
  Fixture f;
  f.sender.setTargetLookup(
      [](const Uuid&) { return std::optional(target({"env_update/pepeunit"})); });
  CHECK(!f.sender.send(kUnit, UnitCommand::kUpdate));
  CHECK(!f.sender.send(kUnit, UnitCommand::kLogSync));
  CHECK(f.sender.send(kUnit, UnitCommand::kEnvUpdate));
  CHECK(f.bus.messages.size() == 1);
  CHECK(f.units.calls.empty());
}

TEST_CASE("MqttCommandSender: no lookup, a vanished unit or a failing target send nothing") {
  Fixture f;
  CHECK(!f.sender.send(kUnit, UnitCommand::kUpdate));  // lookup not wired yet
  f.sender.setTargetLookup([](const Uuid&) { return std::optional<CommandTarget>(); });
  CHECK(!f.sender.send(kUnit, UnitCommand::kUpdate));
  f.sender.setTargetLookup([](const Uuid&) -> std::optional<CommandTarget> {
    throw std::runtime_error("no usable target");
  });
  CHECK(!f.sender.send(kUnit, UnitCommand::kUpdate));
  CHECK(f.bus.messages.empty());
  CHECK(f.units.calls.empty());
}

TEST_CASE("MqttCommandSender: a refused Update publish records Error with a message") {
  Fixture f;
  f.sender.setTargetLookup([](const Uuid&) { return std::optional(target({"update/pepeunit"})); });
  f.bus.up = false;
  CHECK(!f.sender.send(kUnit, UnitCommand::kUpdate));
  REQUIRE(f.units.calls.size() == 1);
  CHECK(f.units.calls[0].status == std::optional(FirmwareUpdateStatus::kError));
  REQUIRE(f.units.calls[0].error);
  CHECK(!f.units.calls[0].error->empty());
  CHECK(!f.units.calls[0].at);
}

TEST_CASE("MqttNodeValuePublisher: the raw value to D/<node> or D/<node>/pepeunit") {
  Bus bus;
  MqttNodeValuePublisher publisher("example.com", bus.function());
  CHECK(publisher.publish(kUnit, true, "42"));
  CHECK(publisher.publish(kUnit, false, "{\"a\": 1}"));
  REQUIRE(bus.messages.size() == 2);
  CHECK(bus.messages[0].first == "example.com/" + kUnit.toString() + "/pepeunit");
  CHECK(bus.messages[0].second == "42");
  CHECK(bus.messages[1].first == "example.com/" + kUnit.toString());
  CHECK(bus.messages[1].second == "{\"a\": 1}");
  bus.up = false;
  CHECK(!publisher.publish(kUnit, true, "x"));
}
