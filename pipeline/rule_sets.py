"""Which rule set judges a merge: the version activated last, read inside the merge's own
transaction (docs/contract.md#rule-sets).

Reading it per transaction, rather than once at start or on a timer, is what makes a switch
safe while workers run: an activation is one commit, and every merge transaction that starts
after it (on any partition, in any worker) reads the new version, none that starts later can
read an older one. So every partition goes through the versions in the order they were
activated, switches within one batch of the commit, and never flips back during a rebalance;
the version each document records says which judged it. The read is one indexed row, sent
with the merge's lock and loads (no wait of its own); the thresholds of a version never change,
so they are loaded once per version.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import psycopg

from domain.rule_sets import SETTINGS_VERSION, RuleSet, settings_rule_set
from domain.thresholds import RuleThresholds
from storage import rule_sets
from storage.db import Send

# Read once the queries sent with it are answered; the cursor loads a version seen first.
RuleSetReader = Callable[[psycopg.Cursor], RuleSet]


@runtime_checkable
class RuleSetSource(Protocol):
    def ask(self, send: Send) -> RuleSetReader:
        """Send what says the rule set in force (with the merge's first queries)."""
        ...


class ActiveRuleSet:
    """The rule set in force, for one worker process (the settings' thresholds are version 0)."""

    def __init__(self, settings_thresholds: RuleThresholds) -> None:
        self._settings = settings_rule_set(settings_thresholds)
        self._loaded: dict[int, RuleSet] = {}

    def ask(self, send: Send) -> RuleSetReader:
        read_version = rule_sets.send_active_version(send)
        return lambda cur: self._of(cur, read_version())

    def _of(self, cur: psycopg.Cursor, version: int) -> RuleSet:
        if version == SETTINGS_VERSION:
            return self._settings
        found = self._loaded.get(version)
        if found is None:
            found = self._loaded[version] = rule_sets.load_rule_set(cur, version)
        return found


class FixedRuleSet:
    """Always the same rule set (benchmarks, tests, one-off tools)."""

    def __init__(self, rule_set: RuleSet) -> None:
        self.rule_set = rule_set

    def ask(self, send: Send) -> RuleSetReader:
        return lambda cur: self.rule_set
