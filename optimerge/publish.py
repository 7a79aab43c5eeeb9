"""Publishing event files: each event validated first, keyed by patient_id, delivery confirmed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from optimerge.settings import Settings
from schemas import ExtractionResult, ReviewAction
from streams.producer import EventProducer
from streams.topics import Topics


class PublishError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class PublishCounts:
    topic: str
    published: int


def iter_json_events(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield (where, object) from a JSON array file or a JSON-lines file."""
    text = path.read_bytes()
    stripped = text.lstrip()
    if stripped.startswith(b"["):
        try:
            items = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            raise PublishError(f"{path}: invalid JSON array: {exc}") from exc
        for index, item in enumerate(items):
            yield f"{path}[{index}]", item
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"{path}:{number}", orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise PublishError(f"{path}:{number}: invalid JSON: {exc}") from exc


def publish_files(settings: Settings, paths: list[Path], *, review: bool = False) -> PublishCounts:
    """Validate every event before sending any, so a bad file publishes nothing."""
    assert settings.kafka_bootstrap_servers
    topics = Topics(settings.topic_prefix)
    topic = topics.review_actions if review else topics.extraction_results
    model = ReviewAction if review else ExtractionResult
    events: list[ExtractionResult | ReviewAction] = []
    for path in paths:
        if not path.is_file():
            raise PublishError(f"{path}: no such file")
        for where, obj in iter_json_events(path):
            try:
                events.append(model.model_validate(obj))
            except ValidationError as exc:
                raise PublishError(f"{where}: not a valid {model.__name__}:\n{exc}") from exc
    with EventProducer(settings.kafka_bootstrap_servers) as producer:
        for event in events:
            producer.send(topic, event.model_dump_json().encode(), key=event.patient_id)
    return PublishCounts(topic, len(events))
