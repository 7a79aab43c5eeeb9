"""References from a document's resources to another patient's data (rule `foreign_reference`,
docs/contract.md#flag-rules). Pure: storage/ says who owns the ids named, this decides.

"Another patient's data" is: `Patient/<id>` (also as an absolute URL or with `/_history/...`)
where <id> is not the document's patient; `<Type>/<id>` or `urn:uuid:<id>` where <id> is the
stored resource id of a resource of another patient; `urn:uuid:<id>` where <id> is another
patient's id. References to the document's own resources (rewritten to their stored ids) and to
contained resources (`#...`) never count. Nothing here ever dereferences a reference.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.resource_text import may_hide_a_reference, reference_values
from schemas.exact_json import dumps_exact
from schemas.fhir_types import R4_RESOURCE_TYPES

_HISTORY = re.compile(r"/_history/[^/]*$")


@dataclass(frozen=True, slots=True)
class Target:
    """What a reference names: a resource type ("" for urn:uuid) and an id."""

    reference: str
    resource_type: str
    id: str


def parse_reference(reference: str) -> Target | None:
    if reference.startswith("#") or not reference:
        return None
    if reference.startswith("urn:uuid:"):
        return Target(reference, "", reference[len("urn:uuid:") :])
    parts = _HISTORY.sub("", reference).rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] in R4_RESOURCE_TYPES and parts[-1]:
        return Target(reference, parts[-2], parts[-1])
    return None


def references_in(resources: Sequence[Any], texts: Sequence[bytes] | None = None) -> list[Target]:
    """Every reference the resources hold, found in one C-speed scan of their JSON text: the
    event's own text of each when given (and no key in it could be escaped), else all of them
    serialised at once. The order of the targets is the resources' order."""
    text = b",".join(texts) if texts is not None else b""
    if texts is None or may_hide_a_reference(text):
        text = dumps_exact(list(resources))
    if b'"reference"' not in text:
        return []
    found: list[Target] = []
    for reference in reference_values(text):
        target = parse_reference(reference)
        if target is not None:
            found.append(target)
    return found


def ids_to_look_up(targets: Iterable[Target]) -> list[str]:
    """Ids whose owner storage must say (those the patient id alone cannot judge)."""
    return sorted({t.id for t in targets if t.resource_type != "Patient"})


def foreign_references(
    patient_id: str,
    targets: Iterable[Target],
    owners: Mapping[str, str],
    own_references: Iterable[str] = (),
) -> list[str]:
    """The references (as written) that point at another patient's data.

    `owners` maps a looked-up id to the patient it belongs to (a patient id maps to itself);
    `own_references` are those that name the document's own resources."""
    own = set(own_references)
    foreign: list[str] = []
    for target in targets:
        if target.reference in own:
            continue
        if target.resource_type == "Patient":
            if target.id != patient_id:
                foreign.append(target.reference)
            continue
        owner = owners.get(target.id)
        if owner is not None and owner != patient_id:
            foreign.append(target.reference)
    return list(dict.fromkeys(foreign))
