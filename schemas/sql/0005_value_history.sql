-- 0005: MQTT ingest storage (issue 5): value history, hourly rollups, unit logs, per-node
-- history policy and the commit an Update command was sent for.
--
-- Choices, so readers need not guess:
-- * `unit_node_values` is partitioned by day on `created_at` (timestamptz). Retention drops whole
--   partitions (cheap, no vacuum debt) once they are older than the longest retention of any
--   node; nodes with a shorter retention lose their older rows by a DELETE in the same
--   maintenance run. A DEFAULT partition catches rows outside the prepared days (clock jumps,
--   maintenance not run); pepeunit_history_maintain moves such rows into the real partition
--   when it creates it, so nothing is ever refused.
-- * No foreign key from the history to units_nodes: a FK check per row halves COPY/INSERT
--   throughput, and orphans of deleted nodes are invisible (history is read per node) and age
--   out with their partition.
-- * `numeric_value` is the payload parsed as a finite number (NULL otherwise); rollups and the
--   deadband use it.
-- * `units.firmware_update_target` is the commit the last Update command carried; the state
--   handler compares the reported version with it (spec §8.5) instead of recomputing the target
--   from git on the ingest path. The command sender writes it together with RequestSent.

ALTER TABLE units_nodes
  ADD COLUMN history_policy         text             NOT NULL DEFAULT 'changes',
  ADD COLUMN history_deadband       double precision,
  ADD COLUMN history_retention_days integer          NOT NULL DEFAULT 30,
  ADD CONSTRAINT units_nodes_history_policy_check
    CHECK (history_policy IN ('off', 'changes', 'all')),
  ADD CONSTRAINT units_nodes_history_deadband_check
    CHECK (history_deadband IS NULL OR history_deadband >= 0),
  ADD CONSTRAINT units_nodes_history_retention_days_check
    CHECK (history_retention_days BETWEEN 1 AND 3650);

ALTER TABLE units ADD COLUMN firmware_update_target text;
-- The update-timeout sweeper looks only at units waiting for a device.
CREATE INDEX units_firmware_request_sent_idx ON units (last_firmware_update_datetime)
  WHERE firmware_update_status = 'RequestSent';

CREATE TABLE unit_node_values (
  unit_node_uuid  uuid              NOT NULL,
  value           text              NOT NULL,
  numeric_value   double precision,
  created_at      timestamptz       NOT NULL
) PARTITION BY RANGE (created_at);
-- Serves GET /unit_nodes/{uuid}/history (one node, a time range) on every partition.
CREATE INDEX unit_node_values_node_time_idx ON unit_node_values (unit_node_uuid, created_at);
CREATE TABLE unit_node_values_default PARTITION OF unit_node_values DEFAULT;

CREATE TABLE unit_node_value_rollups (
  unit_node_uuid  uuid              NOT NULL,
  bucket_start    timestamptz       NOT NULL,
  avg_value       double precision  NOT NULL,
  min_value       double precision  NOT NULL,
  max_value       double precision  NOT NULL,
  value_count     bigint            NOT NULL,
  CONSTRAINT unit_node_value_rollups_pkey PRIMARY KEY (unit_node_uuid, bucket_start)
);
CREATE INDEX unit_node_value_rollups_bucket_idx ON unit_node_value_rollups (bucket_start);

-- Logs of 2026-generation units (`output_base_topic/<unit>/log/pepeunit`), kept until
-- `expires_at` (the original: ClickHouse with a 24 h TTL).
CREATE TABLE unit_logs (
  uuid             uuid       NOT NULL DEFAULT gen_random_uuid(),
  unit_uuid        uuid       NOT NULL,
  level            text       NOT NULL,
  text             text       NOT NULL,
  create_datetime  timestamp  NOT NULL,
  expires_at       timestamp  NOT NULL,
  CONSTRAINT unit_logs_pkey PRIMARY KEY (uuid),
  CONSTRAINT unit_logs_level_check
    CHECK (level IN ('Debug', 'Info', 'Warning', 'Error', 'Critical')),
  CONSTRAINT unit_logs_unit_uuid_fkey FOREIGN KEY (unit_uuid)
    REFERENCES units (uuid) ON DELETE CASCADE
);
CREATE INDEX unit_logs_unit_time_idx ON unit_logs (unit_uuid, create_datetime);
CREATE INDEX unit_logs_expires_at_idx ON unit_logs (expires_at);

