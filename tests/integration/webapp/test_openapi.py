"""schemathesis (a property-based API tester nobody here wrote) against a live app: it reads
/openapi.json, sends generated requests to every operation of the JSON and FHIR APIs with an
admin's bearer token, and fails on any 500 or any answer the document does not describe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from config import ResolvedSettings
from storage.db import connect
from webapp import create_app

from ._server import AppServer
from ._support import seed_documents
from .conftest import app_parts
from .test_fhir_api import token_for

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
MAX_EXAMPLES = 20


def _config(settings: ResolvedSettings, path: Path) -> Path:
    """Real ids for the operations that would otherwise only ever meet 404s."""
    with connect(settings.migration_url) as conn:
        row = conn.execute(
            "SELECT patient_id, resource_id FROM resources WHERE resource_type = 'Condition' "
            "ORDER BY resource_id LIMIT 1"
        ).fetchone()
    assert row is not None, "the seeded documents hold no Condition"
    patient, condition = row
    path.write_text(
        f"""
[[operations]]
include-path = "/fhir/Patient/{{resource_id}}/$everything"
parameters = {{ resource_id = "{patient}" }}

[[operations]]
include-path = "/fhir/{{resource_type}}/{{resource_id}}/_history"
parameters = {{ resource_type = "Condition", resource_id = "{condition}" }}

[[operations]]
include-path = "/fhir/{{resource_type}}/{{resource_id}}/_history/{{version_id}}"
parameters = {{ resource_type = "Condition", resource_id = "{condition}", version_id = "1" }}
"""
    )
    return path


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    settings: ResolvedSettings, tmp_path: Path
) -> None:
    seed_documents(settings, 20)
    auth = token_for(settings.app_url, "fuzzer", "admin")
    config = _config(settings, tmp_path / "schemathesis.toml")
    app = create_app(*app_parts(settings, live_updates=False))
    st = Path(sys.executable).with_name("st")
    with AppServer(app) as server:
        done = subprocess.run(
            [
                str(st),
                "--config-file",
                str(config),
                "run",
                f"{server.url}/openapi.json",
                "--header",
                f"Authorization: {auth['Authorization']}",
                "--checks",
                CHECKS,
                # Its documented answer without a worker is 503 (docs/contract.md#health), which
                # not_a_server_error refuses; tests/integration/ops/test_health.py covers it.
                "--exclude-path",
                "/api/health",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--seed",
                "19",
                "--generation-database",
                "none",
                "--workers",
                "2",
                "--no-color",
                "--report",
                "junit",
                "--report-dir",
                str(tmp_path),
            ],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    assert done.returncode == 0, done.stdout[-12000:] + done.stderr[-4000:]
    # The counts, for whoever runs with -s: "N generated, ... passed".
    print(done.stdout[done.stdout.find("Test Phases") :])
