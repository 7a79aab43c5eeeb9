"""Publishing event files: each event validated first, keyed by patient_id, delivery confirmed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from schemas import ExtractionResult, ReviewAction
from schemas.exact_json import loads_exact
from schemas.input_contract import tree_problem
from streams.producer import EventProducer
from streams.security import Kafka
from streams.topics import BoundTopic, Topics


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
            # Exact decimals: what is published is what the file says (0.010 stays 0.010).
            items = loads_exact(stripped)
        except (ValueError, RecursionError) as exc:
            raise PublishError(f"{path}: invalid JSON array: {exc}") from exc
        for index, item in enumerate(items):
            yield f"{path}[{index}]", item
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"{path}:{number}", loads_exact(line)
        except (ValueError, RecursionError) as exc:
            raise PublishError(f"{path}:{number}: invalid JSON: {exc}") from exc


def publish_files(
    bootstrap: Kafka,
    topics: Topics,
    paths: list[Path],
    *,
    review: bool = False,
    sign: Callable[[ReviewAction], ReviewAction] | None = None,
) -> PublishCounts:
    """Validate every event before sending any, so a bad file publishes nothing."""
    if review:
        return _publish(bootstrap, topics.review_actions, paths, sign)
    return _publish(bootstrap, topics.extraction_results, paths)


E = TypeVar("E", ExtractionResult, ReviewAction)


def _publish(
    bootstrap: Kafka,
    topic: BoundTopic[E],
    paths: list[Path],
    sign: Callable[[ReviewAction], ReviewAction] | None = None,
) -> PublishCounts:
    model = topic.spec.model
    events: list[E] = []
    for path in paths:
        if not path.is_file():
            raise PublishError(f"{path}: no such file")
        for where, obj in iter_json_events(path):
            # The worker's own contract (docs/contract.md#input-contract): refuse here, not there.
            problem = tree_problem(obj)
            if problem:
                raise PublishError(f"{where}: refused by the input contract: {problem}")
            try:
                events.append(model.model_validate(obj))
            except ValidationError as exc:
                raise PublishError(f"{where}: not a valid {model.__name__}:\n{exc}") from exc
    if sign is not None:
        events = [sign(e) if isinstance(e, ReviewAction) else e for e in events]
    with EventProducer(bootstrap) as producer:
        for event in events:
            producer.publish(topic, event)
    return PublishCounts(topic.name, len(events))
