"""The judged history as the flag rules replay it (docs/contract.md#rule-sets): per document only
what the rules read, with its reviewers' label, read in one snapshot through a server-side
cursor. The stored extraction is never decoded whole: the patient part comes out as a short
JSON text, the resource count from its column (the stored array's length once a review changed
the column), foreign_reference as a boolean."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from domain.patients import PatientRecord, patient_record_from_parts
from domain.replay import ReplayCase, stand_in
from domain.verdicts import label_of
from schemas import ExtractionModel, PatientDemographics

# A verdict labels the document while it still holds the extraction the verdict judged.
_LABELS = """
WITH labels AS (
    SELECT v.document_id, array_agg(DISTINCT v.action) AS actions, bool_or(v.flagged) AS flagged
    FROM review_verdicts v JOIN documents d USING (document_id)
    WHERE v.content_hash = d.content_hash
       OR (v.content_hash IS NULL AND v.extraction_version = d.extraction_version)
    GROUP BY v.document_id
)
"""

_CASES = (
    "SELECT d.document_id, d.patient_id, d.model_name, d.model_version, d.is_fallback, "
    "d.confidence, CASE WHEN d.reviewer IS NULL THEN d.resource_count "
    # extraction_head since migration 0009, the jsonb extraction of rows stored before.
    "ELSE coalesce((d.extraction_head->>'resource_count')::int, "
    "jsonb_array_length(d.extraction->'resources')) END, "
    "(coalesce(d.extraction_head, d.extraction)->'patient')::text, "
    'd.flag_reasons @> \'[{"rule": "foreign_reference"}]\', d.rule_set_version, '
    "l.actions, l.flagged FROM documents d LEFT JOIN labels l USING (document_id) "
)


@dataclass(frozen=True, slots=True)
class Scope:
    """Which documents: merged since `since`, of one extraction model."""

    since: datetime | None = None
    model: str | None = None

    def where(self) -> tuple[str, dict[str, Any]]:
        # Judged by the rules and merged (a failed first merge and the legacy import were not).
        clauses = ["d.processing_status = 'COMPLETE'", "d.rule_set_version IS NOT NULL"]
        params: dict[str, Any] = {}
        if self.since is not None:
            clauses.append("d.merged_at >= %(since)s")
            params["since"] = self.since
        if self.model is not None:
            clauses.append("d.model_name = %(model)s")
            params["model"] = self.model
        return " AND ".join(clauses), params


def replay_cases(
    conn: psycopg.Connection, scope: Scope, *, batch: int = 5_000
) -> Iterator[ReplayCase]:
    """Every document in scope as a ReplayCase, streamed (one snapshot, read only)."""
    where, params = scope.where()
    fresh = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with conn.transaction():
        if fresh:  # else inside the caller's transaction, as the caller set it
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        records = _records(conn, where, params)
        patients: dict[str | None, PatientDemographics] = {}
        models: dict[tuple[str, str, bool], ExtractionModel] = {}
        with conn.cursor(name="replay_cases") as cur:
            cur.itersize = batch
            cur.execute(_LABELS + _CASES + "WHERE " + where, params)
            for row in cur:
                (doc_id, pid, model_name, model_version, fallback, confidence, count,
                 patient_json, foreign, version, actions, judged_flagged) = row  # fmt: skip
                patient = patients.get(patient_json)
                if patient is None:
                    patient = patients[patient_json] = (
                        PatientDemographics.model_validate_json(patient_json)
                        if patient_json
                        else PatientDemographics()
                    )
                model_key = (model_name or "", model_version or "", bool(fallback))
                model = models.get(model_key)
                if model is None:
                    model = models[model_key] = ExtractionModel.model_construct(
                        name=model_key[0], version=model_key[1], is_fallback=model_key[2]
                    )
                yield ReplayCase(
                    document_id=doc_id,
                    result=stand_in(
                        document_id=doc_id,
                        patient_id=pid,
                        model=model,
                        confidence=confidence,
                        resource_count=count or 0,
                        patient=patient,
                    ),
                    record=records.get(pid),
                    label=label_of(actions, flagged=bool(judged_flagged)) if actions else None,
                    foreign_reference=bool(foreign),
                    rule_set_version=version,
                    patient_key=patient_json or "",
                )


def _records(
    conn: psycopg.Connection, where: str, params: dict[str, Any]
) -> dict[str, PatientRecord]:
    """The patient records of the documents in scope (a patient without one is unknown)."""
    rows = conn.execute(
        "SELECT p.patient_id, p.record->'name', p.record->>'birthDate' FROM patients p "
        "WHERE p.record IS NOT NULL AND p.patient_id IN "
        f"(SELECT DISTINCT d.patient_id FROM documents d WHERE {where})",
        params,
    ).fetchall()
    return {pid: patient_record_from_parts(pid, names, birth) for pid, names, birth in rows}
