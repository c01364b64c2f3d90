// Pure ingest rules: topic classification, text checks, the last-value filter with history
// policies and deadband, state reduction and throttling, the update status machine, log parsing.
#include "service/ingest_rules.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

using namespace pepeunit::service::ingest;
using pepeunit::domain::Uuid;
using pepeunit::store::Timestamp;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

const std::string kNode = "0f8fad5b-d9cb-469f-a165-70867728950e";
const Timestamp kT0{std::chrono::sys_days(std::chrono::year(2025) / 1 / 1)};

DropReason reasonOf(const IngestTopic& t) {
  REQUIRE(std::holds_alternative<DropReason>(t));
  return std::get<DropReason>(t);
}

}  // namespace

TEST_CASE("ingest topics: values, states and logs are recognised") {
  const auto v = parseIngestTopic("dom.io/" + kNode + "/pepeunit", "dom.io");
  REQUIRE(std::holds_alternative<ValueTopic>(v));
  CHECK(std::get<ValueTopic>(v).node.toString() == kNode);
  const auto s =
      parseIngestTopic("dom.io/output_base_topic/" + kNode + "/state/pepeunit", "dom.io");
  REQUIRE(std::holds_alternative<StateTopic>(s));
  CHECK(std::get<StateTopic>(s).unit.toString() == kNode);
  const auto l = parseIngestTopic("dom.io/output_base_topic/" + kNode + "/log/pepeunit", "dom.io");
  CHECK(std::holds_alternative<LogTopic>(l));
}

TEST_CASE("ingest topics: everything else is dropped with its reason") {
  const std::string d = "127.0.0.1";
  CHECK(reasonOf(parseIngestTopic(d + "/input_base_topic/" + kNode + "/update/pepeunit", d)) ==
        DropReason::kOwnCommand);
  CHECK(reasonOf(parseIngestTopic(d + "/output_base_topic/" + kNode + "/other/pepeunit", d)) ==
        DropReason::kWrongDestination);
  CHECK(reasonOf(parseIngestTopic(d + "/input_topic/" + kNode + "/state/pepeunit", d)) ==
        DropReason::kWrongDestination);
  CHECK(reasonOf(parseIngestTopic(d + "/output_base_topic/not-a-uuid/state/pepeunit", d)) ==
        DropReason::kBadTopic);
  CHECK(reasonOf(parseIngestTopic(d + "/not-a-uuid/pepeunit", d)) == DropReason::kBadTopic);
  CHECK(reasonOf(parseIngestTopic(d + "/" + kNode, d)) == DropReason::kBadTopic);
  CHECK(reasonOf(parseIngestTopic(d + "/" + kNode + "/other", d)) == DropReason::kBadTopic);
  CHECK(reasonOf(parseIngestTopic(d + "/a/b/pepeunit", d)) == DropReason::kBadTopic);
  CHECK(reasonOf(parseIngestTopic("other.io/" + kNode + "/pepeunit", d)) ==
        DropReason::kWrongDomain);
  CHECK(reasonOf(parseIngestTopic("", d)) == DropReason::kBadTopic);
  CHECK(dropReasonName(DropReason::kUnknownNode) == "unknown_node");
  CHECK(dropReasonName(DropReason::kWriteFailed) == "write_failed");
}

