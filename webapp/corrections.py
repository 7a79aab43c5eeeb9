"""Checking a reviewer's corrected resources before they are sent (pure).

The merge agent replaces the document's resources with exactly this list, so anything it would
refuse or dead-letter is caught here, with a message that says where the problem is."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from schemas.exact_json import dumps_exact, loads_exact
from schemas.fhir_types import NOT_FROM_DOCUMENTS, R4_RESOURCE_TYPES
from schemas.input_contract import MAX_DEPTH, MAX_RESOURCES, tree_problem

STORED_META = ("source", "versionId", "lastUpdated")
# Within an action, a resource starts two levels down (the event, then its list).
MAX_DEPTH_IN_RESOURCE = MAX_DEPTH - 2


class CorrectionError(ValueError):
    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def editable_resources(stored: Sequence[Mapping[str, Any]]) -> str:
    """The stored resources as the editor shows them: ids kept (so they stay the same
    resources), the meta fields the merge agent stamps left out."""
    out = []
    for resource in stored:
        copy = dict(resource)
        meta = {k: v for k, v in (copy.pop("meta", None) or {}).items() if k not in STORED_META}
        if meta:
            copy["meta"] = meta
        out.append(copy)
    return dumps_exact(out, option=orjson.OPT_INDENT_2).decode()


def _references(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [str(v) for k, v in value.items() if k == "reference" and isinstance(v, str)]
        for item in value.values():
            found.extend(_references(item))
        return found
    if isinstance(value, list):
        return [ref for item in value for ref in _references(item)]
    return []


def parse_corrected_resources(
    text: str, *, patient_id: str, max_bytes: int
) -> list[dict[str, Any]]:
    """The resources in `text`, or CorrectionError listing every problem found."""
    if not text.strip():
        raise CorrectionError(["The corrected resources are empty: paste a JSON array."])
    if len(text.encode()) > max_bytes:
        raise CorrectionError([f"The corrected resources are larger than {max_bytes // 1024} KiB."])
    try:
        # Decimals exactly as typed: 0.010 stays 0.010 (docs/contract.md#input-contract).
        data = loads_exact(text)
    except json.JSONDecodeError as exc:
        raise CorrectionError(
            [f"This is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."]
        ) from None
    except (ValueError, RecursionError):
        raise CorrectionError(
            ["This is not valid JSON: numbers must be finite and the nesting not too deep."]
        ) from None
    if not isinstance(data, list):
        raise CorrectionError(["Expected a JSON array of resources: [ {…}, {…} ]."])
    if not data:
        raise CorrectionError(
            [
                "The list is empty. To take this document's data out of the record, use "
                "“Remove from record” instead."
            ]
        )
    if len(data) > MAX_RESOURCES:
        raise CorrectionError([f"At most {MAX_RESOURCES} resources can be sent at once."])
    problems: list[str] = []
    seen_ids: set[str] = set()
    own_refs = {f"Patient/{patient_id}", f"urn:uuid:{patient_id}"}
    for index, resource in enumerate(data, start=1):
        where = f"Resource {index}"
        if not isinstance(resource, dict):
            problems.append(f"{where} is not a JSON object.")
            continue
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str) or rtype not in R4_RESOURCE_TYPES:
            problems.append(f"{where} needs a resourceType (FHIR R4) such as “Condition”.")
            continue
        where = f"Resource {index} ({rtype})"
        # The same limits as every event the merge agent takes (depth, strings, characters).
        shape = tree_problem(resource, max_depth=MAX_DEPTH_IN_RESOURCE)
        if shape:
            problems.append(f"{where}: {shape}.")
        if rtype in NOT_FROM_DOCUMENTS:
            problems.append(f"{where}: a document cannot contribute a {rtype}.")
        rid = resource.get("id")
        if rid is not None:
            if not isinstance(rid, str) or not rid:
                problems.append(f"{where}: “id” must be a non-empty string.")
            elif rid in seen_ids:
                problems.append(f"{where}: id {rid} is used twice.")
            else:
                seen_ids.add(rid)
        for ref in _references(resource):
            if ref.startswith("Patient/") and ref not in own_refs:
                problems.append(f"{where} refers to another patient ({ref}).")
    if problems:
        raise CorrectionError(problems)
    return data
