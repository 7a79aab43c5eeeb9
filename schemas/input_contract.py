"""The limits every input event keeps (docs/contract.md#input-contract), checked on the parsed
JSON before any model sees it, and by the app on what a reviewer sends.

Reasons name the place and the limit, never the value: they go on dead letters, into logs and
onto document.status, and must not carry what a document says.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

# Deeper than any FHIR resource needs (about 12 levels) and far below the JSON libraries'
# recursion limits (orjson writes at most 254 levels).
MAX_DEPTH = 64
# Characters in one string (an attachment's base64 data included) or one object key.
MAX_STRING_CHARS = 256 * 1024
# Digits of a number written out in plain notation: 1e400 and 1e-400 are refused.
MAX_NUMBER_DIGITS = 80
MAX_RESOURCES = 1000
# Free text a reviewer writes with an action.
MAX_NOTE_CHARS = 2000
# Columns that hold these integers.
MAX_INT32 = 2**31 - 1
MAX_INT64 = 2**63 - 1
# Every timestamp of an input event lies in [EARLIEST, LATEST): any reader (Python's datetime
# included, which stops at year 9999) can read it back in any time zone.
EARLIEST_TIMESTAMP = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_TIMESTAMP = datetime(2200, 1, 1, tzinfo=UTC)

# C0 controls but tab, line feed and carriage return; DEL; lone surrogates (not UTF-8).
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_CONTROL_NAMES = {0: "NUL", 0x7F: "DEL"}


def forbidden_character(text: str) -> str | None:
    """A description of the first character the contract refuses in `text`, or None."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    code = ord(found.group())
    if 0xD800 <= code <= 0xDFFF:
        return f"a lone surrogate U+{code:04X} (not valid Unicode)"
    name = _CONTROL_NAMES.get(code, "control character")
    return f"{name} (U+{code:04X}) at character {found.start()}"


def normalise_free_text(text: str) -> str:
    """Free text a person typed or pasted (a note), with the refused characters removed."""
    return _FORBIDDEN.sub("", text)


def _number_problem(value: int | float | Decimal) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if abs(value) >= 10**MAX_NUMBER_DIGITS:
            return f"a number with more than {MAX_NUMBER_DIGITS} digits"
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else "a number that is not finite"
    if not value.is_finite():
        return "a number that is not finite"
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    integer_digits = max(len(digits) + exponent, 1)
    fraction_digits = max(-exponent, 0)
    if integer_digits + fraction_digits > MAX_NUMBER_DIGITS:
        return f"a number with more than {MAX_NUMBER_DIGITS} digits written out"
    return None


def _where(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path) or "(root)"


# In JSON text, a refused character can only be written as a \u escape (JSON itself forbids
# raw controls in strings), as \b or \f, or as a raw DEL: text without these holds none.
_SUSPECT = re.compile(rb"\\u00[01][0-9a-fA-F]|\\u007[fF]|\\u[dD][89a-fA-F]|\\[bf]|\x7f")
_QUOTED = re.compile(rb'"[^"]*"')
_NOT_QUOTES_OR_BRACKETS = bytes(b for b in range(256) if b not in b'"[]{}')
_AS_PARENTHESES = bytes.maketrans(b"[]{}", b"()()")


def event_problem(value: Any, raw: bytes, *, max_depth: int = MAX_DEPTH) -> str | None:
    """`tree_problem` of `value`, parsed from `raw` by `loads_exact` (which already refused
    over-long numbers): scans of the text spare the walk over every string when nothing in it
    could break a limit; otherwise the full walk says where."""
    clean = (b"\\" not in raw and b"\x7f" not in raw) or _SUSPECT.search(raw) is None
    quick = len(raw) <= MAX_STRING_CHARS and clean
    if quick and _bracket_depth(raw, max_depth) <= max_depth:
        return None
    return tree_problem(value, max_depth=max_depth)