TEST_CASE("ingest text: UTF-8 without NUL") {
  CHECK(isStorableText("plain 21.5"));
  CHECK(isStorableText("температура ✓ 🌡"));
  CHECK(isStorableText(""));
  CHECK_FALSE(isStorableText(std::string("a\0b", 3)));
  CHECK_FALSE(isStorableText("\xff\xfe"));
  CHECK_FALSE(isStorableText("\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(isStorableText("\xed\xa0\x80"));      // surrogate
  CHECK_FALSE(isStorableText("\xe2\x82"));          // truncated
  CHECK_FALSE(isStorableText("\xf4\x90\x80\x80"));  // > U+10FFFF
}

TEST_CASE("ingest numbers: the whole payload must be a finite number") {
  CHECK(parseNumeric("21.5") == doctest::Approx(21.5));
  CHECK(parseNumeric("-3") == doctest::Approx(-3));
  CHECK(parseNumeric("+4") == doctest::Approx(4));
  CHECK(parseNumeric("1e3") == doctest::Approx(1000));
  CHECK_FALSE(parseNumeric(" 1"));
  CHECK_FALSE(parseNumeric("1 "));
  CHECK_FALSE(parseNumeric("nan"));
  CHECK_FALSE(parseNumeric("inf"));
  CHECK_FALSE(parseNumeric("1e999"));
  CHECK_FALSE(parseNumeric("12abc"));
  CHECK_FALSE(parseNumeric("{\"a\":1}"));
  CHECK_FALSE(parseNumeric(""));
}

TEST_CASE("last-value filter: repeats never reach the last value; policy decides history") {
  NodeMemory m;
  auto d = decideValue(m, "1", 1.0, kT0);
  CHECK(d.update_last);
  CHECK(d.write_history);
  d = decideValue(m, "1", 1.0, kT0 + seconds(1));
  CHECK_FALSE(d.update_last);
  CHECK_FALSE(d.write_history);
  CHECK(m.last_at == kT0);
  d = decideValue(m, "2", 2.0, kT0 + seconds(2));
  CHECK(d.update_last);
  CHECK(d.write_history);
  CHECK(m.last_value == "2");

  NodeMemory off;
  off.policy = HistoryPolicy::kOff;
  d = decideValue(off, "x", std::nullopt, kT0);
  CHECK(d.update_last);
  CHECK_FALSE(d.write_history);

  NodeMemory all;
  all.policy = HistoryPolicy::kAll;
  CHECK(decideValue(all, "x", std::nullopt, kT0).write_history);
  d = decideValue(all, "x", std::nullopt, kT0);
  CHECK_FALSE(d.update_last);
  CHECK(d.write_history);
}

TEST_CASE("last-value filter: numeric deadband on 'changes'") {
  NodeMemory m;
  m.deadband = 0.5;
  CHECK(decideValue(m, "20.0", 20.0, kT0).write_history);
  auto d = decideValue(m, "20.2", 20.2, kT0);
  CHECK(d.update_last);          // the last value is always exact
  CHECK_FALSE(d.write_history);  // but the move is inside the band
  d = decideValue(m, "20.4", 20.4, kT0);
  CHECK_FALSE(d.write_history);  // measured from the last recorded 20.0, not from 20.2
  d = decideValue(m, "20.5", 20.5, kT0);
  CHECK(d.write_history);
  CHECK(decideValue(m, "text", std::nullopt, kT0).write_history);  // non-numeric: any change
  CHECK(decideValue(m, "20.6", 20.6, kT0).write_history);  // after text: no reference number
  CHECK(parseHistoryPolicy("all") == HistoryPolicy::kAll);
  CHECK(parseHistoryPolicy("off") == HistoryPolicy::kOff);
  CHECK_FALSE(parseHistoryPolicy("ALL"));
}

TEST_CASE("state: reserved keys kept and typed, both version keys accepted") {
  const auto s = filterState(
      R"({"millis": 12, "mem_free": 1.5, "mem_alloc": "x", "freq": 160000000,
          "ifconfig": ["1.2.3.4"], "statvfs": 7, "commit_version": "abc", "secret": 1})");
  REQUIRE(s);
  CHECK(s->version == "abc");
  const auto j = nlohmann::json::parse(s->json);
  CHECK(j["millis"].get<double>() == 12.0);
  CHECK(j["millis"].is_number_float());
  CHECK(j["mem_alloc"].is_null());
  CHECK(j["ifconfig"] == nlohmann::json::array({"1.2.3.4"}));
  CHECK(j["statvfs"] == nlohmann::json::array());
  CHECK_FALSE(j.contains("secret"));
  CHECK_FALSE(j.contains("pu_commit_version"));

  const auto pu = filterState(R"({"pu_commit_version": "def", "commit_version": "old"})");
  REQUIRE(pu);
  CHECK(pu->version == "def");
  const auto jp = nlohmann::json::parse(pu->json);
  CHECK(jp["pu_commit_version"] == "def");
  CHECK(jp["commit_version"] == "def");

  const auto none = filterState("{}");
  REQUIRE(none);
  CHECK_FALSE(none->version);
  CHECK_FALSE(filterState("not json"));
  CHECK_FALSE(filterState("[1,2]"));
  CHECK_FALSE(filterState("\"str\""));
}

TEST_CASE("state throttle: one state per interval per unit, a new version always passes") {
  StateThrottle t(milliseconds(60000));
  const Uuid a = *Uuid::parse(kNode);
  const Uuid b = *Uuid::parse("1f8fad5b-d9cb-469f-a165-70867728950e");
  CHECK(t.admit(a, "v1", kT0));
  CHECK_FALSE(t.admit(a, "v1", kT0 + seconds(30)));
  CHECK(t.admit(b, "v1", kT0 + seconds(30)));          // per unit
  CHECK(t.admit(a, "v1", kT0 + milliseconds(59500)));  // within the 1 s tolerance
  CHECK_FALSE(t.admit(a, "v1", kT0 + seconds(60)));    // measured from the last accepted
  CHECK(t.admit(a, "v2", kT0 + seconds(61)));          // rebooted into a new version
  CHECK_FALSE(t.admit(a, "v2", kT0 + seconds(62)));
}

TEST_CASE("update status machine (spec §8.5)") {
  using pepeunit::store::UpdateStatusView;
  const UpdateStatusView sent{"RequestSent", "abc", kT0};
  auto c = advanceUpdateStatus(sent, "abc", kT0 + seconds(5), seconds(60));
  REQUIRE(c);
  CHECK(c->status == "Success");
  CHECK_FALSE(c->error);
  CHECK_FALSE(advanceUpdateStatus(sent, "old", kT0 + seconds(120), seconds(60)));  // not yet
  c = advanceUpdateStatus(sent, "old", kT0 + seconds(121), seconds(60));
  REQUIRE(c);
  CHECK(c->status == "Error");
  CHECK(c->error == "11: Update Error: Device firmware update time is twice as fast as 60s times");
  CHECK_FALSE(advanceUpdateStatus(sent, std::nullopt, kT0 + seconds(1), seconds(60)));
  CHECK_FALSE(advanceUpdateStatus({"Success", "abc", kT0}, "zzz", kT0 + seconds(999), seconds(60)));
  CHECK_FALSE(
      advanceUpdateStatus({std::nullopt, std::nullopt, std::nullopt}, "abc", kT0, seconds(60)));
  // No target recorded: only the timeout can end the wait.
  CHECK_FALSE(advanceUpdateStatus({"RequestSent", std::nullopt, kT0}, "abc", kT0, seconds(60)));
}

TEST_CASE("logs: object or array, ISO or epoch-ms, extra keys ignored, bad entries skipped") {
  const auto one = parseLogs(
      R"({"level": "warning", "text": "hot", "create_datetime": 1735689600123, "free_mem": 5})",
      kT0);
  REQUIRE(one);
  REQUIRE(one->entries.size() == 1);
  CHECK(one->entries[0].level == "Warning");
  CHECK(one->entries[0].text == "hot");
  CHECK(one->entries[0].create_datetime == kT0 + milliseconds(123));

  const auto many = parseLogs(
      R"([{"level": "Info", "text": "a"}, {"level": "Info", "message": "b"},
          {"level": "nope", "text": "c"}, 5,
          {"level": "Error", "text": "d", "create_datetime": "2025-01-01T01:00:00.5+01:00"},
          {"level": "Debug", "text": "e", "create_datetime": "yesterday"}])",
      kT0);
  REQUIRE(many);
  REQUIRE(many->entries.size() == 3);
  CHECK(many->skipped == 3);
  CHECK(many->entries[0].create_datetime == kT0);
  CHECK(many->entries[1].text == "b");
  CHECK(many->entries[1].create_datetime == kT0 + seconds(1));  // keeps the array's order
  CHECK(many->entries[2].create_datetime == kT0 + milliseconds(500));
  CHECK_FALSE(parseLogs("oops", kT0));
  CHECK_FALSE(parseLogs("12", kT0));
}

TEST_CASE("ISO timestamps") {
  CHECK(parseIsoTimestamp("2025-01-01T00:00:00") == kT0);
  CHECK(parseIsoTimestamp("2025-01-01 00:00:00Z") == kT0);
  CHECK(parseIsoTimestamp("2025-01-01T00:00:00.000001") == kT0 + std::chrono::microseconds(1));
  CHECK(parseIsoTimestamp("2024-12-31T19:00:00-05:00") == kT0);
  CHECK_FALSE(parseIsoTimestamp("2025-02-30T00:00:00"));
  CHECK_FALSE(parseIsoTimestamp("2025-01-01T00:00:00+0100"));
  CHECK_FALSE(parseIsoTimestamp("2025-01-01"));
}
