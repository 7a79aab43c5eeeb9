"""Publishing the demo feed, and the demo account of the local run."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from rich.progress import Progress

from config import ResolvedSettings
from optimerge.demo.feed import build_documents
from optimerge.demo.mix import flag_summary
from optimerge.demo.sample import load_sample
from storage.accounts import UserExistsError, create_user
from storage.db import connect
from storage.patients import import_patients
from streams.producer import EventProducer
from streams.topics import Topics


def import_demo_patients(database_url: str) -> int:
    sample = load_sample()
    with connect(database_url) as conn:
        return import_patients(conn, sample.patients)


def publish_demo(
    settings: ResolvedSettings,
    count: int,
    *,
    seed: int = 7,
    rate: float | None = None,
    log: Callable[[str], None] = print,
) -> None:
    """Build `count` documents from the Synthea sample and publish them, keyed by patient id."""
    documents = build_documents(load_sample(), count, seed=seed)
    summary = flag_summary(documents)
    log(
        f"demo feed: {count} documents, {summary.flagged} built to be flagged "
        f"({summary.flag_rate:.1%})"
    )
    topic = Topics(settings.topic_prefix).extraction_results
    started = time.monotonic()
    with (
        EventProducer(settings.kafka_bootstrap_servers) as producer,
        Progress(transient=True) as progress,
    ):
        task = progress.add_task("publishing", total=count)
        for n, doc in enumerate(documents):
            if rate:
                # Pace the feed: the n-th document leaves at n / rate seconds.
                delay = started + n / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            producer.publish(topic, doc.result)
            progress.advance(task)
    log(f"published {count} documents to {topic.name} in {time.monotonic() - started:.1f} s")


def ensure_demo_user(database_url: str, state_dir: Path, name: str = "demo") -> str:
    """A reviewer account for the local demo; its password is kept in the state dir (0600)."""
    from webapp.passwords import hash_password

    secret = state_dir / "demo-password"
    if not secret.exists():
        secret.parent.mkdir(parents=True, exist_ok=True)
        secret.touch(mode=0o600)
        secret.write_text(secrets.token_urlsafe(12))
    password = secret.read_text().strip()
    with connect(database_url) as conn, suppress(UserExistsError):
        create_user(conn, name, "admin", hash_password(password))
    return password