def _bracket_depth(raw: bytes, limit: int) -> int:
    """How deep arrays and objects nest in valid JSON text, counted up to `limit` + 1, at C
    speed: strings taken out, brackets kept as parentheses, innermost pairs peeled per round."""
    if b"\\" in raw:
        # Escapes parse left to right: an escaped backslash, then an escaped quote, can go.
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Only quotes and brackets kept; two quotes side by side enclose (or lie between) strings
    # with no bracket in them, so they can go too; the few strings left hold brackets.
    kept = raw.translate(None, _NOT_QUOTES_OR_BRACKETS).replace(b'""', b"")
    if b'"' in kept:
        kept = _QUOTED.sub(b"", kept)
    shape = kept.translate(_AS_PARENTHESES)
    depth = 0
    while shape and depth <= limit:
        shape = shape.replace(b"()", b"")
        depth += 1
    return depth


def number_problem(text: str) -> str | None:
    """Why a JSON number, as written, breaks the contract (it must fit in 80 digits)."""
    mantissa, _, exponent = text.lower().partition("e")
    digits = len(mantissa) - mantissa.count("-") - mantissa.count(".")
    # Written out, it has at most digits + |exponent| + 1 digits: most need no closer look.
    if len(exponent) <= 4 and digits + abs(int(exponent or 0)) < MAX_NUMBER_DIGITS:
        return None
    if _number_problem(Decimal(text)) is None:
        return None
    return f"a number with more than {MAX_NUMBER_DIGITS} digits written out"


def tree_problem(value: Any, *, max_depth: int = MAX_DEPTH) -> str | None:
    """The first breach of the contract's structural limits in parsed JSON, or None.

    Walks without recursion (a 10,000-level document must not overflow the stack here)."""
    # Each entry: the value, its depth, and its path as a linked list (key, parent).
    stack: list[tuple[Any, int, tuple[Any, ...] | None]] = [(value, 0, None)]
    while stack:
        item, depth, link = stack.pop()
        if isinstance(item, dict | list):
            if depth >= max_depth:
                return f"{_where(_path(link))}: nested deeper than {max_depth} levels"
            if isinstance(item, dict):
                for key, child in item.items():
                    problem = _string_problem(key, MAX_STRING_CHARS, "a key")
                    if problem:
                        return f"{_where(_path(link))}: {problem}"
                    stack.append((child, depth + 1, (key, link)))
            else:
                stack.extend((child, depth + 1, (i, link)) for i, child in enumerate(item))
        elif isinstance(item, str):
            problem = _string_problem(item, MAX_STRING_CHARS, "a string")
            if problem:
                return f"{_where(_path(link))}: {problem}"
        elif isinstance(item, int | float | Decimal):
            problem = _number_problem(item)
            if problem:
                return f"{_where(_path(link))}: {problem}"
    return None


def _string_problem(text: object, limit: int, what: str) -> str | None:
    if not isinstance(text, str):
        return None
    if len(text) > limit:
        return f"{what} longer than {limit:,} characters"
    bad = forbidden_character(text)
    return f"{what} holds {bad}" if bad else None


def _path(link: tuple[Any, ...] | None) -> tuple[str | int, ...]:
    parts: list[str | int] = []
    while link is not None:
        key, link = link
        parts.append(key if isinstance(key, int) else _short(key))
    return tuple(reversed(parts))


def _short(key: str) -> str:
    # A key is part of the shape, not the content, but a hostile one may be long or odd.
    cleaned = normalise_free_text(key)
    return cleaned if len(cleaned) <= 64 else cleaned[:61] + "..."


def timestamp_problem(value: datetime) -> str | None:
    """Why an aware timestamp is outside the contract's range, or None."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        return "outside the years 1900-2199 (UTC)"
    if not EARLIEST_TIMESTAMP <= utc < LATEST_TIMESTAMP:
        return "outside the years 1900-2199 (UTC)"
    return None
