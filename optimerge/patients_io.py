"""Reading FHIR Patient resources from files: single resources, Bundles, or folders of them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson


def _patients_in(doc: Any) -> list[dict[str, Any]]:
    if not isinstance(doc, dict):
        return []
    if doc.get("resourceType") == "Patient":
        return [doc]
    if doc.get("resourceType") == "Bundle":
        found: list[dict[str, Any]] = []
        for entry in doc.get("entry") or []:
            found.extend(_patients_in((entry or {}).get("resource")))
        return found
    return []


def _files(paths: Iterable[Path]) -> Iterable[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.json") if p.is_file())
        else:
            yield path


def read_patients(paths: Iterable[Path]) -> tuple[list[dict[str, Any]], list[tuple[Path, str]]]:
    """All Patient resources found, and the files skipped with the reason."""
    patients: list[dict[str, Any]] = []
    skipped: list[tuple[Path, str]] = []
    for path in _files(paths):
        try:
            doc = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            skipped.append((path, str(exc)))
            continue
        found = _patients_in(doc)
        if not found:
            skipped.append((path, "no Patient resource in it"))
        patients.extend(found)
    return patients, skipped
