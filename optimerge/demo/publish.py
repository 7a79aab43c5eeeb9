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
from storage.accounts import UserExistsError, create_user, get_user, set_role
from storage.db import connect
from storage.patients import import_patients
from streams.producer import EventProducer
from streams.security import Kafka
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
    kafka: Kafka | None = None,
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
        EventProducer(kafka or settings.kafka_endpoint) as producer,
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


# The local demo's accounts: a reviewer and an auditor, never an admin.
DEMO_ACCOUNTS = (("demo", "reviewer"), ("demo-auditor", "auditor"))


def ensure_demo_users(database_url: str, state_dir: Path) -> dict[str, str]:
    """The demo's accounts (name -> password); passwords are kept in the state dir (0600). A
    `demo` account left as an admin by an older version becomes a reviewer."""
    from webapp.passwords import hash_password

    passwords = {}
    for name, role in DEMO_ACCOUNTS:
        secret = state_dir / f"{name}-password"
        if not secret.exists():
            secret.parent.mkdir(parents=True, exist_ok=True)
            secret.touch(mode=0o600)
            secret.write_text(secrets.token_urlsafe(12))
        password = secret.read_text().strip()
        with connect(database_url) as conn:
            with suppress(UserExistsError):
                create_user(conn, name, role, hash_password(password))
            existing = get_user(conn, name)
            if existing is not None and existing.role != role:
                set_role(conn, name, role)
        passwords[name] = password
    return passwords
