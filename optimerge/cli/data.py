"""Commands that move data in and out: publish, patients import, patient bundle, document show,
document rollback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from config import Settings
from domain.read_audit import ReadEntry
from optimerge.cli._common import (
    fail,
    print_json,
    resolved,
    signing_of,
    with_app_database,
    with_database,
    with_kafka,
)
from schemas import ReviewAction
from streams.topics import Topics

patients_app = typer.Typer(help="The patient registry that flag rules compare against.")
patient_app = typer.Typer(help="Read one patient's merged record.")
document_app = typer.Typer(help="Read or act on one document.")


def _operator_signer(settings: Settings) -> Callable[[ReviewAction], ReviewAction]:
    """Signs unsigned actions as the operator's, stamped now (docs/contract.md#signatures)."""
    from datetime import UTC, datetime

    from pipeline.signatures import SigningConfigError, load_signer
    from schemas import ActorKind

    try:
        signer = load_signer(signing_of(settings))
    except SigningConfigError as exc:
        fail(str(exc))
    if signer is None:
        fail(
            "review actions are applied only when signed: set OPTIMERGE_SIGNING__KEY_FILE to "
            "the operator's key (`optimerge infra env` prints it for the local infra)"
        )
    key = signer

    def sign(action: ReviewAction) -> ReviewAction:
        if action.signature:
            return action
        stamped = action.model_copy(
            update={"actor_kind": ActorKind.OPERATOR, "requested_at": datetime.now(UTC)}
        )
        return key.sign(stamped)

    return sign


def register(app: typer.Typer) -> None:
    app.command("publish")(publish)
    app.add_typer(patients_app, name="patients")
    app.add_typer(patient_app, name="patient")
    app.add_typer(document_app, name="document")


def publish(
    files: Annotated[
        list[Path], typer.Argument(help="JSON lines or a JSON array of ExtractionResult.")
    ],
    review: Annotated[
        bool,
        typer.Option(
            "--review",
            help="The files hold ReviewAction events instead; unsigned ones are signed with "
            "the operator's key (OPTIMERGE_SIGNING__KEY_FILE) as operator actions, now.",
        ),
    ] = False,
) -> None:
    """Publish events to extraction.results (or review.actions), keyed by patient_id."""
    from optimerge.publish import PublishError, publish_files

    settings, kafka = with_kafka()
    topics = Topics(settings.topic_prefix)
    sign = _operator_signer(settings) if review else None
    try:
        counts = publish_files(kafka, topics, files, review=review, sign=sign)
    except PublishError as exc:
        fail(str(exc))
    typer.echo(f"published {counts.published} event(s) to {counts.topic}", err=True)


@patients_app.command("import")
def patients_import(
    paths: Annotated[
        list[Path], typer.Argument(help="FHIR JSON files or folders: Patients or Bundles.")
    ],
) -> None:
    """Load FHIR Patient resources (alone or inside Bundles) as patient records."""
    from optimerge.patients_io import read_patients
    from storage.db import connect
    from storage.patients import import_patients

    _, url = with_database()
    patients, skipped = read_patients(paths)
    with connect(url) as conn:
        count = import_patients(conn, patients)
    typer.echo(f"imported {count} patient(s); skipped {len(skipped)} file(s)", err=True)
    for path, why in skipped:
        typer.echo(f"  skipped {path}: {why}", err=True)


ReadBy = Annotated[
    str | None,
    typer.Option("--actor", help="Who reads, for the read audit (default: the OS user)."),
]


def _cli_read(
    actor: str | None, what: str, patients: list[str], documents: list[str], count: int
) -> ReadEntry:
    import getpass
    import socket

    from domain.read_audit import ReadChannel

    try:
        who = actor or getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        who = "cli"
    return ReadEntry(
        actor=who,
        actor_role="cli",
        channel=ReadChannel.CLI,
        what=what,
        patient_ids=tuple(patients),
        document_ids=tuple(documents),
        resource_count=count,
        client_addr=socket.gethostname(),
        user_agent="optimerge CLI",
    )


@patient_app.command("bundle")
def patient_bundle(patient_id: str, actor: ReadBy = None) -> None:
    """Print the patient's record as a FHIR R4 Bundle (JSON), with Provenance per document.
    The read is recorded in the read audit."""
    from storage.db import connect
    from storage.read import read_patient_bundle
    from storage.read_audit import record_read

    _, url = with_app_database()
    with connect(url) as conn:
        bundle = read_patient_bundle(conn, patient_id)
        if bundle is None:
            fail(f"patient {patient_id} does not exist")
        count = len(bundle.get("entry", []))
        record_read(conn, _cli_read(actor, "patient_bundle", [patient_id], [], count))
    print_json(bundle)


@document_app.command("show")
def document_show(document_id: str, actor: ReadBy = None) -> None:
    """Print the document's stored state as JSON (exit 1 if it does not exist). The read is
    recorded in the read audit."""
    from storage.db import connect
    from storage.read import document_state
    from storage.read_audit import record_read

    _, url = with_app_database()
    with connect(url) as conn:
        state = document_state(conn, document_id)
        if state is None:
            fail(f"document {document_id} does not exist")
        entry = _cli_read(actor, "document_show", [state.patient_id], [document_id], 0)
        record_read(conn, entry)
    print_json(state.model_dump())


@document_app.command("rollback")
def document_rollback(
    document_id: str,
    actor: Annotated[str, typer.Option(help="Who asks for it (written to the audit trail).")],
    note: Annotated[str, typer.Option(help="Why (written to the audit trail).")] = "",
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for a worker to apply it.")
    ] = 30.0,
) -> None:
    """Remove one document's resources from the record, and nothing else.

    Sent as a review action (actor kind operator) through review.actions, so it is applied in
    order with the patient's other changes, audited, and announced on document.status and
    flagged.items like a reviewer's. Waits for the outcome; a document already removed is
    reported, not removed twice (exit 0)."""
    from schemas import ActorKind, ReviewActionKind, ReviewStatus
    from schemas.input_contract import normalise_free_text
    from storage.db import connect
    from storage.read import document_state
    from streams.actions import NoOutcomeError, send_and_wait

    settings = resolved()
    with connect(settings.app_url) as conn:
        state = document_state(conn, document_id)
    if state is None:
        fail(f"document {document_id} does not exist")
    if state.review_status == ReviewStatus.REJECTED:
        print_json(
            {"document_id": document_id, "outcome": "already_removed", "resources_removed": 0}
        )
        return
    action = ReviewAction(
        document_id=document_id,
        patient_id=state.patient_id,
        action=ReviewActionKind.ROLLBACK,
        reviewer=actor,
        actor_kind=ActorKind.OPERATOR,
        expected_version=state.version,
        # Free text, as the app treats a reviewer's note (docs/contract.md#input-contract).
        note=normalise_free_text(note),
    )
    action = _operator_signer(settings)(action)
    try:
        outcome = send_and_wait(
            settings.kafka_endpoint,
            Topics(settings.topic_prefix),
            action,
            timeout=timeout,
        )
    except NoOutcomeError as exc:
        fail(str(exc))
    print_json(
        {
            "document_id": document_id,
            "action_id": str(action.action_id),
            "outcome": outcome.outcome,
            "version": outcome.version,
            "review_status": outcome.review_status,
            "resources_removed": state.resource_count if outcome.outcome == "applied" else 0,
            "reason": outcome.reason,
        }
    )
    if outcome.outcome != "applied":
        fail(f"rollback refused: {outcome.reason}")
