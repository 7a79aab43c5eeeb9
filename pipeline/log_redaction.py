"""No data in log lines (docs/contract.md#no-phi-in-logs): every log record of the process,
ours and the libraries', has its exception and exception arguments told as
`storage.errors.describe_error` tells them (tracebacks keep their frames). Installed once by each
process's entry point (worker, app, notifier, checkpointer)."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from storage.errors import describe_error

_MARK = "_optimerge_redacts"


def safe_traceback(exc: BaseException) -> str:
    """The traceback's frames (code, never locals) with each exception told safely."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    parts: list[str] = []
    for index, item in enumerate(reversed(chain)):
        if index:
            parts.append("\nThe above exception led to the following exception:\n\n")
        tb: TracebackType | None = item.__traceback__
        if tb is not None:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_tb(tb))
        parts.append(f"{type(item).__module__}.{describe_error(item)}\n")
    return "".join(parts).rstrip("\n")


def redact(record: logging.LogRecord) -> None:
    exc_info = record.exc_info
    if exc_info and exc_info[1] is not None:
        record.exc_text = safe_traceback(exc_info[1])
        record.exc_info = None
    if isinstance(record.args, tuple):
        record.args = tuple(
            describe_error(a) if isinstance(a, BaseException) else a for a in record.args
        )
    elif isinstance(record.args, dict):
        record.args = {
            k: describe_error(v) if isinstance(v, BaseException) else v
            for k, v in record.args.items()
        }


def install_log_redaction() -> None:
    """Wrap the log record factory (idempotent)."""
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()
    if getattr(previous, _MARK, False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redact(record)
        return record

    setattr(factory, _MARK, True)
    logging.setLogRecordFactory(factory)
