"""Publishing the demo feed, and `optimerge run`: the whole system locally with a demo."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress

from rich.progress import Progress

from optimerge.demo import build_documents, flag_summary, load_sample
from optimerge.settings import Settings
from storage.db import connect
from storage.patients import import_patients
from streams.producer import EventProducer
from streams.topics import Topics


def import_demo_patients(settings: Settings) -> int:
    assert settings.database_url
    sample = load_sample()
    with connect(settings.database_url) as conn:
        return import_patients(conn, sample.patients)


def publish_demo(
    settings: Settings,
    count: int,
    *,
    seed: int = 7,
    rate: float | None = None,
    log: Callable[[str], None] = print,
) -> None:
    """Build `count` documents from the Synthea sample and publish them, keyed by patient id."""
    assert settings.kafka_bootstrap_servers
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
            result = doc.result
            producer.send(topic, result.model_dump_json().encode(), key=result.patient_id)
            progress.advance(task)
    log(f"published {count} documents to {topic} in {time.monotonic() - started:.1f} s")


def ensure_demo_user(settings: Settings, name: str = "demo") -> str:
    """A reviewer account for the local demo; its password is kept in the state dir (0600)."""
    import secrets

    from storage.webapp_queries import UserExistsError, create_user
    from webapp.passwords import hash_password

    assert settings.database_url
    secret = settings.infra.state_dir / "demo-password"
    if not secret.exists():
        secret.parent.mkdir(parents=True, exist_ok=True)
        secret.touch(mode=0o600)
        secret.write_text(secrets.token_urlsafe(12))
    password = secret.read_text().strip()
    with connect(settings.database_url) as conn, suppress(UserExistsError):
        create_user(conn, name, "admin", hash_password(password))
    return password
