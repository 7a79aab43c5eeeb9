"""Sending a review action and waiting for what the merge agent made of it: how the command
line changes a document (every write travels on review.actions)."""

from __future__ import annotations

import time

from pydantic import ValidationError

from schemas import DocumentStatusEvent, ReviewAction
from streams.consumers import assign_all, tail_consumer
from streams.producer import EventProducer
from streams.security import Kafka
from streams.topics import Topics


class NoOutcomeError(TimeoutError):
    """The action is on review.actions, but no worker answered within the timeout."""


def send_and_wait(
    kafka: Kafka, topics: Topics, action: ReviewAction, *, timeout: float
) -> DocumentStatusEvent:
    """Publish `action` and return its outcome from document.status."""
    status = topics.document_status
    consumer = tail_consumer(kafka, purpose="action-outcome")
    try:
        # Listening before sending: the outcome cannot slip past between the two.
        assign_all(consumer, [status.name], start="end")
        with EventProducer(kafka) as producer:
            producer.publish(topics.review_actions, action)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = consumer.poll(min(left, 0.5))
            if msg is None or msg.error() or not msg.value():
                continue
            try:
                event = status.decode(msg.value() or b"")
            except ValidationError:
                continue  # not ours to judge here: the outcome we wait for is well-formed
            if event.action_id == action.action_id:
                return event
    finally:
        consumer.close()
    raise NoOutcomeError(
        f"no worker answered within {timeout:g} s. The action {action.action_id} is on "
        f"{topics.review_actions.name} and will be applied when a worker runs: check "
        "`optimerge infra status` (is `optimerge worker` running?)"
    )
