"""Issue 12: whatever is stored, every reader reads it back: a timestamp past year 9999 in UTC
(stored before the input contract refused it) and decimals with trailing zeros, through the JSON
API and `optimerge document show`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from starlette.testclient import TestClient

from config import ResolvedSettings
from domain.reports import IncomingExtraction
from domain.thresholds import RuleThresholds
from pipeline.service import MergeService, judge_with
from schemas import ExtractionResult
from storage.db import connect
from tests.audit_helpers import shared_keyring
from tests.cli_runner import run_optimerge
from tests.unit.pipeline._grammar import valid_extraction

from .test_api import _token_for


def test_the_api_and_document_show_read_back_what_is_stored(
    settings: ResolvedSettings, make_client: Callable[[], TestClient]
) -> None:
    resources = [
        {"resourceType": "Observation", "valueQuantity": {"value": Decimal(v)}}
        for v in ("0.010", "1.50", "123456789012345678901234567890")
    ]
    result = ExtractionResult.model_validate(
        valid_extraction("odd", "p-odd", confidence=0.5, resources=resources)
    )
    with connect(settings.database_url) as conn:
        MergeService(judge_with(RuleThresholds()), keyring=shared_keyring()).merge(
            conn, [IncomingExtraction(result, datetime.now(UTC))]
        )
        conn.execute(
            "UPDATE documents SET uploaded_at = '9999-12-31T23:59:59-14:00' "
            "WHERE document_id = 'odd'"
        )
        conn.commit()
    auth = _token_for(settings.app_url, "robot", "auditor")
    client = make_client()

    listing = client.get("/api/flagged", headers=auth)
    assert listing.status_code == 200
    assert [item["document_id"] for item in listing.json()["items"]] == ["odd"]
    document = client.get("/api/documents/odd", headers=auth)
    assert document.status_code == 200
    body = document.content
    for text in (b"0.010", b"1.50", b"123456789012345678901234567890"):
        assert b'"value":' + text in body
    assert document.json()["uploaded_at"].startswith("9999-12-31")

    env = {
        "DATABASE_URL": settings.database_url,
        "OPTIMERGE_APP_DATABASE_URL": settings.app_url,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
    }
    shown = run_optimerge("document", "show", "odd", **env)
    assert shown.returncode == 0, shown.stderr
    assert '"uploaded_at": "9999-12-31' in shown.stdout
