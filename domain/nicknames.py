"""Nicknames and short forms of English given names (Bill for William, Liz for Elizabeth).

The data is the hand-curated `nicknames` dataset (PyPI, Apache-2.0), loaded once on
first use into an immutable table. Only direct pairs count: two nicknames of one name (Alex and
Sandy, both of Alexander) are not the same name, or Alexander and Alexandra would be.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from nicknames import NickNamer


def are_nicknames(first: str, second: str) -> bool:
    """True when one normalised given name is a nickname or short form of the other."""
    return second in _relatives().get(first, ())


def nickname_relatives(name: str) -> frozenset[str]:
    """The names that `name` is a nickname of, and its own nicknames (lower case)."""
    return _relatives().get(name, frozenset())


def is_known_name(name: str) -> bool:
    """Whether the dataset lists `name` as a given name or a nickname of one."""
    return name in _relatives()


@cache
def _relatives() -> Mapping[str, frozenset[str]]:
    namer = NickNamer()
    table: dict[str, set[str]] = {}
    for lookup in (namer.nickname_lookup, namer.canonical_lookup):
        for name, related in lookup.items():
            table.setdefault(name, set()).update(related)
    return MappingProxyType({name: frozenset(related - {name}) for name, related in table.items()})
