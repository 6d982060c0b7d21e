"""Postgres read-model schema: experiments, runs, params, tags, latest metrics; registry.

Migrations are numbered and applied once each, inside one transaction guarded
by an advisory lock, so several workers starting together are safe.
"""

from __future__ import annotations

import psycopg

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE experiments (
        experiment_id     text PRIMARY KEY,
        name              text NOT NULL UNIQUE,
        artifact_location text NOT NULL DEFAULT '',
        lifecycle_stage   text NOT NULL DEFAULT 'active',
        creation_time     timestamptz NOT NULL,
        last_update_time  timestamptz NOT NULL
    );
    CREATE TABLE experiment_tags (
        experiment_id text NOT NULL,
        key           text NOT NULL,
        value         text NOT NULL,
        PRIMARY KEY (experiment_id, key)
    );
    CREATE TABLE runs (
        run_id          text PRIMARY KEY,
        experiment_id   text NOT NULL,
        run_name        text NOT NULL DEFAULT '',
        parent_run_id   text NOT NULL DEFAULT '',
        user_id         text NOT NULL DEFAULT '',
        status          text NOT NULL,
        start_time      timestamptz,
        end_time        timestamptz,
        lifecycle_stage text NOT NULL DEFAULT 'active'
    );
    CREATE INDEX runs_by_experiment_start ON runs (experiment_id, start_time DESC, run_id);
    CREATE TABLE params (
        run_id text NOT NULL,
        key    text NOT NULL,
        value  text NOT NULL,
        PRIMARY KEY (run_id, key)
    );
    CREATE TABLE tags (
        run_id text NOT NULL,
        key    text NOT NULL,
        value  text NOT NULL,
        PRIMARY KEY (run_id, key)
    );
    CREATE TABLE latest_metrics (
        run_id       text NOT NULL,
        key          text NOT NULL,
        step         bigint NOT NULL,
        timestamp_ms bigint NOT NULL,
        value        double precision NOT NULL,
        PRIMARY KEY (run_id, key)
    );
    -- Tracking rows: the last Kafka offset applied per (projection, topic, partition),
    -- written in the same transaction as the view change it tracks.
    CREATE TABLE projection_offsets (
        projection  text NOT NULL,
        topic       text NOT NULL,
        partition   integer NOT NULL,
        last_offset bigint NOT NULL,
        PRIMARY KEY (projection, topic, partition)
    );
    """,
    # 2: the model registry (projected from registry events; see ingest/writers/registry.py).
    """
    CREATE TABLE registered_models (
        model_id          text PRIMARY KEY,
        name              text NOT NULL UNIQUE,
        description       text NOT NULL DEFAULT '',
        creation_time     timestamptz NOT NULL,
        last_updated_time timestamptz NOT NULL,
        -- the last version number allocated (never reused, even after deletes)
        last_version      integer NOT NULL DEFAULT 0
    );
    CREATE TABLE registered_model_tags (
        model_id text NOT NULL,
        key      text NOT NULL,
        value    text NOT NULL,
        PRIMARY KEY (model_id, key)
    );
    CREATE TABLE model_versions (
        model_id          text NOT NULL,
        version           integer NOT NULL,
        source            text NOT NULL,
        run_id            text NOT NULL DEFAULT '',
        description       text NOT NULL DEFAULT '',
        user_id           text NOT NULL DEFAULT '',
        current_stage     text NOT NULL DEFAULT 'None',
        status            text NOT NULL,
        status_message    text NOT NULL DEFAULT '',
        creation_time     timestamptz NOT NULL,
        last_updated_time timestamptz NOT NULL,
        created_event_id  text NOT NULL UNIQUE,
        PRIMARY KEY (model_id, version)
    );
    CREATE INDEX model_versions_by_run ON model_versions (run_id);
    CREATE TABLE model_version_tags (
        model_id text NOT NULL,
        version  integer NOT NULL,
        key      text NOT NULL,
        value    text NOT NULL,
        PRIMARY KEY (model_id, version, key)
    );
    CREATE TABLE registered_model_aliases (
        model_id text NOT NULL,
        alias    text NOT NULL,
        version  integer NOT NULL,
        PRIMARY KEY (model_id, alias)
    );
    -- Every stage and alias change (kind STAGE or ALIAS), kept after deletes.
    CREATE TABLE registry_audit (
        event_id   text NOT NULL,
        model_id   text NOT NULL,
        model_name text NOT NULL,
        version    integer NOT NULL,
        kind       text NOT NULL,
        alias      text NOT NULL DEFAULT '',
        from_value text NOT NULL,
        to_value   text NOT NULL,
        actor      text NOT NULL,
        at         timestamptz NOT NULL,
        PRIMARY KEY (event_id, version, kind, alias)
    );
    CREATE INDEX registry_audit_by_model ON registry_audit (model_id, at);
    -- One row per applied registry event: OK (with the version a create allocated) or
    -- the conflict only the projection could see. Also makes the projection idempotent.
    CREATE TABLE registry_command_results (
        event_id text PRIMARY KEY,
        model_id text NOT NULL,
        code     text NOT NULL,
        message  text NOT NULL DEFAULT '',
        version  integer
    );
    """,
    """
    ALTER TABLE runs ADD COLUMN artifact_uri text NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN deleted_time timestamptz;
    ALTER TABLE experiments ADD COLUMN deleted_time timestamptz;
    -- Files logged to a run's artifact store (ArtifactLogged events).
    CREATE TABLE run_artifacts (
        run_id    text NOT NULL,
        path      text NOT NULL,
        size      bigint NOT NULL,
        digest    text NOT NULL,
        logged_at timestamptz NOT NULL,
        PRIMARY KEY (run_id, path)
    );
    -- Dataset inputs of a run (log_input).
    CREATE TABLE run_inputs (
        run_id         text NOT NULL,
        dataset_name   text NOT NULL,
        dataset_digest text NOT NULL,
        context        text NOT NULL DEFAULT '',
        source_type    text NOT NULL DEFAULT '',
        source         text NOT NULL DEFAULT '',
        schema         text NOT NULL DEFAULT '',
        profile        text NOT NULL DEFAULT '',
        PRIMARY KEY (run_id, dataset_name, dataset_digest, context)
    );
    """,
    # 4: indexes for the search language (query/filters/sql.py). Params and tags are indexed
    # on a value prefix: a whole value (up to 8,000 characters) may not fit a btree entry.
    """
    CREATE INDEX latest_metrics_by_key_value ON latest_metrics (key, value) INCLUDE (run_id);
    CREATE INDEX params_by_key_value ON params (key, left(value, 200)) INCLUDE (run_id);
    CREATE INDEX tags_by_key_value ON tags (key, left(value, 200)) INCLUDE (run_id);
    """,
    # 5: event ids already applied, per projection (ingest/writers/event_ids.py): an event sent
    # twice (an SDK resend after a lost acknowledgement) takes effect once.
    """
    CREATE TABLE applied_events (
        projection text NOT NULL,
        event_id   text NOT NULL,
        topic      text NOT NULL,
        partition  integer NOT NULL,
        "offset"   bigint NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (projection, event_id)
    );
    CREATE INDEX applied_events_by_time ON applied_events (applied_at);
    """,
    # 6: dead letters sent back to the events topic by `tracklog dlq replay`,
    # each at most once, and where its copy landed (a copy rejected again is recognised).
    """
    CREATE TABLE dead_letter_replays (
        dlq_log          text NOT NULL,
        dlq_partition    integer NOT NULL,
        dlq_offset       bigint NOT NULL,
        reason           text NOT NULL,
        target_topic     text NOT NULL,
        target_partition integer NOT NULL,
        target_offset    bigint NOT NULL,
        replayed_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (dlq_log, dlq_partition, dlq_offset)
    );
    CREATE INDEX dead_letter_replays_by_target
        ON dead_letter_replays (target_topic, target_partition, target_offset);
    """,
    # MLflow 3's logged models (ingest/writers/logged_models.py)
    """
    CREATE TABLE logged_models (
        model_id          text PRIMARY KEY,
        experiment_id     text NOT NULL,
        name              text NOT NULL,
        source_run_id     text NOT NULL DEFAULT '',
        model_type        text NOT NULL DEFAULT '',
        artifact_location text NOT NULL DEFAULT '',
        status            text NOT NULL DEFAULT 'PENDING',
        status_message    text NOT NULL DEFAULT '',
        lifecycle_stage   text NOT NULL DEFAULT 'active',
        creation_time     timestamptz NOT NULL,
        last_updated_time timestamptz NOT NULL
    );
    CREATE INDEX logged_models_by_experiment
        ON logged_models (experiment_id, creation_time DESC, model_id);
    CREATE TABLE logged_model_tags (
        model_id text NOT NULL,
        key      text NOT NULL,
        value    text NOT NULL,
        PRIMARY KEY (model_id, key)
    );
    CREATE TABLE logged_model_params (
        model_id text NOT NULL,
        key      text NOT NULL,
        value    text NOT NULL,
        PRIMARY KEY (model_id, key)
    );
    -- every point a run logged for a model (value in the key: NaN and repeats are kept)
    CREATE TABLE logged_model_metrics (
        model_id       text NOT NULL,
        key            text NOT NULL,
        value          double precision NOT NULL,
        timestamp_ms   bigint NOT NULL,
        step           bigint NOT NULL,
        dataset_name   text NOT NULL DEFAULT '',
        dataset_digest text NOT NULL DEFAULT '',
        run_id         text NOT NULL,
        PRIMARY KEY (model_id, key, step, timestamp_ms, value, dataset_name, dataset_digest)
    );
    CREATE TABLE run_outputs (
        run_id   text NOT NULL,
        model_id text NOT NULL,
        step     bigint NOT NULL,
        PRIMARY KEY (run_id, model_id, step)
    );
    """,
    # 8: the logged model a registry version was registered from (MLflow's ModelVersion.model_id)
    """
    ALTER TABLE model_versions ADD COLUMN logged_model_id text NOT NULL DEFAULT '';
    """,
    # 9: logged models a run used as inputs (MLflow's log_inputs with models)
    """
    CREATE TABLE run_model_inputs (
        run_id   text NOT NULL,
        model_id text NOT NULL,
        PRIMARY KEY (run_id, model_id)
    );
    """,
    # 10: a dataset input's tags other than its context ([[key, value], ...] in order)
    """
    ALTER TABLE run_inputs ADD COLUMN tags jsonb NOT NULL DEFAULT '[]';
    """,
    # 11: who may call the query service (query/auth): users, their bearer tokens (only a
    # SHA-256 of each is kept), and permissions per experiment and per registered model
    # (by model id, so a rename keeps them); no row means the default permission.
    """
    CREATE TABLE users (
        user_name  text PRIMARY KEY,
        is_admin   boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE access_tokens (
        token_id     text PRIMARY KEY,
        user_name    text NOT NULL REFERENCES users ON DELETE CASCADE,
        token_sha256 text NOT NULL UNIQUE,
        created_at   timestamptz NOT NULL DEFAULT now(),
        revoked_at   timestamptz,
        last_used_at timestamptz
    );
    CREATE TABLE experiment_permissions (
        experiment_id text NOT NULL,
        user_name     text NOT NULL REFERENCES users ON DELETE CASCADE,
        permission    text NOT NULL
            CHECK (permission IN ('NO_PERMISSIONS', 'READ', 'EDIT', 'MANAGE')),
        PRIMARY KEY (experiment_id, user_name)
    );
    CREATE TABLE registered_model_permissions (
        model_id   text NOT NULL,
        user_name  text NOT NULL REFERENCES users ON DELETE CASCADE,
        permission text NOT NULL
            CHECK (permission IN ('NO_PERMISSIONS', 'READ', 'EDIT', 'MANAGE')),
        PRIMARY KEY (model_id, user_name)
    );
    """,
    # 12: the order key (ingest/projectors/order.py) of the change each last-writer-wins
    # value holds: a value changes only for an event at least as late in its aggregate's
    # order; deleted tags and aliases leave a tombstone with the delete's key, so a late
    # older set does not bring them back. '' (every row before this migration) sorts first.
    """
    ALTER TABLE experiments ADD COLUMN name_order text COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE experiments ADD COLUMN lifecycle_order text COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE experiment_tags ADD COLUMN order_key text COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN name_order text COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN status_order text COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN lifecycle_order text COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE tags ADD COLUMN order_key text COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE registered_models ADD COLUMN description_order text COLLATE "C"
        NOT NULL DEFAULT '';
    ALTER TABLE registered_model_tags ADD COLUMN order_key text COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE model_versions ADD COLUMN description_order text COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE model_versions ADD COLUMN stage_order text COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE model_version_tags ADD COLUMN order_key text COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE registered_model_aliases ADD COLUMN order_key text COLLATE "C"
        NOT NULL DEFAULT '';
    ALTER TABLE logged_models ADD COLUMN status_order text COLLATE "C" NOT NULL DEFAULT '';
    ALTER TABLE logged_model_tags ADD COLUMN order_key text COLLATE "C" NOT NULL DEFAULT '';
    -- kind: the table the deleted value lived in; owner: its owner's id (a model version's
    -- as '<model id>/<version>').
    CREATE TABLE lww_tombstones (
        kind      text NOT NULL,
        owner     text NOT NULL,
        key       text NOT NULL,
        order_key text COLLATE "C" NOT NULL,
        PRIMARY KEY (kind, owner, key)
    );
    """,
    # 13: registry events moved to their own topic (issue 12). Those the stores had applied
    # from the events topic by then are history, still accepted there (by the worker and
    # `tracklog replay`); later ones are refused (ingest/decode/authority.py). Per partition of
    # each log of the events topic: the last offset applied when this migration ran.
    """
    CREATE TABLE registry_history_bounds (
        topic       text NOT NULL,
        partition   integer NOT NULL,
        last_offset bigint NOT NULL,
        PRIMARY KEY (topic, partition)
    );
    INSERT INTO registry_history_bounds (topic, partition, last_offset)
        SELECT topic, partition, max(last_offset) FROM projection_offsets
        GROUP BY topic, partition;
    """,
    # 14: SearchRuns at scale (query/stores/search.py, issue 13). Runs in the default order
    # (newest first) can be walked in index order, so a page of a selective search stops after
    # its runs instead of sorting every match. Params and tags get statistics on (key, value)
    # pairs: without them the planner multiplies the key's and the value's frequencies, as if
    # independent (`lr = '0.01'` estimated at a quarter of its rows), and picks the wrong plan.
    """
    CREATE INDEX runs_by_start ON runs (start_time DESC NULLS LAST, run_id);
    CREATE STATISTICS params_by_key_value_pairs (mcv) ON key, left(value, 200) FROM params;
    CREATE STATISTICS tags_by_key_value_pairs (mcv) ON key, left(value, 200) FROM tags;
    """,
)

_LOCK_KEY = 0x7472_6B6C  # "trkl"


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """Apply the migrations not applied yet; return the schema version."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
        current = int(row[0]) if row else 0  # type: ignore[call-overload]
        for version, ddl in enumerate(MIGRATIONS, start=1):
            if version > current:
                conn.execute(ddl.encode())
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
    return len(MIGRATIONS)
