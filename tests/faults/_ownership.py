"""Run as a process of its own (python -m tests.faults._ownership BOOTSTRAP GROUP OUT): polls
the consumer group twice a second and appends who owns which partition to OUT as JSON lines.
Apart from the test process because librdkafka's admin client can abort the whole process when
its broker dies under a pending request; the suite kills the broker on purpose."""

from __future__ import annotations

import json
import sys
import time

from confluent_kafka.admin import AdminClient

from config import KafkaEndpoint, load_settings
from streams.security import client_options


def main(bootstrap: str, group: str, out: str) -> None:
    # Credentials from OPTIMERGE_KAFKA__* (progress.py passes the suite's admin).
    security = load_settings().kafka
    admin = AdminClient({**client_options(KafkaEndpoint(bootstrap, security)), "log_level": 0})
    with open(out, "a") as sink:
        while True:
            time.sleep(0.5)
            try:
                found = admin.describe_consumer_groups([group], request_timeout=2)
                description = found[group].result(timeout=5)
            except Exception:
                continue
            owners = {}
            for member in description.members:
                for tp in member.assignment.topic_partitions:
                    owners[tp.partition] = member.group_instance_id or member.member_id
            line = {"at": time.time(), "state": str(description.state), "owners": owners}
            sink.write(json.dumps(line) + "\n")
            sink.flush()


if __name__ == "__main__":
    main(*sys.argv[1:4])
