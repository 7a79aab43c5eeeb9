"""`optimerge dlq list|replay`: inspect dead letters and send them back once fixed."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from config import KafkaEndpoint
from domain.dead_letter_stats import dead_letter_stats
from optimerge.cli._common import audit_keyring, fail, print_json, resolved, with_kafka
from streams.dead_letters import LetterFilter, StoredLetter, read_dead_letters
from streams.topics import Topics

T = TypeVar("T")

dlq_app = typer.Typer(help="Dead letters: events that could not be processed, with the reason.")

Kind = Annotated[
    str | None,
    typer.Option(help="invalid_json, schema, too_large, merge_error, action_error or stuck."),
]
Document = Annotated[str | None, typer.Option(help="Only this document id.")]
Patient = Annotated[str | None, typer.Option(help="Only this patient id (message key).")]
Reason = Annotated[str | None, typer.Option(help="Only reasons containing this text.")]
Since = Annotated[
    datetime | None, typer.Option(help="Only letters written at or after this time (UTC).")
]


def register(app: typer.Typer) -> None:
    app.add_typer(dlq_app, name="dlq")


def _filter(
    kind: str | None,
    document: str | None,
    patient: str | None,
    reason: str | None,
    since: datetime | None,
    refs: Sequence[str] = (),
) -> LetterFilter:
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return LetterFilter(kind, document, patient, reason, since, frozenset(refs))


def _letters(flt: LetterFilter) -> tuple[KafkaEndpoint, list[StoredLetter]]:
    settings, bootstrap = with_kafka()
    topic = Topics(settings.topic_prefix).dlq
    try:
        found = [s for s in read_dead_letters(bootstrap, topic) if flt.matches(s)]
    except (LookupError, TimeoutError) as exc:
        fail(str(exc))
    return bootstrap, found


@dlq_app.command("list")
def dlq_list(
    kind: Kind = None,
    document: Document = None,
    patient: Patient = None,
    reason: Reason = None,
    since: Since = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per letter.")] = False,
) -> None:
    """List dead letters, oldest first: where they came from, why, which document."""
    _, found = _letters(_filter(kind, document, patient, reason, since))
    if as_json:
        print_json(
            [{"ref": s.ref, **s.letter.model_dump(mode="json", exclude={"payload"})} for s in found]
        )
        return
    for s in found:
        letter = s.letter
        typer.echo(
            f"{s.ref:<10} {letter.at:%Y-%m-%d %H:%M:%S} {letter.error_kind:<12} "
            f"doc={letter.document_id or '-'} {letter.reason[:160]}"
        )
    typer.echo(f"{len(found)} dead letter(s)", err=True)


@dlq_app.command("replay")
def dlq_replay(
    refs: Annotated[
        list[str] | None, typer.Argument(help="Letters to replay as PARTITION:OFFSET (from list).")
    ] = None,
    kind: Kind = None,
    document: Document = None,
    patient: Patient = None,
    reason: Reason = None,
    since: Since = None,
    fixed: Annotated[
        Path | None,
        typer.Option(help="Publish this fixed event (JSON file) instead of the stored payload."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Say what would be replayed; send nothing.")
    ] = False,
    actor: Annotated[
        str | None, typer.Option(help="Who retries, for the audit trail (default: the OS user).")
    ] = None,
) -> None:
    """Send matching dead letters back to their source topic (after the cause is fixed). Each
    retry is recorded with an audit entry in its patient's chain."""
    if not any((refs, kind, document, patient, reason, since)):
        fail("say which letters to replay: PARTITION:OFFSET refs or a filter (--kind, ...)")
    bootstrap, found = _letters(_filter(kind, document, patient, reason, since, refs or ()))
    if fixed is not None and len(found) != 1:
        fail(f"--fixed replaces exactly one letter; {len(found)} match")
    if dry_run or not found:
        for s in found:
            typer.echo(f"would replay {s.ref} -> {s.letter.source_topic}")
        typer.echo(f"{len(found)} letter(s) match", err=True)
        return
    from pipeline.retries import RetryNotSentError, retry_dead_letters, skipped_fragments
    from storage.db import connect

    payload = fixed.read_bytes() if fixed is not None else None
    if payload is None:
        for s in skipped_fragments(found):
            typer.echo(
                f"skipped {s.ref}: it kept only the first bytes of its message "
                f"({s.letter.payload_bytes} bytes, sha256 {s.letter.payload_sha256}); "
                "replay it with --fixed FILE",
                err=True,
            )
    settings = resolved()

    keyring = audit_keyring(settings)

    def run_db(fn: Callable[..., T], *args: object) -> T:
        # Retries are the app's to write (docs/contract.md#database-roles).
        with connect(settings.app_url, autocommit=True) as conn:
            return fn(conn, *args)

    try:
        done = retry_dead_letters(
            run_db, bootstrap, found, actor or _os_user(), keyring=keyring, fixed_payload=payload
        )
    except RetryNotSentError as exc:
        fail(str(exc))
    typer.echo(f"replayed {len(done)} letter(s)", err=True)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return "operator"


@dlq_app.command("stats")
def dlq_stats(
    kind: Kind = None,
    document: Document = None,
    patient: Patient = None,
    reason: Reason = None,
    since: Since = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Dead letters counted per kind, per day and per source topic (as GET /api/dlq/stats)."""
    _, found = _letters(_filter(kind, document, patient, reason, since))
    stats = dead_letter_stats(s.letter for s in found)
    if as_json:
        print_json(stats.as_json())
        return
    typer.echo(f"{stats.total} dead letter(s)")
    for name, count in stats.by_kind.items():
        typer.echo(f"  {name:<14} {count}")
    for day, kinds in stats.by_day.items():
        typer.echo(f"  {day}  " + ", ".join(f"{k} {n}" for k, n in kinds.items()))
