"""The last line of isolation (docs/contract.md#merge-semantics): a batch that keeps failing for a
reason that is not an outage is split in halves until the one event that fails is found; that
event is dead-lettered as `stuck` and the rest goes on. Outages (the database or the broker
unreachable) are waited out in place, as long as they last: no event is to blame for them.

Framework-free and synchronous, like the batch processor it wraps."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class StoppingError(Exception):
    """Shutting down while waiting: abandon the batch, ack nothing."""


def run_isolated(
    records: Sequence[T],
    attempt: Callable[[list[T]], object],
    *,
    is_outage: Callable[[BaseException], bool],
    on_stuck: Callable[[T, BaseException], object],
    wait: Callable[[float], bool],
    tries: int = 5,
    max_backoff: float = 30.0,
) -> None:
    """Run `attempt` on `records` until it succeeds; split on repeated non-outage failures.

    `wait(seconds)` sleeps and returns True when the worker is stopping. Time spent on one
    poison event is bounded: `tries` short retries (50 ms doubling, at most 1 s) per level of
    the split, and log2(len(records)) levels."""
    failures = 0
    outage_delay = 0.5
    last: BaseException | None = None
    while True:
        try:
            attempt(list(records))
            return
        except StoppingError:
            raise
        except Exception as exc:
            if is_outage(exc):
                log.warning("outage (%s); retrying in %.1f s", exc, outage_delay)
                if wait(outage_delay):
                    raise StoppingError from exc
                outage_delay = min(outage_delay * 2, max_backoff)
                continue
            failures += 1
            last = exc
            log.error(
                "batch of %d record(s) failed (%d of %d tries): %s: %s",
                len(records),
                failures,
                tries,
                type(exc).__name__,
                exc,
            )
            if failures >= tries:
                break
            if wait(min(0.05 * 2 ** (failures - 1), 1.0)):
                raise StoppingError from exc
    assert last is not None
    if len(records) == 1:
        _set_aside(records[0], last, on_stuck, is_outage, wait, max_backoff)
        return
    middle = len(records) // 2
    for half in (records[:middle], records[middle:]):
        run_isolated(
            half,
            attempt,
            is_outage=is_outage,
            on_stuck=on_stuck,
            wait=wait,
            tries=tries,
            max_backoff=max_backoff,
        )


def _set_aside(
    record: T,
    error: BaseException,
    on_stuck: Callable[[T, BaseException], object],
    is_outage: Callable[[BaseException], bool],
    wait: Callable[[float], bool],
    max_backoff: float,
) -> None:
    delay = 0.5
    while True:
        try:
            on_stuck(record, error)
            return
        except StoppingError:
            raise
        except Exception as exc:
            if not is_outage(exc):
                # Not even its dead letter goes out: it stays in the input topic (and the log).
                log.critical("stuck event %r could not be dead-lettered: %s", record, exc)
                return
            if wait(delay):
                raise StoppingError from exc
            delay = min(delay * 2, max_backoff)
