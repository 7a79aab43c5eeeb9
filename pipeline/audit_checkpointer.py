"""`optimerge audit checkpoint`: every minute, verify every patient's chain incrementally and
sign what verified (docs/contract.md#audit-checkpoints). A checkpoint only ever vouches for a
chain that verified against the previous one, so tampering is never laundered into a signature;
each run leaves a signed record the audit page shows without recomputing anything.

One process (`optimerge run` starts it; deployments run one replica, or cron `--once`): a full
verification at start and once a day, incremental ones in between."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass

from config import ResolvedSettings
from domain.audit_checkpoints import Checkpoints, sign_checkpoint, sign_record
from domain.audit_keys import AuditKeyring
from domain.audit_verify import VerifyReport, report_json
from pipeline.audit_check import load_checkpoints, verify_audit
from schemas.audit import AuditCheckpoint
from schemas.events import Clock, utc_now
from storage.audit_verifications import StoredVerification, record_verification
from storage.db import connect
from storage.errors import describe_error
from streams.admin import ensure_topics
from streams.checkpoints import publish_checkpoints
from streams.topics import Topics

log = logging.getLogger(__name__)

FULL_EVERY_SECONDS = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class RunResult:
    report: VerifyReport
    published: int
    elapsed_ms: float


class AuditCheckpointer:
    def __init__(
        self, settings: ResolvedSettings, keyring: AuditKeyring, *, clock: Clock = utc_now
    ) -> None:
        self.settings = settings
        self.keyring = keyring
        self.clock = clock
        self.topic = Topics(settings.topic_prefix).audit_checkpoints
        # Read from the topic once, then kept up to date with what this process publishes.
        self._checkpoints: Checkpoints | None = None

    def run_once(self, *, full: bool = False) -> RunResult:
        started = time.perf_counter()
        if self._checkpoints is None:
            self._ensure_topic()
            self._checkpoints = load_checkpoints(self.settings, self.keyring)
        checkpoints = self._checkpoints
        with connect(self.settings.app_url) as conn:
            report = verify_audit(conn, self.keyring, checkpoints, full=full)
        now = self.clock()
        signed = [
            sign_checkpoint(self.keyring, head, now)
            for head in report.verified
            if _advanced(checkpoints.newest.get(head.patient_id), head.seq, self.keyring)
        ]
        published = 0
        if signed:
            published = publish_checkpoints(self.settings.kafka_endpoint, self.topic, signed)
            checkpoints.newest.update({c.patient_id: c for c in signed})
        elapsed_ms = (time.perf_counter() - started) * 1000
        self._record(report, published, elapsed_ms)
        for b in report.breaks[:20]:
            log.error(
                "audit chain of patient %s broken at entry %s (%s): %s",
                b.patient_id, b.seq, b.kind.value, b.reason,
            )  # fmt: skip
        log.info(
            "audit verified (%s): %d patients, %d entries, %d breaks; %d checkpoints signed",
            report.mode, report.patients, report.entries, len(report.breaks), published,
        )  # fmt: skip
        return RunResult(report, published, elapsed_ms)

    def _ensure_topic(self) -> None:
        # Its own topic, compacted, should nobody have made it yet (workers leave it alone).
        ensure_topics(
            self.settings.kafka_endpoint,
            Topics(self.settings.topic_prefix),
            partitions=self.settings.partitions,
            replication_factor=self.settings.replication_factor,
            names=[self.topic.name],
        )

    def _record(self, report: VerifyReport, published: int, elapsed_ms: float) -> None:
        run_id = uuid.uuid4()
        at = self.clock()
        record = {
            **report_json(report),
            "run_id": str(run_id),
            "verified_at": at.isoformat(),
            "published": published,
            "elapsed_ms": round(elapsed_ms, 1),
        }
        text, key_id, signature = sign_record(self.keyring, record)
        with connect(self.settings.app_url) as conn:
            record_verification(conn, StoredVerification(run_id, at, text, key_id, signature))

    def run_forever(self, stop: threading.Event, *, full_every: float = FULL_EVERY_SECONDS) -> None:
        """Until `stop` is set: a full run first, incremental runs every interval; a failed run
        (a server away) is logged and tried again at the next interval."""
        interval = self.settings.audit.checkpoint_interval_seconds
        last_full: float | None = None
        while not stop.is_set():
            full = last_full is None or time.monotonic() - last_full >= full_every
            try:
                self.run_once(full=full)
                if full:
                    last_full = time.monotonic()
            except Exception as exc:
                log.error(
                    "audit verification failed: %s; next try in %.0f s",
                    describe_error(exc),
                    interval,
                )
                self._checkpoints = None  # read the topic again: it may have moved meanwhile
            stop.wait(interval)


def _advanced(have: AuditCheckpoint | None, seq: int, keyring: AuditKeyring) -> bool:
    """A new position, or one signed under a key that is no longer the current one."""
    return have is None or seq > have.seq or have.key_id != keyring.current.key_id
