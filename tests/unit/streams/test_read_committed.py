"""The worker's faust consumer skips records of aborted transactions (read_committed) and
fetches as the settings say."""

from __future__ import annotations

from config import Settings
from streams.app import create_app


async def test_the_worker_consumer_reads_committed_records_only(tmp_path) -> None:
    app = create_app(Settings(kafka_bootstrap_servers="127.0.0.1:1"), datadir=tmp_path)
    thread = app.consumer._thread

    consumer = thread._create_worker_consumer(app.transport)
    try:
        # aiokafka's fetcher takes it from here when the consumer starts.
        assert consumer._isolation_level == "read_committed"
    finally:
        await consumer.stop()
        thread.thread_loop.close()  # the consumer thread's own loop; the thread never ran


async def test_the_worker_consumer_fetches_by_the_settings(tmp_path) -> None:
    settings = Settings(
        kafka_bootstrap_servers="127.0.0.1:1",
        consumer_fetch_min_bytes=4096,
        consumer_fetch_max_wait_ms=25,
    )
    app = create_app(settings, datadir=tmp_path)
    thread = app.consumer._thread

    consumer = thread._create_worker_consumer(app.transport)
    try:
        assert (consumer._fetch_min_bytes, consumer._fetch_max_wait_ms) == (4096, 25)
    finally:
        await consumer.stop()
        thread.thread_loop.close()
