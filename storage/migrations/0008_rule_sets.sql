-- Flag quality that learns (docs/contract.md#rule-sets): numbered rule-set versions of the flag
-- rules' thresholds and their activations (append-only: who, when, why), the version that
-- judged each document and each metrics window, and reviewers' verdicts as labels.
-- depends: 0006_fhir_read_api

CREATE TABLE rule_sets (
    version      integer PRIMARY KEY CHECK (version >= 1),
    -- RuleThresholds as JSON, and per extraction model the thresholds that replace them.
    thresholds   jsonb NOT NULL,
    by_model     jsonb NOT NULL DEFAULT '{}',
    created_by   text NOT NULL CHECK (created_by <> ''),
    created_at   timestamptz NOT NULL,
    reason       text NOT NULL CHECK (reason <> ''),
    -- What the figures were expected to be when it was made (a recommendation's), or {}.
    expected     jsonb NOT NULL DEFAULT '{}'
);

-- Which version judges merges from now on; the last row wins. Version 0 is the settings'
-- thresholds (env/TOML), the default while no row exists.
CREATE TABLE rule_set_activations (
    activation_id  bigserial PRIMARY KEY,
    version        integer NOT NULL CHECK (version >= 0),
    activated_by   text NOT NULL CHECK (activated_by <> ''),
    activated_at   timestamptz NOT NULL,
    reason         text NOT NULL CHECK (reason <> '')
);

-- Version 0 has no row in rule_sets, so a trigger checks the others (not a foreign key).
CREATE FUNCTION rule_set_activation_names_a_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.version <> 0 AND NOT EXISTS (SELECT 1 FROM rule_sets WHERE version = NEW.version) THEN
        RAISE EXCEPTION 'rule set version % does not exist', NEW.version
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER rule_set_activations_version_exists
    BEFORE INSERT ON rule_set_activations
    FOR EACH ROW EXECUTE FUNCTION rule_set_activation_names_a_version();

CREATE FUNCTION rule_sets_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER rule_sets_no_update_delete BEFORE UPDATE OR DELETE ON rule_sets
    FOR EACH ROW EXECUTE FUNCTION rule_sets_are_append_only();
CREATE TRIGGER rule_sets_no_truncate BEFORE TRUNCATE ON rule_sets
    FOR EACH STATEMENT EXECUTE FUNCTION rule_sets_are_append_only();
CREATE TRIGGER rule_set_activations_no_update_delete BEFORE UPDATE OR DELETE
    ON rule_set_activations FOR EACH ROW EXECUTE FUNCTION rule_sets_are_append_only();
CREATE TRIGGER rule_set_activations_no_truncate BEFORE TRUNCATE ON rule_set_activations
    FOR EACH STATEMENT EXECUTE FUNCTION rule_sets_are_append_only();

-- The version that judged the document's current extraction: 0 = the settings' thresholds
-- (the default describes rows of the previous release truly), NULL = never judged by the
-- rules (a failed first merge, a legacy import).
ALTER TABLE documents ADD COLUMN rule_set_version integer DEFAULT 0;

ALTER TABLE metrics_windows ADD COLUMN rule_set_version integer;

-- One row per applied review action: a reviewer's verdict on the extraction they saw, with
-- the rules that had fired on it. A re-merge replaces the document's extraction, not these:
-- a verdict counts as a label only while the document still holds the extraction it judged
-- (content_hash; extraction_version for rows carried over from the audit trail).
CREATE TABLE review_verdicts (
    action_id           uuid PRIMARY KEY,
    document_id         text NOT NULL REFERENCES documents (document_id),
    patient_id          text NOT NULL,
    extraction_version  integer NOT NULL,
    content_hash        text,
    -- The document version the reviewer saw (the action's expected_version).
    document_version    bigint NOT NULL,
    rule_set_version    integer,
    -- Whether the rules had flagged that extraction, and which fired (merge_error excluded).
    flagged             boolean NOT NULL,
    rules               text[] NOT NULL,
    action              text NOT NULL CHECK (action IN ('mark_correct', 'correct_data', 'rollback')),
    actor_kind          text NOT NULL,
    reviewer            text NOT NULL,
    decided_at          timestamptz NOT NULL
);

CREATE INDEX review_verdicts_document_idx ON review_verdicts (document_id);

-- Verdicts given before this migration, from the audit trail: each applied review entry with
-- the merge entry before it (the rules that fired on the extraction the reviewer saw).
INSERT INTO review_verdicts (action_id, document_id, patient_id, extraction_version,
    content_hash, document_version, rule_set_version, flagged, rules, action, actor_kind,
    reviewer, decided_at)
SELECT (r.details->>'action_id')::uuid, r.document_id, r.patient_id,
    (m.details->>'extraction_version')::integer, NULL,
    (r.details->>'expected_version')::bigint, 0,
    m.details->>'review_status' = 'flagged',
    ARRAY(SELECT code FROM jsonb_array_elements_text(m.details->'flag_reasons') AS code
          WHERE code <> 'merge_error'),
    r.action, r.actor_kind, r.actor, r.occurred_at
FROM audit_log r
CROSS JOIN LATERAL (
    SELECT details FROM audit_log m
    WHERE m.patient_id = r.patient_id AND m.document_id = r.document_id AND m.seq < r.seq
      AND m.action IN ('merge', 'remerge')
    ORDER BY m.seq DESC LIMIT 1
) m
WHERE r.action IN ('mark_correct', 'correct_data', 'rollback')
  AND r.details ? 'action_id'
  AND EXISTS (SELECT 1 FROM documents d WHERE d.document_id = r.document_id)
ON CONFLICT (action_id) DO NOTHING;
