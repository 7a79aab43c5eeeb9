from datetime import UTC, datetime, timedelta

from webapp.throttle import LoginThrottle


def test_five_failures_block_the_name_for_the_window():
    now = [datetime(2026, 11, 23, 12, 0, tzinfo=UTC)]
    throttle = LoginThrottle(lambda: now[0], max_failures=5, window=timedelta(minutes=5))
    for _ in range(4):
        throttle.failed("Ana")
    assert throttle.blocked_for("ana") is None
    throttle.failed("ana")
    assert throttle.blocked_for("ANA") == timedelta(minutes=5)
    assert throttle.blocked_for("bob") is None
    now[0] += timedelta(minutes=5, seconds=1)
    assert throttle.blocked_for("ana") is None


def test_a_success_clears_the_failures():
    now = datetime(2026, 11, 23, tzinfo=UTC)
    throttle = LoginThrottle(lambda: now, max_failures=2)
    throttle.failed("ana")
    throttle.succeeded("ana")
    throttle.failed("ana")
    assert throttle.blocked_for("ana") is None