-- Creates the daily partitions from yesterday to `ahead_days` days ahead (moving any rows the
-- DEFAULT partition holds for such a day), drops partitions past the longest node retention,
-- deletes older rows of nodes with a shorter retention, rolls up the last `rollup_hours` hours
-- and deletes expired logs. Idempotent; safe to run from several instances at once (a
-- transaction-level advisory lock serializes them).
CREATE FUNCTION pepeunit_history_maintain(ahead_days integer DEFAULT 3, rollup_hours integer DEFAULT 2)
RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  day_start  date;
  part_name  text;
  max_keep   integer;
  part       record;
  part_upper timestamptz;
BEGIN
  PERFORM pg_advisory_xact_lock(7070657068697374);  -- "pephist"
  FOR i IN -1..ahead_days LOOP
    day_start := (now() AT TIME ZONE 'UTC')::date + i;
    part_name := 'unit_node_values_' || to_char(day_start, 'YYYYMMDD');
    IF to_regclass(part_name) IS NULL THEN
      EXECUTE format('CREATE TABLE %I (LIKE unit_node_values INCLUDING DEFAULTS)', part_name);
      EXECUTE format(
        'WITH moved AS (DELETE FROM unit_node_values_default WHERE created_at >= %L AND '
        'created_at < %L RETURNING *) INSERT INTO %I SELECT * FROM moved',
        day_start::timestamp AT TIME ZONE 'UTC', (day_start + 1)::timestamp AT TIME ZONE 'UTC',
        part_name);
      EXECUTE format('ALTER TABLE unit_node_values ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                     part_name, day_start::timestamp AT TIME ZONE 'UTC',
                     (day_start + 1)::timestamp AT TIME ZONE 'UTC');
    END IF;
  END LOOP;

  SELECT COALESCE(max(history_retention_days), 30) INTO max_keep FROM units_nodes;
  FOR part IN
    SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'unit_node_values'::regclass AND c.relname ~ '^unit_node_values_[0-9]{8}$'
  LOOP
    part_upper := (to_date(right(part.name, 8), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC';
    IF part_upper < now() - make_interval(days => max_keep) THEN
      EXECUTE format('DROP TABLE %I', part.name);
    END IF;
  END LOOP;
  DELETE FROM unit_node_values v USING units_nodes n
  WHERE v.unit_node_uuid = n.uuid AND n.history_retention_days < max_keep
    AND v.created_at < now() - make_interval(days => n.history_retention_days);
  DELETE FROM unit_node_value_rollups r USING units_nodes n
  WHERE r.unit_node_uuid = n.uuid
    AND r.bucket_start < now() - make_interval(days => n.history_retention_days);

  INSERT INTO unit_node_value_rollups AS r
    (unit_node_uuid, bucket_start, avg_value, min_value, max_value, value_count)
  SELECT unit_node_uuid, date_trunc('hour', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
         avg(numeric_value), min(numeric_value), max(numeric_value), count(*)
  FROM unit_node_values
  WHERE numeric_value IS NOT NULL
    AND created_at >= (date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
                      - make_interval(hours => rollup_hours - 1)
  GROUP BY 1, 2
  ON CONFLICT (unit_node_uuid, bucket_start) DO UPDATE
    SET avg_value = EXCLUDED.avg_value, min_value = EXCLUDED.min_value,
        max_value = EXCLUDED.max_value, value_count = EXCLUDED.value_count;

  DELETE FROM unit_logs WHERE expires_at < (now() AT TIME ZONE 'UTC');
END
$fn$;

SELECT pepeunit_history_maintain();
