// REST routes of the value history and unit logs (issue 5 items 3 and 5):
//   GET /unit_nodes/{uuid}/history      query from, to (ISO 8601, default the last 24 h), limit
//       (<= BACKEND_MAX_PAGINATION_SIZE, default that maximum), format=json|csv (default json)
//       json: 200 {"count", "values": [{"value", "numeric", "created_at"}]} (count = values in
//       the range before the limit; values = the newest `limit`, oldest first)
//       csv:  200 text/csv "created_at,value" rows (RFC 4180 quoting)
//   GET /unit_nodes/{uuid}/aggregates   query bucket=hour|day (default hour), from, to
//       200 [{"bucket_start", "avg", "min", "max", "count"}]
//   GET /units/log_list/                query uuid (the Unit, required), level (repeated), from,
//       to, offset, limit → 200 {"count", "unit_logs": [{"uuid", "level", "text",
//       "create_datetime", "expiration_datetime", "unit_uuid"}]}
// Visibility of the node routes is that of GET /unit_nodes/{uuid}; logs: see HistoryService.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http/api.hpp"
#include "service/history_service.hpp"

namespace pepeunit::http {

void registerHistoryRoutes(Api& api, service::HistoryService& history, std::int64_t max_page);

/// One CSV field: quoted (with doubled quotes) when it holds a comma, quote, CR or LF.
std::string csvField(std::string_view text);

}  // namespace pepeunit::http
