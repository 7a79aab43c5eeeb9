"""Reviewers' verdicts, one row per applied review action (docs/contract.md#rule-sets)."""

from __future__ import annotations

import psycopg

from domain.verdicts import Verdict


def record_verdict(cur: psycopg.Cursor, verdict: Verdict) -> None:
    cur.execute(
        "INSERT INTO review_verdicts (action_id, document_id, patient_id, extraction_version, "
        "content_hash, document_version, rule_set_version, flagged, rules, action, actor_kind, "
        "reviewer, decided_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (action_id) DO NOTHING",
        (
            verdict.action_id,
            verdict.document_id,
            verdict.patient_id,
            verdict.extraction_version,
            verdict.content_hash,
            verdict.document_version,
            verdict.rule_set_version,
            verdict.flagged,
            list(verdict.rules),
            verdict.action.value,
            verdict.actor_kind,
            verdict.reviewer,
            verdict.decided_at,
        ),
    )
