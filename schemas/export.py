"""JSON Schema of every event on optimerge's topics, for consumers in other languages.

Regenerate the committed copies in schemas/json/ with `python -m schemas.export`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from schemas.audit import AuditCheckpoint
from schemas.events import (
    DeadLetter,
    DocumentStatusEvent,
    ExtractionResult,
    FlaggedItem,
    ReviewAction,
)
from schemas.health import WorkerHeartbeat
from schemas.metrics import PipelineMetricsWindow

EVENT_MODELS: tuple[type[BaseModel], ...] = (
    ExtractionResult,
    ReviewAction,
    DocumentStatusEvent,
    FlaggedItem,
    DeadLetter,
    PipelineMetricsWindow,
    WorkerHeartbeat,
    AuditCheckpoint,
)
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_DIR = Path(__file__).resolve().parent / "json"


def schema_text(model: type[BaseModel]) -> str:
    # Validation mode: what a consumer must accept is what the model accepts.
    schema = {"$schema": JSON_SCHEMA_DIALECT, **model.model_json_schema(mode="validation")}
    return json.dumps(schema, indent=2) + "\n"


def export_json_schemas(directory: Path) -> list[Path]:
    """Write `<Name>.schema.json` for every event model into `directory`; returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for model in EVENT_MODELS:
        path = directory / f"{model.__name__}.schema.json"
        path.write_text(schema_text(model), encoding="utf-8")
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    for path in export_json_schemas(Path(args[0]) if args else SCHEMA_DIR):
        print(path)


if __name__ == "__main__":
    main()
