-- A tamper-evident audit trail and a least-privilege database (docs/contract.md#database-roles,
-- docs/contract.md#audit-trail):
-- * audit entries carry an HMAC under a key held outside the database (key_id names it; entries
--   written before this migration keep their unkeyed SHA-256 and key_id NULL);
-- * the worker and the app roles are not the owner (so triggers are out of their reach) and
--   append to the trail only through audit_append(), which moves the chain heads in one step;
-- * every read of a patient's record or a document leaves a row in read_audit (append-only);
-- * each verification run is recorded, signed, in audit_verifications (append-only).
-- The owner (the role running this) creates the two roles when missing (needs CREATEROLE;
-- `optimerge infra up` creates them beforehand, with LOGIN and passwords of their own).
-- depends: 0004_sessions_tokens_signatures 0006_fhir_read_api

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'optimerge_worker') THEN
        CREATE ROLE optimerge_worker NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'optimerge_app') THEN
        CREATE ROLE optimerge_app NOLOGIN;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE EXCEPTION 'roles optimerge_worker and optimerge_app are missing and % may not create them',
        current_user
        USING HINT = 'create them as a superuser (CREATE ROLE optimerge_worker LOGIN PASSWORD ...; '
            'CREATE ROLE optimerge_app LOGIN PASSWORD ...), then migrate again (README "Database roles")';
END;
$$;

-- The MAC's key; NULL only on entries from before this migration.
ALTER TABLE audit_log ADD COLUMN key_id text CHECK (key_id ~ '^[0-9a-f]{16}$');

-- The one way to append: the entries continue each patient's chain (seq and prev link checked
-- against the head, under the patient's lock), carry a MAC, and the heads move with them, in
-- one statement per batch. The MAC itself is checked by `optimerge audit verify`: the key is not
-- in the database. One jsonb argument (an array of entries): a batch of 500 crosses the wire as
-- one JSON text, parsed once.
CREATE FUNCTION audit_append(entries jsonb) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    appended bigint;
    refused bigint;
    bad record;
BEGIN
    IF jsonb_typeof(entries) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'audit_append: entries must be a JSON array' USING ERRCODE = '22023';
    END IF;
    WITH e AS MATERIALIZED (
        SELECT r.*, row_number() OVER w AS nth, lag(r.hash) OVER w AS prev_in_batch
        FROM ROWS FROM (jsonb_to_recordset(entries) AS (patient_id text, seq bigint,
            document_id text, action text, actor_kind text, actor text, details jsonb,
            occurred_at timestamptz, prev_hash text, hash text, key_id text))
            WITH ORDINALITY AS r(patient_id, seq, document_id, action, actor_kind, actor,
                details, occurred_at, prev_hash, hash, key_id, ord)
        WINDOW w AS (PARTITION BY r.patient_id ORDER BY r.ord)
    ),
    heads AS MATERIALIZED (
        SELECT p.patient_id, p.audit_seq, p.audit_head FROM public.patients p
        WHERE p.patient_id IN (SELECT patient_id FROM e) ORDER BY p.patient_id FOR UPDATE
    ),
    appended_rows AS (
        INSERT INTO public.audit_log (patient_id, seq, document_id, action, actor_kind, actor,
            details, occurred_at, prev_hash, hash, key_id)
        SELECT patient_id, seq, document_id, action, actor_kind, actor, details, occurred_at,
            prev_hash, hash, key_id
        FROM e
        RETURNING 1
    ),
    -- Run to completion whether read or not, as every data-modifying WITH.
    moved AS (
        UPDATE public.patients p SET audit_seq = l.seq, audit_head = l.hash
        FROM (SELECT DISTINCT ON (patient_id) patient_id, seq, hash FROM e
              ORDER BY patient_id, seq DESC) l
        WHERE p.patient_id = l.patient_id
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM appended_rows),
        (SELECT count(*) FROM e LEFT JOIN heads h ON h.patient_id = e.patient_id
         WHERE h.patient_id IS NULL
            OR e.seq IS DISTINCT FROM h.audit_seq + e.nth
            OR e.prev_hash IS DISTINCT FROM coalesce(e.prev_in_batch, h.audit_head)
            OR e.key_id IS NULL OR e.key_id !~ '^[0-9a-f]{16}$'
            OR e.hash IS NULL OR e.hash !~ '^[0-9a-f]{64}$')
    INTO appended, refused;
    IF refused > 0 THEN
        -- The statement's rows are undone with the exception.
        RAISE EXCEPTION 'audit_append: % of % entries do not continue their chains', refused,
            appended
            USING ERRCODE = 'integrity_constraint_violation',
                CONSTRAINT = 'audit_log_chain_continues';
    END IF;
    RETURN appended;
END;
$$;

REVOKE ALL ON FUNCTION audit_append FROM PUBLIC;

