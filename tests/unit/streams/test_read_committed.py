"""The worker's faust consumer skips records of aborted transactions (read_committed)."""

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
