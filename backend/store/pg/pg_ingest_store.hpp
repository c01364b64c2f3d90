// PostgreSQL adapter of the ingest port: array-parameter statements (one round trip per batch)
// over its own small connection pool, so ingest never waits behind HTTP requests.
#pragma once

#include "store/ingest_store.hpp"
#include "store/pg/pool.hpp"

namespace pepeunit::store::pg {

class PgIngestStore final : public IngestStore {
 public:
  explicit PgIngestStore(Pool& pool) : pool_(pool) {}

  std::vector<IngestNode> loadNodes() override;
  void writeValues(std::span<const LastValueWrite> last_values,
                   std::span<const HistoryWrite> history) override;
  std::vector<bool> saveStates(std::span<const UnitStateWrite> states,
                               const StatusDecider& decide) override;
  std::size_t insertLogs(std::span<const UnitLogWrite> logs) override;
  std::size_t expireUpdateRequests(Timestamp cutoff, const std::string& error) override;
  void maintainHistory() override;

 private:
  Pool& pool_;
};

}  // namespace pepeunit::store::pg
