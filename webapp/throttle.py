"""Slows password guessing, shared by every app process (the counts are in PostgreSQL).

Two counts, never one per account alone: per (account, client address) and per address. A
count past its free attempts blocks its key for 1 s, doubling with each further failure up to
a cap; a block refuses the attempt before the password is even checked, and failures while
blocked are not counted. So one address spraying a password over many names is slowed to one
guess per `address_cap` after a few (50 names: over half an hour instead of a second), while a
stranger elsewhere who fails on a reviewer's name blocks only their own address: the reviewer,
from theirs, logs in as usual. Counts are forgotten after `forget_after` without failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import psycopg

from schemas.events import Clock
from storage.sessions import blocked_until, forget_failures, record_failure


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    pair_free: int = 3
    pair_cap_seconds: float = 300.0
    address_free: int = 10
    address_cap_seconds: float = 60.0
    forget_after: timedelta = timedelta(hours=1)


def _keys(name: str, address: str) -> tuple[str, str]:
    return f"pair:{name.strip().lower()}\x1f{address}", f"addr:{address}"


class LoginThrottle:
    def __init__(self, clock: Clock, policy: ThrottlePolicy | None = None) -> None:
        self._clock = clock
        self.policy = policy or ThrottlePolicy()

    def blocked_for(self, conn: psycopg.Connection, name: str, address: str) -> timedelta | None:
        """How long this name from this address is still refused, or None."""
        now = self._clock()
        until = blocked_until(conn, list(_keys(name, address)), now)
        return None if until is None else until - now

    def failed(self, conn: psycopg.Connection, name: str, address: str) -> None:
        pair, per_address = _keys(name, address)
        now = self._clock()
        forget = now - self.policy.forget_after
        policy = self.policy
        with conn.transaction():
            record_failure(
                conn,
                pair,
                now,
                free=policy.pair_free,
                cap_seconds=policy.pair_cap_seconds,
                forget_before=forget,
            )
            record_failure(
                conn,
                per_address,
                now,
                free=policy.address_free,
                cap_seconds=policy.address_cap_seconds,
                forget_before=forget,
            )

    def succeeded(self, conn: psycopg.Connection, name: str, address: str) -> None:
        # The address's count stays: one good password must not reset a spray from there.
        pair, _ = _keys(name, address)
        forget_failures(conn, pair, older_than=self._clock() - self.policy.forget_after)
