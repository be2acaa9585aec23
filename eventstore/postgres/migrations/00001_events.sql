-- The event log and the checkpoints of its tailers.
--
-- position is the global position. It is assigned by Append while it holds
-- a transaction-level advisory lock that it keeps until after its commit, so
-- positions become visible in increasing order (see the package comment):
-- a reader that has seen position p will never see a lower one appear.
-- tx_id records the writing transaction (pg_current_xact_id()); readers do
-- not need it, it is there for diagnostics (pg_xact_status, and
-- pg_xact_commit_timestamp when track_commit_timestamp is on).

-- +goose Up
CREATE TABLE events (
    position       bigint      NOT NULL PRIMARY KEY CHECK (position > 0),
    event_id       uuid        NOT NULL UNIQUE,
    stream_id      text        NOT NULL,
    version        bigint      NOT NULL CHECK (version > 0),
    type           text        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    actor_id       text        NOT NULL DEFAULT '',
    actor_role     text        NOT NULL DEFAULT '',
    correlation_id text        NOT NULL DEFAULT '',
    causation_id   text        NOT NULL DEFAULT '',
    tags           text[]      NOT NULL DEFAULT '{}',
    -- The payload exactly as the caller gave it (bytea, not jsonb, which
    -- would reorder keys and drop duplicates); NULL when it was nil.
    data           bytea,
    -- Where the event sits in the Append that stored it, so that a retry
    -- can be told apart from an append of only some of its events.
    append_index   integer     NOT NULL,
    append_size    integer     NOT NULL,
    tx_id          xid8        NOT NULL DEFAULT pg_current_xact_id(),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, version)
);

-- Audit queries (Filter): by actor, by tag, by type, by time.
CREATE INDEX events_actor_position_idx ON events (actor_id, position);
CREATE INDEX events_tags_idx ON events USING gin (tags);
CREATE INDEX events_type_position_idx ON events (type, position);
CREATE INDEX events_occurred_at_idx ON events (occurred_at);

CREATE TABLE checkpoints (
    name       text        NOT NULL PRIMARY KEY,
    position   bigint      NOT NULL CHECK (position >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE checkpoints;
DROP TABLE events;
