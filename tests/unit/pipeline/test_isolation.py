"""A poison event is split out of its batch and set aside; outages are waited out in place."""

from __future__ import annotations

import pytest

from pipeline.isolation import StoppingError, run_isolated


class Outage(Exception):
    pass


def run(records, attempt, *, tries=5, waits=None, stuck=None):
    waits = [] if waits is None else waits
    stuck = [] if stuck is None else stuck
    run_isolated(
        records,
        attempt,
        is_outage=lambda exc: isinstance(exc, Outage),
        on_stuck=lambda record, exc: stuck.append((record, str(exc))),
        wait=lambda seconds: waits.append(seconds) or False,
        tries=tries,
    )
    return stuck, waits


def test_the_one_poison_event_is_found_and_the_rest_is_handled_in_order():
    handled: list[int] = []

    def attempt(batch: list[int]) -> None:
        if 13 in batch:
            raise ValueError("poison 13")
        handled.extend(batch)

    stuck, waits = run(list(range(100)), attempt)
    assert stuck == [(13, "poison 13")]
    assert handled == [n for n in range(100) if n != 13]
    # Bounded: 5 tries per level of the split (log2 100 < 8 levels), each wait at most 1 s.
    assert len(waits) <= 4 * 8 and sum(waits) < 8


def test_an_outage_is_waited_out_without_counting_as_a_failure():
    calls = {"n": 0}

    def attempt(batch: list[int]) -> None:
        calls["n"] += 1
        if calls["n"] <= 20:
            raise Outage("database down")

    stuck, waits = run([1, 2, 3], attempt, tries=2)
    assert stuck == [] and calls["n"] == 21
    assert max(waits) == 30.0  # backoff capped


def test_stopping_abandons_the_batch():
    def attempt(batch: list[int]) -> None:
        raise Outage("broker down")

    with pytest.raises(StoppingError):
        run_isolated(
            [1],
            attempt,
            is_outage=lambda exc: True,
            on_stuck=lambda r, e: None,
            wait=lambda seconds: True,
        )
