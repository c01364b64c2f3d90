-- 0001: the Pepeunit E3 data model (pepeunit_backend_spec.md §1.1-1.6, §1.8, §1.9).
--
-- Forward-only: once applied anywhere, this file is never edited (the migrator refuses a changed
-- checksum); later changes go into new numbered files. No transaction control here: the
-- migrator runs each file in its own transaction.
--
-- Choices, so readers need not guess:
-- * Timestamps are `timestamp` (without time zone) holding naive UTC, exactly like the original,
--   so the REST layer prints them the way FastAPI did ("2024-05-01T12:00:00.123456") whatever the
--   session TimeZone is. Defaults are `now() AT TIME ZONE 'UTC'`.
-- * The original's unbounded varchar columns are `text` (the same thing in PostgreSQL).
-- * Enums are `text` with CHECK constraints on the exact §1.8 values, so adding a value later is
--   a constraint swap rather than an ALTER TYPE; `Bot` is never stored as a role.
-- * Name rules (4..20 chars of [A-Za-z0-9_.-]) stay in the service: the original only added them
--   in 2024-08, so data imported from an older instance may not satisfy them.
-- * UUIDs default to gen_random_uuid() (built in since PostgreSQL 13; no extension needed).
-- * Uniqueness the original only enforced in its services ("Edge exist", "Permission is exist")
--   is enforced here too, so two concurrent requests cannot both win.
-- * Constraints have explicit names: the store layer maps a violated constraint to the right
--   E3 error message (store/pg/errors.hpp).

CREATE TABLE users (
  uuid                 uuid        NOT NULL DEFAULT gen_random_uuid(),
  role                 text        NOT NULL,
  status               text        NOT NULL,
  login                text        NOT NULL,
  telegram_chat_id     text,
  hashed_password      text        NOT NULL,
  cipher_dynamic_salt  text        NOT NULL,
  create_datetime      timestamp   NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
  CONSTRAINT users_pkey PRIMARY KEY (uuid),
  CONSTRAINT users_login_key UNIQUE (login),
  CONSTRAINT users_telegram_chat_id_key UNIQUE (telegram_chat_id),
  CONSTRAINT users_role_check CHECK (role IN ('User', 'Admin')),
  CONSTRAINT users_status_check CHECK (status IN ('Unverified', 'Verified', 'Blocked'))
);
CREATE INDEX users_create_datetime_idx ON users (create_datetime);

CREATE TABLE repos (
  uuid                                  uuid       NOT NULL DEFAULT gen_random_uuid(),
  visibility_level                      text       NOT NULL DEFAULT 'Public',
  name                                  text       NOT NULL,
  create_datetime                       timestamp  NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
  last_update_datetime                  timestamp  NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
  repo_url                              text       NOT NULL,
  platform                              text       NOT NULL DEFAULT 'Gitlab',
  is_public_repository                  boolean    NOT NULL DEFAULT true,
  cipher_credentials_private_repository text,
  default_branch                        text,
  is_compilable_repo                    boolean    NOT NULL DEFAULT false,
  releases_data                         text,
  is_auto_update_repo                   boolean    NOT NULL DEFAULT true,
  default_commit                        text,
  is_only_tag_update                    boolean    NOT NULL DEFAULT false,
  creator_uuid                          uuid,
  CONSTRAINT repos_pkey PRIMARY KEY (uuid),
  CONSTRAINT repos_name_key UNIQUE (name),
  CONSTRAINT repos_visibility_level_check
    CHECK (visibility_level IN ('Public', 'Internal', 'Private')),
  CONSTRAINT repos_platform_check CHECK (platform IN ('Gitlab', 'Github')),
  CONSTRAINT repos_creator_uuid_fkey FOREIGN KEY (creator_uuid)
    REFERENCES users (uuid) ON DELETE CASCADE
);
CREATE INDEX repos_creator_uuid_idx ON repos (creator_uuid);
CREATE INDEX repos_visibility_level_idx ON repos (visibility_level);
CREATE INDEX repos_create_datetime_idx ON repos (create_datetime);
CREATE INDEX repos_last_update_datetime_idx ON repos (last_update_datetime);

