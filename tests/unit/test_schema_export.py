"""The committed JSON Schemas in schemas/json/ match the models: `python -m schemas.export`."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.export import EVENT_MODELS, SCHEMA_DIR, export_json_schemas


def test_every_event_model_is_exported(tmp_path: Path) -> None:
    paths = export_json_schemas(tmp_path)
    assert sorted(p.name for p in paths) == sorted(
        f"{m.__name__}.schema.json" for m in EVENT_MODELS
    )
    assert "PipelineMetricsWindow.schema.json" in {p.name for p in paths}
    schema = json.loads((tmp_path / "ExtractionResult.schema.json").read_text())
    assert "document_id" in schema["required"]


def test_committed_schemas_are_up_to_date(tmp_path: Path) -> None:
    for fresh in export_json_schemas(tmp_path):
        committed = SCHEMA_DIR / fresh.name
        assert committed.exists(), f"{committed} missing: run python -m schemas.export"
        assert committed.read_text() == fresh.read_text(), (
            f"{committed.name} is stale: run python -m schemas.export"
        )
    assert {p.name for p in SCHEMA_DIR.glob("*.schema.json")} == {
        p.name for p in tmp_path.iterdir()
    }
