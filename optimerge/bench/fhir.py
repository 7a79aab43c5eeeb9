"""`optimerge bench fhir`: search latency of the FHIR read API, measured over HTTP against a
real `optimerge app` process on a scratch database holding one patient with N resources."""

from __future__ import annotations

import copy
import http.client
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson

from config import ResolvedSettings, kafka_env
from domain.audit_keys import AuditKeyring
from domain.reports import IncomingExtraction
from domain.signing import SigningKey
from domain.stats import percentile
from domain.thresholds import RuleThresholds
from optimerge.bench._env import scratch_database
from optimerge.demo import load_sample
from optimerge.infra._ports import free_ports
from pipeline.service import MergeService, judge_with
from schemas import ExtractionResult
from storage.accounts import create_api_token, create_user
from storage.db import connect
from storage.patients import import_patients
from webapp.passwords import hash_password, new_api_token

Say = Callable[[str], None]
PER_DOCUMENT = 10


@dataclass(frozen=True, slots=True)
class FhirBenchConfig:
    requests: int = 1_000
    resources: int = 500
    count: int = 50
    warmup: int = 50


def _seed(database_url: str, resources: int, keyring: AuditKeyring) -> tuple[str, str]:
    """One sample patient whose record holds `resources` resources (10 per document), and a
    reviewer's API token."""
    sample = load_sample()
    patient = max(sample.patients, key=lambda p: len(sample.resources[p["id"]]))
    pid = str(patient["id"])
    pool = sample.resources[pid]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    results = []
    for n in range(-(-resources // PER_DOCUMENT)):
        chunk = [
            copy.deepcopy(pool[(n * PER_DOCUMENT + i) % len(pool)])
            for i in range(min(PER_DOCUMENT, resources - n * PER_DOCUMENT))
        ]
        for resource in chunk:
            resource.pop("id", None)  # ordinal ids: a resource appears in several documents
        results.append(
            ExtractionResult.model_validate(
                {
                    "document_id": f"bench-fhir-{n:04d}",
                    "patient_id": pid,
                    "uploaded_at": start + timedelta(minutes=n),
                    "extracted_at": start + timedelta(minutes=n, seconds=5),
                    "model": {"name": "extractor-large", "version": "2026.10"},
                    "confidence": 0.9,
                    "resources": chunk,
                }
            )
        )
    token, digest = new_api_token()
    with connect(database_url) as conn:
        import_patients(conn, [patient])
        service = MergeService(judge_with(RuleThresholds()), keyring=keyring)
        for result in results:  # one document a transaction: distinct lastUpdated per document
            service.merge(conn, [IncomingExtraction(result, datetime.now(UTC))])
        create_user(conn, "bench-fhir", "reviewer", hash_password(secrets.token_urlsafe(16)))
        expires = datetime.now(UTC) + timedelta(hours=1)
        create_api_token(conn, "bench-fhir", digest, "bench fhir", expires)
        conn.commit()
    return pid, token


@contextmanager
def _app(settings: ResolvedSettings, port: int) -> Iterator[None]:
    with tempfile.TemporaryDirectory(prefix="optimerge-bench-fhir-") as state:
        # The app signs the actions it would send; this one sends none: a throwaway key.
        key = Path(state) / "bench.key"
        key.write_bytes(SigningKey.generate().pem())
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": settings.database_url,
                "OPTIMERGE_APP_DATABASE_URL": settings.app_url,
                **settings.audit.child_env(settings.infra.state_dir),
                "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
                **kafka_env(settings.kafka),
                "OPTIMERGE_SIGNING__KEY_FILE": str(key),
                "OPTIMERGE_TOPIC_PREFIX": f"bench-fhir-{secrets.token_hex(4)}.",
                "OPTIMERGE_APP_LIVE_UPDATES": "false",
                "OPTIMERGE_APP_RECORD_METRICS": "false",
                "OPTIMERGE_INFRA__STATE_DIR": state,
            }
        )
        log = open(os.path.join(state, "app.log"), "wb")  # noqa: SIM115 (closed below)
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "optimerge", "app", "--host", "127.0.0.1"),
                *("--port", str(port), "--insecure-http"),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_healthy(port, proc)
            yield
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            log.close()


def _wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode} while starting")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"the app did not answer /healthz within {timeout:.0f} s")


def _targets(
    conn: http.client.HTTPConnection, auth: dict[str, str], pid: str, count: int
) -> list[str]:
    """Every page of every type the patient has, both sort orders: the requests to cycle."""
    totals: dict[str, int] = {}
    conn.request("GET", f"/fhir/Patient/{pid}/$everything", headers=auth)
    bundle = orjson.loads(conn.getresponse().read())
    for entry in bundle.get("entry", []):
        kind = entry["resource"]["resourceType"]
        if kind not in ("Patient", "Provenance", "Device"):
            totals[kind] = totals.get(kind, 0) + 1
    paths = []
    for kind, total in sorted(totals.items()):
        for offset in range(0, total, count):
            for sort in ("_lastUpdated", "-_lastUpdated"):
                query = urlencode(
                    {"patient": pid, "_count": count, "_offset": offset, "_sort": sort}
                )
                paths.append(f"/fhir/{kind}?{query}")
    return paths


def run_fhir_bench(settings: ResolvedSettings, config: FhirBenchConfig, say: Say) -> dict[str, Any]:
    with scratch_database(settings, "fhir") as scratch:
        say(f"seeding one patient with {config.resources} resources")
        pid, token = _seed(scratch.migration_url, config.resources, settings.audit_keyring())
        [port] = free_ports(1)
        say("starting `optimerge app` on the scratch database")
        with _app(scratch, port):
            auth = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            paths = _targets(conn, auth, pid, config.count)
            say(f"{config.requests} searches with _count={config.count} over {len(paths)} pages")
            samples: list[float] = []
            entries = 0
            for n in range(config.warmup + config.requests):
                path = paths[n % len(paths)]
                began = time.perf_counter()
                conn.request("GET", path, headers=auth)
                response = conn.getresponse()
                body = response.read()
                elapsed = (time.perf_counter() - began) * 1000
                if response.status != 200:
                    raise RuntimeError(f"GET {path} answered {response.status}: {body[:300]!r}")
                if n >= config.warmup:
                    samples.append(elapsed)
                    entries += len(orjson.loads(body).get("entry", []))
            conn.close()
    ordered = sorted(samples)
    return {
        "config": {
            "requests": config.requests,
            "resources": config.resources,
            "count": config.count,
            "pages": len(paths),
        },
        "entries_returned": entries,
        "p50_ms": percentile(ordered, 50, is_sorted=True),
        "p95_ms": percentile(ordered, 95, is_sorted=True),
        "p99_ms": percentile(ordered, 99, is_sorted=True),
        "max_ms": ordered[-1],
        "requests_per_s": len(ordered) / (sum(ordered) / 1000),
    }
