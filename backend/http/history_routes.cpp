// Request parsing and response shaping for the history and log routes; the access rules live
// in HistoryService.
#include "http/history_routes.hpp"

#include "http/user_routes.hpp"
#include "service/ingest_rules.hpp"

namespace pepeunit::http {
namespace {

std::optional<store::Timestamp> timeParam(const Query& query, const std::string& name) {
  const auto text = query.text(name);
  if (!text)
    return std::nullopt;
  const auto time = service::ingest::parseIsoTimestamp(*text);
  if (!time)
    Query::invalid(name, "must be an ISO 8601 date-time");
  return time;
}

service::TimeRange timeRange(const Query& query) {
  service::TimeRange range{timeParam(query, "from"), timeParam(query, "to")};
  if (range.from && range.to && *range.from > *range.to) {
    Query::invalid("from", "must not be after 'to'");
  }
  return range;
}

nlohmann::json numberOrNull(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

}  // namespace

std::string csvField(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos)
    return std::string(text);
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"')
      out += '"';
    out += c;
  }
  return out + '"';
}

void registerHistoryRoutes(Api& api, service::HistoryService& history, std::int64_t max_page) {
  api.get("/unit_nodes/{uuid}/history", [&history, max_page](RequestContext& ctx) {
    const auto uuid = ctx.uuidParam("uuid");
    const auto query = ctx.query();
    const auto format = query.text("format").value_or("json");
    if (format != "json" && format != "csv") {
      Query::invalid("format", "has an unknown value '" + format + "' (json or csv)");
    }
    const auto range = timeRange(query);
    const auto limit = query.paging(max_page).limit;
    const auto page = history.values(ctx.principal, uuid, range, limit);
    if (format == "csv") {
      std::string body = "created_at,value\r\n";
      for (const auto& value : page.values) {
        body += isoDatetime(value.created_at) + ',' + csvField(value.value) + "\r\n";
      }
      ctx.response.status = 200;
      ctx.response.set_content(body, "text/csv; charset=utf-8");
      return;
    }
    auto values = nlohmann::json::array();
    for (const auto& value : page.values) {
      values.push_back({{"value", value.value},
                        {"numeric", numberOrNull(value.numeric)},
                        {"created_at", isoDatetime(value.created_at)}});
    }
    ctx.sendJson({{"count", page.count}, {"values", std::move(values)}});
  });

  api.get("/unit_nodes/{uuid}/aggregates", [&history](RequestContext& ctx) {
    const auto uuid = ctx.uuidParam("uuid");
    const auto query = ctx.query();
    const auto bucket_text = query.text("bucket").value_or("hour");
    if (bucket_text != "hour" && bucket_text != "day") {
      Query::invalid("bucket", "has an unknown value '" + bucket_text + "' (hour or day)");
    }
    const auto bucket =
        bucket_text == "day" ? store::AggregateBucket::kDay : store::AggregateBucket::kHour;
    const auto range = timeRange(query);
    auto out = nlohmann::json::array();
    for (const auto& a : history.aggregates(ctx.principal, uuid, bucket, range)) {
      out.push_back({{"bucket_start", isoDatetime(a.bucket_start)},
                     {"avg", a.avg},
                     {"min", a.min},
                     {"max", a.max},
                     {"count", a.count}});
    }
    ctx.sendJson(out);
  });

  api.get("/units/log_list/", [&history, max_page](RequestContext& ctx) {
    const auto query = ctx.query();
    store::UnitLogFilter filter;
    filter.unit = query.requiredUuid("uuid");
    filter.levels = query.list("level");
    const auto range = timeRange(query);
    filter.from = range.from;
    filter.to = range.to;
    const auto paging = query.paging(max_page);
    filter.offset = paging.offset;
    filter.limit = paging.limit;
    const auto page = history.logs(ctx.principal, filter);
    auto logs = nlohmann::json::array();
    for (const auto& log : page.rows) {
      logs.push_back({{"uuid", log.uuid.toString()},
                      {"level", log.level},
                      {"text", log.text},
                      {"create_datetime", isoDatetime(log.create_datetime)},
                      {"expiration_datetime", isoDatetime(log.expiration_datetime)},
                      {"unit_uuid", log.unit_uuid.toString()}});
    }
    ctx.sendJson({{"count", page.count}, {"unit_logs", std::move(logs)}});
  });
}

}  // namespace pepeunit::http
