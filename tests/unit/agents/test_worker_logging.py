"""The worker's logging set-up: records below the log level are never built."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import faust
import pytest

from agents.runtime import _Worker


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield root
    root.setLevel(level)
    root.handlers[:] = handlers


def test_a_worker_at_warning_builds_no_debug_records(root_logger: logging.Logger) -> None:
    # faust's spinner would set the root logger to DEBUG, so every library's debug call made
    # a record that the handlers then dropped.
    app = faust.App("logging-test", broker="kafka://127.0.0.1:1")
    worker = _Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False)
    worker._setup_logging()
    assert root_logger.level == logging.WARNING
    assert not logging.getLogger("aiokafka.consumer.fetcher").isEnabledFor(logging.DEBUG)
    assert logging.getLogger("aiokafka.consumer.fetcher").isEnabledFor(logging.WARNING)
