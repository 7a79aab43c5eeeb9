-- depends: 0002_users
-- The FHIR read API (storage/fhir.py) finds a document's Provenance and an extraction model's
-- Device by their derived ids (domain/fhir_ai.py md5_uuid): the same expressions, indexed.

CREATE INDEX documents_provenance_id_idx
    ON documents ((md5('provenance' || chr(31) || document_id)::uuid));

CREATE INDEX documents_device_id_idx
    ON documents ((md5('device' || chr(31) || coalesce(model_name, '') || chr(31) ||
        coalesce(model_version, '') || chr(31) ||
        CASE WHEN is_fallback THEN 'fallback' ELSE 'primary' END)::uuid));