CREATE TABLE units (
  uuid                           uuid       NOT NULL DEFAULT gen_random_uuid(),
  visibility_level               text       NOT NULL DEFAULT 'Public',
  name                           text       NOT NULL,
  create_datetime                timestamp  NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
  last_update_datetime           timestamp  NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
  is_auto_update_from_repo_unit  boolean    NOT NULL DEFAULT true,
  target_firmware_platform       text,
  repo_branch                    text,
  repo_commit                    text,
  unit_state_dict                text,
  current_commit_version         text,
  cipher_env_dict                text,
  cipher_state_storage           text,
  firmware_update_status         text,
  firmware_update_error          text,
  last_firmware_update_datetime  timestamp,
  creator_uuid                   uuid,
  repo_uuid                      uuid,
  CONSTRAINT units_pkey PRIMARY KEY (uuid),
  CONSTRAINT units_name_key UNIQUE (name),
  CONSTRAINT units_visibility_level_check
    CHECK (visibility_level IN ('Public', 'Internal', 'Private')),
  CONSTRAINT units_firmware_update_status_check
    CHECK (firmware_update_status IN ('RequestSent', 'Error', 'Success')),
  CONSTRAINT units_creator_uuid_fkey FOREIGN KEY (creator_uuid)
    REFERENCES users (uuid) ON DELETE CASCADE,
  CONSTRAINT units_repo_uuid_fkey FOREIGN KEY (repo_uuid)
    REFERENCES repos (uuid) ON DELETE CASCADE
);
CREATE INDEX units_creator_uuid_idx ON units (creator_uuid);
-- Also serves GET /repos/versions/{uuid} (group a repo's units by reported version).
CREATE INDEX units_repo_uuid_idx ON units (repo_uuid, current_commit_version);
CREATE INDEX units_visibility_level_idx ON units (visibility_level);
CREATE INDEX units_create_datetime_idx ON units (create_datetime);
CREATE INDEX units_last_update_datetime_idx ON units (last_update_datetime);

CREATE TABLE units_nodes (
  uuid                  uuid       NOT NULL DEFAULT gen_random_uuid(),
  type                  text       NOT NULL,
  visibility_level      text       NOT NULL,
  is_rewritable_input   boolean    NOT NULL DEFAULT false,
  topic_name            text       NOT NULL,
  create_datetime       timestamp  NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
  state                 text,
  last_update_datetime  timestamp  NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
  creator_uuid          uuid,
  unit_uuid             uuid,
  CONSTRAINT units_nodes_pkey PRIMARY KEY (uuid),
  CONSTRAINT units_nodes_type_check CHECK (type IN ('Output', 'Input')),
  CONSTRAINT units_nodes_visibility_level_check
    CHECK (visibility_level IN ('Public', 'Internal', 'Private')),
  -- Only Input nodes can be made writable by other Units (spec §1.4, §2.5).
  CONSTRAINT units_nodes_rewritable_input_check CHECK (NOT is_rewritable_input OR type = 'Input'),
  CONSTRAINT units_nodes_creator_uuid_fkey FOREIGN KEY (creator_uuid)
    REFERENCES users (uuid) ON DELETE CASCADE,
  CONSTRAINT units_nodes_unit_uuid_fkey FOREIGN KEY (unit_uuid)
    REFERENCES units (uuid) ON DELETE CASCADE
);
-- (unit_uuid, type, topic_name) is the logical key kept by the schema reconcile; it is not
-- declared UNIQUE because the original never enforced it and imported data may hold duplicates.
CREATE INDEX units_nodes_unit_type_topic_idx ON units_nodes (unit_uuid, type, topic_name);
CREATE INDEX units_nodes_creator_uuid_idx ON units_nodes (creator_uuid);
CREATE INDEX units_nodes_visibility_level_idx ON units_nodes (visibility_level);
CREATE INDEX units_nodes_create_datetime_idx ON units_nodes (create_datetime);

CREATE TABLE units_nodes_edges (
  uuid              uuid  NOT NULL DEFAULT gen_random_uuid(),
  node_output_uuid  uuid  NOT NULL,
  node_input_uuid   uuid  NOT NULL,
  creator_uuid      uuid,
  CONSTRAINT units_nodes_edges_pkey PRIMARY KEY (uuid),
  CONSTRAINT units_nodes_edges_pair_key UNIQUE (node_output_uuid, node_input_uuid),
  CONSTRAINT units_nodes_edges_node_output_uuid_fkey FOREIGN KEY (node_output_uuid)
    REFERENCES units_nodes (uuid) ON DELETE CASCADE,
  CONSTRAINT units_nodes_edges_node_input_uuid_fkey FOREIGN KEY (node_input_uuid)
    REFERENCES units_nodes (uuid) ON DELETE CASCADE,
  CONSTRAINT units_nodes_edges_creator_uuid_fkey FOREIGN KEY (creator_uuid)
    REFERENCES users (uuid) ON DELETE CASCADE
);
-- Lookups by output use the pair key; these serve lookups by input and the cascades.
CREATE INDEX units_nodes_edges_node_input_uuid_idx ON units_nodes_edges (node_input_uuid);
CREATE INDEX units_nodes_edges_creator_uuid_idx ON units_nodes_edges (creator_uuid);

-- Typed foreign keys (E3) so deleting an agent or a resource cascades to its grants. The
-- generated `agent_uuid` / `resource_uuid` columns are the API's PermissionRead view of the row
-- and carry the uniqueness and lookup indexes: a uuid names one entity, so (agent, resource)
-- needs no type columns to be unique.
CREATE TABLE permissions (
  uuid                     uuid  NOT NULL DEFAULT gen_random_uuid(),
  agent_type               text  NOT NULL,
  agent_user_uuid          uuid,
  agent_unit_uuid          uuid,
  resource_type            text  NOT NULL,
  resource_repo_uuid       uuid,
  resource_unit_uuid       uuid,
  resource_unit_node_uuid  uuid,
  -- Ours: a time-limited grant stops counting after this instant (naive UTC); NULL = forever.
  valid_until              timestamp,
  agent_uuid               uuid  GENERATED ALWAYS AS (COALESCE(agent_user_uuid, agent_unit_uuid))
                                 STORED,
  resource_uuid            uuid  GENERATED ALWAYS AS (
                                   COALESCE(resource_repo_uuid, resource_unit_uuid,
                                            resource_unit_node_uuid)) STORED,
  CONSTRAINT permissions_pkey PRIMARY KEY (uuid),
  CONSTRAINT permissions_agent_resource_key UNIQUE (agent_uuid, resource_uuid),
  CONSTRAINT permissions_agent_type_check CHECK (
    (agent_type = 'User' AND agent_user_uuid IS NOT NULL AND agent_unit_uuid IS NULL) OR
    (agent_type = 'Unit' AND agent_unit_uuid IS NOT NULL AND agent_user_uuid IS NULL)),
  CONSTRAINT permissions_resource_type_check CHECK (
    num_nonnulls(resource_repo_uuid, resource_unit_uuid, resource_unit_node_uuid) = 1 AND (
      (resource_type = 'Repo' AND resource_repo_uuid IS NOT NULL) OR
      (resource_type = 'Unit' AND resource_unit_uuid IS NOT NULL) OR
      (resource_type = 'UnitNode' AND resource_unit_node_uuid IS NOT NULL))),
  CONSTRAINT permissions_agent_user_uuid_fkey FOREIGN KEY (agent_user_uuid)
    REFERENCES users (uuid) ON DELETE CASCADE,
  CONSTRAINT permissions_agent_unit_uuid_fkey FOREIGN KEY (agent_unit_uuid)
    REFERENCES units (uuid) ON DELETE CASCADE,
  CONSTRAINT permissions_resource_repo_uuid_fkey FOREIGN KEY (resource_repo_uuid)
    REFERENCES repos (uuid) ON DELETE CASCADE,
  CONSTRAINT permissions_resource_unit_uuid_fkey FOREIGN KEY (resource_unit_uuid)
    REFERENCES units (uuid) ON DELETE CASCADE,
  CONSTRAINT permissions_resource_unit_node_uuid_fkey FOREIGN KEY (resource_unit_node_uuid)
    REFERENCES units_nodes (uuid) ON DELETE CASCADE
);
-- "What may this agent see" uses the unique key's leading column; "who may see this resource"
-- (GET /permission/get_resource_agents) uses this one.
CREATE INDEX permissions_resource_agent_type_idx ON permissions (resource_uuid, agent_type);
-- One partial index per typed FK, so a cascade from users/units/repos/units_nodes finds its
-- grants without a sequential scan.
CREATE INDEX permissions_agent_user_uuid_idx ON permissions (agent_user_uuid)
  WHERE agent_user_uuid IS NOT NULL;
CREATE INDEX permissions_agent_unit_uuid_idx ON permissions (agent_unit_uuid)
  WHERE agent_unit_uuid IS NOT NULL;
CREATE INDEX permissions_resource_repo_uuid_idx ON permissions (resource_repo_uuid)
  WHERE resource_repo_uuid IS NOT NULL;
CREATE INDEX permissions_resource_unit_uuid_idx ON permissions (resource_unit_uuid)
  WHERE resource_unit_uuid IS NOT NULL;
CREATE INDEX permissions_resource_unit_node_uuid_idx ON permissions (resource_unit_node_uuid)
  WHERE resource_unit_node_uuid IS NOT NULL;
-- For the sweeper that drops expired time-limited grants.
CREATE INDEX permissions_valid_until_idx ON permissions (valid_until)
  WHERE valid_until IS NOT NULL;
