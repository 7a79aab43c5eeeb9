"""Rows of PostgreSQL's COPY text format built at C speed, for the hot tables: psycopg's
`write_row` adapts each value in Python, which costs more than the row's own bytes."""

from __future__ import annotations

from collections.abc import Iterable


def copy_field(value: bytes) -> bytes:
    """A field of COPY text: backslash, newline, carriage return and tab escaped (the only
    bytes the format gives a meaning to; JSON text holds the last three only as spacing)."""
    if b"\\" not in value and b"\n" not in value and b"\r" not in value and b"\t" not in value:
        return value
    return (
        value.replace(b"\\", b"\\\\")
        .replace(b"\n", b"\\n")
        .replace(b"\r", b"\\r")
        .replace(b"\t", b"\\t")
    )


def copy_text(value: str) -> bytes:
    return copy_field(value.encode())


def copy_rows(rows: Iterable[Iterable[bytes]]) -> bytes:
    """COPY text of rows whose fields are already `copy_field`s (no NULLs among them)."""
    return b"".join([b"\t".join(row) + b"\n" for row in rows])
