"""`optimerge import-legacy FILE`: legacy review records, mapped and imported
(docs/contract.md#legacy-import)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from optimerge.cli._common import audit_keyring, fail, print_json, with_database

if TYPE_CHECKING:
    from domain.legacy import LegacyMapping, Unmapped
    from domain.legacy_report import ImportReport


def register(app: typer.Typer) -> None:
    app.command("import-legacy")(import_legacy)


def import_legacy(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSON lines or a JSON array of legacy ParsedData records.",
            exists=True,
            dir_okay=False,
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Do everything in transactions rolled back.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    actor: Annotated[
        str | None, typer.Option(help="Who runs the import, for the audit trail (default: you).")
    ] = None,
) -> None:
    """Map legacy review statuses (approved -> auto_approved or reviewed) and import documents.

    Idempotent: documents already stored are skipped. Exit 1 when any record was not imported;
    every such record is listed with its line (or array index) and the reason."""
    import psycopg

    from pipeline.legacy_import import BATCH_SIZE
    from pipeline.legacy_import import import_legacy as run_import
    from storage.db import connect

    total, items = _read(file)
    settings, url = with_database()
    keyring = audit_keyring(settings)
    who = actor or _os_user()
    done = 0
    with _progress_bar(total, enabled=total > BATCH_SIZE) as advance:

        def progress(n: int) -> None:
            nonlocal done
            done += n
            advance(n)

        try:
            with connect(url) as conn:
                report = run_import(
                    conn, items, actor=who, keyring=keyring, dry_run=dry_run, progress=progress
                )
        except psycopg.Error as exc:
            from storage.errors import describe_error

            fail(
                f"database error after {done} of {total} record(s): {describe_error(exc)}\n"
                "Batches before it are committed; run the same command again to continue "
                "(documents already imported are skipped)."
            )
    if as_json:
        print_json(_as_json(report, file, dry_run, who))
    else:
        typer.echo(_as_text(report, file, dry_run))
    if report.unmapped or not report.balanced:
        raise typer.Exit(1)


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return "operator"


def _read(path: Path) -> tuple[int, Iterator[LegacyMapping | Unmapped]]:
    """How many records the file holds, and their mappings, read lazily for JSON lines."""
    from domain.legacy import mark_duplicates

    with path.open("rb") as f:
        is_array = f.read(4096).lstrip().startswith(b"[")
    if is_array:
        try:
            items = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            fail(f"{path}: invalid JSON array: {exc}")
        return len(items), mark_duplicates(_map_array(items))
    with path.open("rb") as f:
        total = sum(1 for line in f if line.strip())
    return total, mark_duplicates(_map_lines(path))


def _map_array(items: list[Any]) -> Iterator[LegacyMapping | Unmapped]:
    from domain.legacy import map_legacy

    for index, item in enumerate(items):
        yield map_legacy(item, where=f"index {index}")


def _map_lines(path: Path) -> Iterator[LegacyMapping | Unmapped]:
    from domain.legacy import Unmapped, map_legacy

    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                raw = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield Unmapped(f"invalid JSON: {exc}", f"line {number}")
                continue
            yield map_legacy(raw, where=f"line {number}")


@contextmanager
def _progress_bar(total: int, *, enabled: bool) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on stderr for big imports on a terminal; a no-op otherwise."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    columns = ("importing", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    disable = not (enabled and console.is_terminal)
    with Progress(*columns, console=console, transient=True, disable=disable) as bar:
        task = bar.add_task("import", total=total)
        yield lambda n: bar.advance(task, n)


def _by_status(report: ImportReport) -> dict[str, dict[str, Any]]:
    unmapped = Counter(u.old_status or "(unreadable)" for u in report.unmapped)
    rows: dict[str, dict[str, Any]] = {}
    for old, count in sorted(report.counts_in.items()):
        imported = {new: n for (o, new), n in sorted(report.imported.items()) if o == old}
        rows[old] = {
            "in": count,
            "imported": imported,
            "already_present": report.present_by_status[old],
            "unmapped": unmapped[old],
        }
    return rows


def _as_json(report: ImportReport, path: Path, dry_run: bool, actor: str) -> dict[str, Any]:
    return {
        "file": str(path),
        "dry_run": dry_run,
        "actor": actor,
        "in": report.total_in,
        "imported": report.total_imported,
        "already_present": len(report.already_present),
        "unmapped": len(report.unmapped),
        "balanced": report.balanced,
        "by_status": _by_status(report),
        "awaiting_processing": report.awaiting_processing,
        "resources_stored": dict(sorted(report.resources.items())),
        "generic_flag_reasons": report.generic_flag_reasons,
        "already_present_documents": report.already_present,
        "unmapped_records": [
            {
                "where": u.where,
                "document_id": u.document_id,
                "status": u.old_status,
                "reason": u.reason,
            }
            for u in report.unmapped
        ],
    }


def _table_row(old: str, count: object, out: str, present: object, unmapped: object) -> str:
    return f"  {old:<14}{count!s:>6}  {out:<34}{present!s:>16}{unmapped!s:>10}"


def _as_text(report: ImportReport, path: Path, dry_run: bool) -> str:
    from domain.legacy import GENERIC_RULE

    title = f"legacy import of {path}"
    lines = [f"{title} (dry run: rolled back, nothing written)" if dry_run else title]
    lines.append(_table_row("old status", "in", "imported as", "already present", "unmapped"))
    for old, row in _by_status(report).items():
        out = ", ".join(f"{new} {n}" for new, n in row["imported"].items()) or "-"
        if "pending" in row["imported"]:
            out += " (awaiting processing)"
        lines.append(_table_row(old, row["in"], out, row["already_present"], row["unmapped"]))
    kinds = ", ".join(f"{t} {n}" for t, n in sorted(report.resources.items()))
    stored = sum(report.resources.values())
    label = "resources that would be stored" if dry_run else "resources stored"
    lines.append(f"{label}: {stored}" + (f" ({kinds})" if kinds else ""))
    if report.generic_flag_reasons:
        lines.append(
            f"flag reasons naming no rule, kept verbatim under {GENERIC_RULE.value}: "
            f"{report.generic_flag_reasons}"
        )
    if report.unmapped:
        lines.append("unmapped:")
        for u in report.unmapped:
            doc = f" ({u.document_id})" if u.document_id else ""
            lines.append(f"  {u.where or '?'}{doc}: {u.reason}")
    verdict = (
        "every record is accounted for"
        if report.balanced
        else "MISMATCH: some records are not accounted for"
    )
    lines.append(
        f"{report.total_in} in = {report.total_imported} imported + "
        f"{len(report.already_present)} already present + {len(report.unmapped)} unmapped: "
        f"{verdict}"
    )
    return "\n".join(lines)
