-- Operating optimerge: the operator role, the pipeline.metrics windows kept for the console,
-- dead-letter retries asked for by operators, and the notifier's delivery log.
-- depends: 0002_users

ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('reviewer', 'auditor', 'admin', 'operator'));

-- One row per PipelineMetricsWindow (its deterministic event_id: a redelivery is a no-op).
CREATE TABLE metrics_windows (
    event_id           uuid PRIMARY KEY,
    worker_id          text NOT NULL,
    window_start       timestamptz NOT NULL,
    window_end         timestamptz NOT NULL,
    documents          integer NOT NULL,
    auto_approved      integer NOT NULL,
    flagged            integer NOT NULL,
    merge_failures     integer NOT NULL,
    dead_letters       integer NOT NULL,
    rollbacks          integer NOT NULL,
    reviewed_flagged   integer NOT NULL,
    false_positives    integer NOT NULL,
    reasons            jsonb NOT NULL,
    reviews            jsonb NOT NULL,
    merge_p99_ms       double precision,
    upload_p50_ms      double precision,
    upload_p95_ms      double precision,
    upload_p99_ms      double precision,
    recorded_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX metrics_windows_start_idx ON metrics_windows (window_start);

-- A dead letter sent back to its source topic from the app or the CLI (its audit entry is in
-- audit_log when the letter names a patient); where the replay landed, to tell its outcome.
CREATE TABLE dlq_retries (
    retry_id          uuid PRIMARY KEY,
    letter_ref        text NOT NULL,
    letter_event_id   uuid NOT NULL,
    error_kind        text NOT NULL,
    source_topic      text NOT NULL,
    document_id       text,
    patient_id        text,
    requested_by      text NOT NULL,
    fixed_payload     boolean NOT NULL DEFAULT false,
    requested_at      timestamptz NOT NULL,
    state             text NOT NULL CHECK (state IN ('requested', 'sent', 'not_sent')),
    replay_partition  integer,
    replay_offset     bigint
);

CREATE INDEX dlq_retries_requested_idx ON dlq_retries (requested_at);
CREATE INDEX dlq_retries_letter_idx ON dlq_retries (letter_ref);

-- What `optimerge notify` delivered: a notification id is written once the receiver said 2xx,
-- so a restart never sends it again (the receiver dedupes the crash window by the id header).
CREATE TABLE notification_deliveries (
    notification_id  uuid PRIMARY KEY,
    channel          text NOT NULL,
    kind             text NOT NULL,
    subject          text NOT NULL,
    attempts         integer NOT NULL,
    http_status      integer NOT NULL,
    delivered_at     timestamptz NOT NULL
);
