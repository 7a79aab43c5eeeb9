"""The patient registry: FHIR Patient resources that the flag rules compare extractions against."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import psycopg

from domain.patients import patient_record_from_fhir
from schemas.exact_json import dumps_exact_text


def import_patients(conn: psycopg.Connection, patients: Sequence[dict[str, Any]]) -> int:
    """Insert or update Patient records (in a stable order, like every patient write)."""
    records = sorted(
        ((patient_record_from_fhir(p), p) for p in patients), key=lambda rp: rp[0].patient_id
    )
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO patients (patient_id, record, family, given, birth_date) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (patient_id) DO UPDATE SET "
            "record = EXCLUDED.record, family = EXCLUDED.family, given = EXCLUDED.given, "
            "birth_date = EXCLUDED.birth_date, updated_at = now()",
            [
                (
                    r.patient_id,
                    dumps_exact_text(resource),
                    r.family,
                    list(r.given),
                    # The column holds full dates; a partial one lives in the record only.
                    r.birth_date.as_date() if r.birth_date else None,
                )
                for r, resource in records
            ],
        )
    return len(records)


# Rows for the patients known only by id (no FHIR record yet), inserted in a stable order.
INSERT_PATIENT_IDS = (
    "INSERT INTO patients (patient_id) SELECT unnest(%s::text[]) ORDER BY 1 "
    "ON CONFLICT (patient_id) DO NOTHING"
)


def add_patient_ids(conn: psycopg.Connection, patient_ids: Collection[str]) -> None:
    """INSERT_PATIENT_IDS in a committed transaction of its own."""
    with conn.transaction():
        conn.execute(INSERT_PATIENT_IDS, (sorted(set(patient_ids)),))