-- Append-only tables beside audit_log share one refusing trigger function.
CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- Who looked at which patient's record or document: one row per request (a FHIR search of many
-- resources is one row naming its patients and the count).
CREATE TABLE read_audit (
    read_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    actor           text NOT NULL,
    actor_role      text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('page', 'api', 'fhir', 'cli')),
    what            text NOT NULL,
    patient_ids     text[] NOT NULL,
    document_ids    text[] NOT NULL DEFAULT '{}',
    resource_count  integer NOT NULL DEFAULT 0,
    client_addr     text,
    user_agent      text
);

CREATE INDEX read_audit_occurred_idx ON read_audit (occurred_at);
CREATE INDEX read_audit_actor_idx ON read_audit (actor, occurred_at);
CREATE INDEX read_audit_patients_idx ON read_audit USING gin (patient_ids);
CREATE INDEX read_audit_documents_idx ON read_audit USING gin (document_ids);

CREATE TRIGGER read_audit_no_update_delete BEFORE UPDATE OR DELETE ON read_audit
    FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER read_audit_no_truncate BEFORE TRUNCATE ON read_audit
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- Each run of `optimerge audit checkpoint`: its findings as signed JSON (the audit page shows
-- the newest without recomputing any chain; a forged row fails its signature).
CREATE TABLE audit_verifications (
    run_id       uuid PRIMARY KEY,
    verified_at  timestamptz NOT NULL,
    record       text NOT NULL,
    key_id       text NOT NULL CHECK (key_id ~ '^[0-9a-f]{16}$'),
    signature    text NOT NULL CHECK (signature ~ '^[0-9a-f]{64}$')
);

CREATE INDEX audit_verifications_at_idx ON audit_verifications (verified_at);

CREATE TRIGGER audit_verifications_no_update_delete BEFORE UPDATE OR DELETE
    ON audit_verifications FOR EACH ROW EXECUTE FUNCTION refuse_change();
CREATE TRIGGER audit_verifications_no_truncate BEFORE TRUNCATE ON audit_verifications
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

-- Privileges from scratch: exactly what each role's code runs (docs/contract.md#database-roles).
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM optimerge_worker, optimerge_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM optimerge_worker, optimerge_app;

-- Both read the migration log (the worker refuses to start with migrations pending).
GRANT SELECT ON _yoyo_migration, _yoyo_version TO optimerge_worker, optimerge_app;

-- The worker: merges, reviews, failures, the legacy import and the patient registry. Never the
-- chain head columns, nor anything of the audit trail but audit_append().
GRANT SELECT ON patients, documents, resources, resource_history, review_actions
    TO optimerge_worker;
GRANT INSERT (patient_id, record, family, given, birth_date) ON patients TO optimerge_worker;
GRANT UPDATE (record, family, given, birth_date, updated_at) ON patients TO optimerge_worker;
GRANT INSERT, UPDATE ON documents TO optimerge_worker;
GRANT INSERT, DELETE ON resources TO optimerge_worker;
GRANT INSERT ON resource_history, review_actions TO optimerge_worker;
GRANT EXECUTE ON FUNCTION audit_append TO optimerge_worker;
-- Signature checks: where each signed action was first read (a replay is one read elsewhere).
GRANT SELECT, INSERT ON review_action_receipts TO optimerge_worker;

-- The app (and the notifier, `audit verify|checkpoint` and the reading commands): reads what it
-- shows; writes its accounts (removed with their sessions and tokens), sessions, API tokens
-- (used, revoked), login throttling, dead-letter retries (their audit entries via audit_append,
-- under the patient's lock: hence UPDATE of updated_at), metrics windows, deliveries, read
-- audit and verification records.
GRANT SELECT ON patients, documents, resources, resource_history, review_actions, audit_log,
    users, api_tokens, app_sessions, login_throttle, metrics_windows, dlq_retries,
    notification_deliveries, read_audit, audit_verifications TO optimerge_app;
GRANT INSERT (patient_id), UPDATE (updated_at) ON patients TO optimerge_app;
GRANT INSERT, UPDATE, DELETE ON users TO optimerge_app;
GRANT INSERT, UPDATE (last_used_at, revoked_at) ON api_tokens TO optimerge_app;
GRANT INSERT, UPDATE (last_seen_at), DELETE ON app_sessions TO optimerge_app;
GRANT INSERT, UPDATE (failures, last_failure_at, blocked_until), DELETE ON login_throttle
    TO optimerge_app;
GRANT INSERT ON metrics_windows, notification_deliveries, read_audit, audit_verifications
    TO optimerge_app;
GRANT INSERT, UPDATE (state, replay_partition, replay_offset) ON dlq_retries TO optimerge_app;
GRANT EXECUTE ON FUNCTION audit_append TO optimerge_app;
