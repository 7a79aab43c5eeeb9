-- Issue 17: each extraction stored once, and fewer checks on the hot tables
-- (docs/contract.md#storage).
-- depends: 0006_fhir_read_api

-- The event as received, lz4-compressed by the worker (storage/extraction_blob.py), instead
-- of the same bytes parsed again into jsonb beside the resources: PostgreSQL neither parses
-- nor recompresses it (STORAGE EXTERNAL), and a row up to a page stays inline (no TOAST
-- insert). The queue searches and shows the extraction's patient and document sections:
-- they are kept as jsonb in extraction_head. Rows stored before keep their jsonb extraction
-- (readers take whichever is there).
ALTER TABLE documents
    ADD COLUMN extraction_lz4 bytea,
    ADD COLUMN extraction_head jsonb;
ALTER TABLE documents ALTER COLUMN extraction DROP NOT NULL;
ALTER TABLE documents ALTER COLUMN extraction_lz4 SET STORAGE EXTERNAL;
ALTER TABLE documents SET (toast_tuple_target = 8160);
ALTER TABLE documents ADD CONSTRAINT documents_extraction_kept
    CHECK (extraction IS NOT NULL OR extraction_lz4 IS NOT NULL);

-- A boolean of two values: no query is helped by a btree on it (review_status says the same).
DROP INDEX documents_auto_approved_idx;

-- Checked per resource row (twenty lookups a 10-resource document). What guards them instead:
-- resources are written only by storage/resources.py inside a merge or review transaction
-- that holds its patient's row lock (storage/documents.py lock_patients creates the row
-- first) and has written the document row before its resources; no code deletes a patient
-- or a document. tests/integration/storage/test_orphans.py checks it after every write path.
ALTER TABLE resources DROP CONSTRAINT resources_patient_id_fkey;
ALTER TABLE resources DROP CONSTRAINT resources_document_id_fkey;
