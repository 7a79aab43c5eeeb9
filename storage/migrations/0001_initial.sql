-- The system of record: patients, per-document state, resources owned by one document,
-- their history, review actions applied, and an append-only hash-chained audit trail.

CREATE TABLE patients (
    patient_id   text PRIMARY KEY,
    -- NULL until `optimerge patients import` loads the FHIR Patient: an unknown patient.
    record       jsonb,
    family       text,
    given        text[] NOT NULL DEFAULT '{}',
    birth_date   date,
    -- Head of this patient's audit hash chain; only written with the row locked.
    audit_seq    bigint NOT NULL DEFAULT 0,
    audit_head   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE documents (
    document_id        text PRIMARY KEY,
    patient_id         text NOT NULL REFERENCES patients (patient_id),
    extraction_version integer NOT NULL CHECK (extraction_version >= 1),
    version            bigint NOT NULL CHECK (version >= 1),
    review_status      text NOT NULL CHECK (
        review_status IN ('pending', 'auto_approved', 'flagged', 'reviewed', 'rejected')),
    auto_approved      boolean NOT NULL,
    flag_reasons       jsonb NOT NULL DEFAULT '[]',
    confidence         double precision CHECK (confidence BETWEEN 0 AND 1),
    model_name         text,
    model_version      text,
    is_fallback        boolean NOT NULL DEFAULT false,
    resource_count     integer NOT NULL DEFAULT 0,
    processing_status  text NOT NULL CHECK (
        processing_status IN ('PENDING', 'PROCESSING', 'COMPLETE', 'FAILED')),
    attempts           integer NOT NULL DEFAULT 1,
    error              text,
    is_merged          boolean NOT NULL DEFAULT false,
    event_id           uuid,
    content_hash       text,
    -- The extraction as received: what the reviewer verifies against.
    extraction         jsonb NOT NULL,
    uploaded_at        timestamptz,
    extracted_at       timestamptz,
    received_at        timestamptz,
    merged_at          timestamptz,
    failed_at          timestamptz,
    processing_ms      double precision,
    reviewer           text,
    reviewed_at        timestamptz,
    review_note        text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (auto_approved = (review_status = 'auto_approved'))
);

CREATE INDEX documents_patient_idx ON documents (patient_id);
CREATE INDEX documents_auto_approved_idx ON documents (auto_approved);
CREATE INDEX documents_review_status_created_idx ON documents (review_status, created_at);
-- The reviewer's queue: flagged documents, oldest first.
CREATE INDEX documents_flagged_idx ON documents (created_at) WHERE review_status = 'flagged';

CREATE TABLE resources (
    resource_id    text PRIMARY KEY,
    patient_id     text NOT NULL REFERENCES patients (patient_id),
    document_id    text NOT NULL REFERENCES documents (document_id),
    resource_type  text NOT NULL,
    version_id     integer NOT NULL CHECK (version_id >= 1),
    body           jsonb NOT NULL,
    last_updated   timestamptz NOT NULL
);

CREATE INDEX resources_patient_idx ON resources (patient_id, resource_type);
CREATE INDEX resources_document_idx ON resources (document_id);

-- Prior versions of resources, written when a resource is replaced or removed.
CREATE TABLE resource_history (
    resource_id    text NOT NULL,
    version_id     integer NOT NULL,
    patient_id     text NOT NULL,
    document_id    text NOT NULL,
    resource_type  text NOT NULL,
    body           jsonb NOT NULL,
    last_updated   timestamptz NOT NULL,
    superseded_at  timestamptz NOT NULL,
    superseded_by  text NOT NULL CHECK (superseded_by IN ('update', 'delete')),
    PRIMARY KEY (resource_id, version_id)
);

CREATE INDEX resource_history_document_idx ON resource_history (document_id);

-- Review actions already applied: a redelivered action is recognised, not applied twice.
CREATE TABLE review_actions (
    action_id      uuid PRIMARY KEY,
    document_id    text NOT NULL REFERENCES documents (document_id),
    action         text NOT NULL,
    reviewer       text NOT NULL,
    outcome        text NOT NULL,
    reason         text,
    version_after  bigint NOT NULL,
    applied_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_log (
    audit_id        bigserial PRIMARY KEY,
    patient_id      text NOT NULL REFERENCES patients (patient_id),
    seq             bigint NOT NULL,
    document_id     text,
    action          text NOT NULL,
    actor_kind      text NOT NULL CHECK (actor_kind IN ('system', 'reviewer', 'operator')),
    actor           text NOT NULL,
    details         jsonb NOT NULL,
    occurred_at     timestamptz NOT NULL,
    prev_hash       text NOT NULL,
    hash            text NOT NULL,
    UNIQUE (patient_id, seq)
);

CREATE INDEX audit_log_document_idx ON audit_log (document_id);
CREATE INDEX audit_log_occurred_idx ON audit_log (occurred_at);
CREATE INDEX audit_log_actor_idx ON audit_log (actor);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();

CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
