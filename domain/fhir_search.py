"""The /fhir/ API's query parameters, parsed and checked (pure): what each interaction accepts,
an unknown one refused (400) unless the client asked `Prefer: handling=lenient`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.fhir_dates import BadDate, Bounds, parse_interval

DEFAULT_COUNT = 50
MAX_COUNT = 500
JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json"})
SORTS = {"_lastUpdated": ("last_updated", False), "-_lastUpdated": ("last_updated", True)}
SORTS |= {"_id": ("id", False), "-_id": ("id", True)}

# Parameters every interaction takes; they change only the representation.
FORMAT_PARAMS = frozenset({"_format", "_pretty"})
PAGING_PARAMS = frozenset({"_count", "_offset"})
SEARCH_COMMON = frozenset({"_id", "_lastUpdated", "_sort", "_summary"}) | PAGING_PARAMS
SEARCH_PARAMS = {
    "Patient": SEARCH_COMMON,
    "Provenance": SEARCH_COMMON | {"target", "patient"},
}
STORED_SEARCH = SEARCH_COMMON | {"patient", "subject", "_source"}
HISTORY_PARAMS = PAGING_PARAMS | {"_since"}
EVERYTHING_PARAMS = PAGING_PARAMS | {"_since", "_type"}


class BadQuery(ValueError):
    """The request's parameters cannot be honoured; `status` 400, or 406 for another format."""

    def __init__(self, problems: Sequence[str], status: int = 400) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)
        self.status = status


@dataclass(frozen=True, slots=True)
class Reference:
    resource_type: str | None
    id: str
    version: str | None = None


@dataclass
class Query:
    """A parsed query. Each tuple in `patients`, `ids`, `documents`, `targets` is one parameter
    occurrence (ANDed); its items are the comma-separated alternatives (ORed). An empty tuple
    matches nothing (e.g. `subject=Group/1`)."""

    patients: list[tuple[str, ...]] = field(default_factory=list)
    ids: list[tuple[str, ...]] = field(default_factory=list)
    documents: list[tuple[str, ...]] = field(default_factory=list)
    targets: list[tuple[Reference, ...]] = field(default_factory=list)
    types: tuple[str, ...] | None = None
    updated: Bounds = field(default_factory=Bounds)
    count: int = DEFAULT_COUNT
    offset: int = 0
    sort: tuple[str, bool] | None = None
    summary_count: bool = False
    # The parameters honoured, as received, for the self and paging links.
    used: list[tuple[str, str]] = field(default_factory=list)


def parse_reference(value: str) -> Reference:
    """`Type/id`, `Type/id/_history/v`, a full URL ending so, or a bare `id`."""
    parts = value.rstrip("/").split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        return Reference(parts[-4], parts[-3], parts[-1])
    if len(parts) >= 2:
        return Reference(parts[-2], parts[-1])
    return Reference(None, value)


def _patient_ids(value: str) -> tuple[str, ...]:
    refs = (parse_reference(v) for v in value.split(",") if v)
    return tuple(r.id for r in refs if r.resource_type in (None, "Patient"))


def _non_negative(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise BadQuery([f"{name} must be a whole number, not {value!r}"]) from None
    if number < 0:
        raise BadQuery([f"{name} must be 0 or more, not {number}"])
    return number


def _apply(query: Query, name: str, value: str) -> None:
    if name in ("patient", "subject"):
        query.patients.append(_patient_ids(value))
    elif name == "_id":
        query.ids.append(tuple(v for v in value.split(",") if v))
    elif name == "_source":
        prefix = "document_"
        sources = (v for v in value.split(",") if v.startswith(prefix))
        query.documents.append(tuple(v[len(prefix) :] for v in sources))
    elif name == "target":
        query.targets.append(tuple(parse_reference(v) for v in value.split(",") if v))
    elif name == "_type":
        query.types = tuple(v for v in value.split(",") if v)
    elif name == "_lastUpdated":
        query.updated = query.updated.narrowed(value)
    elif name == "_since":
        query.updated = Bounds(parse_interval(value).start, query.updated.before)
    elif name == "_count":
        query.count = min(_non_negative(name, value), MAX_COUNT)
    elif name == "_offset":
        query.offset = _non_negative(name, value)
    elif name == "_sort":
        if value not in SORTS:
            raise BadQuery([f"_sort {value!r} is not supported: use {', '.join(SORTS)}"])
        query.sort = SORTS[value]
    elif name == "_summary":
        if value not in ("count", "false"):
            raise BadQuery([f"_summary={value} is not supported (only count and false)"])
        query.summary_count = value == "count"


_SINGLE = frozenset({"_count", "_offset", "_sort", "_summary", "_since", "_type", "_format"})


def parse_query(
    params: Sequence[tuple[str, str]], accepted: frozenset[str], *, lenient: bool
) -> Query:
    """Every (name, value) pair of the query string against the parameters `accepted` here."""
    query = Query()
    problems: list[str] = []
    seen: set[str] = set()
    for name, value in params:
        if "\x00" in name or "\x00" in value:
            problems.append("a parameter holds a NUL character")
            continue
        if name in FORMAT_PARAMS:
            if name == "_format" and value not in JSON_FORMATS:
                raise BadQuery([f"_format={value} is not served: this server speaks JSON"], 406)
            continue
        if name not in accepted:
            if not lenient:
                base = name.partition(":")[0]
                known = ", ".join(sorted(accepted))
                problems.append(
                    f"search modifier {name!r} is not supported"
                    if base in accepted
                    else f"unknown parameter {name!r} (supported here: {known})"
                )
            continue
        if name in _SINGLE and name in seen:
            problems.append(f"{name} may be given once")
            continue
        seen.add(name)
        try:
            _apply(query, name, value)
        except BadDate as exc:
            problems.append(f"{name}: {exc}")
        except BadQuery as exc:
            problems.extend(exc.problems)
        else:
            query.used.append((name, value))
    if problems:
        raise BadQuery(problems)
    return query


def search_params_for(resource_type: str) -> frozenset[str]:
    return SEARCH_PARAMS.get(resource_type, STORED_SEARCH)


def is_lenient(prefer: str | None) -> bool:
    """`Prefer: handling=lenient` (FHIR http.html#prefer); strict is the default."""
    tokens = (t.strip().replace(" ", "") for t in (prefer or "").split(","))
    return "handling=lenient" in tokens
