"""The `foreign_reference` flag of one merge segment (docs/contract.md#flag-rules): the
references its extractions hold, who owns what they name (one query for the segment), and the
reason for each document that points at another patient's data. Nothing is ever followed."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from domain.flag_rules import foreign_reference
from domain.references import Target, foreign_references, ids_to_look_up, references_in
from domain.reports import IncomingExtraction
from domain.resources import DocumentResources
from schemas import FlagReason
from storage import resources

# One extraction of the segment with its resources as the merge works them out (same ids).
Prepared = tuple[IncomingExtraction, DocumentResources]


class ForeignReferences:
    def __init__(self, cur: psycopg.Cursor, items: Sequence[Prepared]) -> None:
        self._targets = {id(item): _targets(item, prepared) for item, prepared in items}
        wanted = ids_to_look_up(t for targets in self._targets.values() for t in targets)
        self._owners = resources.owners_of(cur, wanted)

    def reason(self, item: IncomingExtraction, prepared: DocumentResources) -> FlagReason | None:
        targets = self._targets.get(id(item), [])
        if not targets:
            return None
        result = item.result
        found = foreign_references(
            result.patient_id, targets, self._owners, own_references=prepared.local_links
        )
        return foreign_reference(found)


def _targets(item: IncomingExtraction, prepared: DocumentResources) -> list[Target]:
    raw = item.raw
    if raw is not None and b'"reference"' not in raw and b"\\u" not in raw:
        return []  # the common case: nothing refers anywhere (one C-speed scan)
    return references_in(item.result.resources, prepared.texts)
