"""One thin confluent-kafka producer wrapper: idempotent, retries BufferError, flushes on exit."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, TypeVar

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from pydantic import BaseModel

from streams.security import Kafka, client_options
from streams.topics import MAX_MESSAGE_BYTES, BoundTopic

E = TypeVar("E", bound=BaseModel)


class DeliveryFailedError(RuntimeError):
    """Messages not delivered; `transient` when the broker, not the message, is the cause."""

    def __init__(self, message: str, *, transient: bool = True) -> None:
        super().__init__(message)
        self.transient = transient


# Errors after which the same message may well be delivered: the broker was the problem.
_OUTAGES = frozenset(
    {
        KafkaError._MSG_TIMED_OUT,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.REQUEST_TIMED_OUT,
    }
)


def _is_outage(err: KafkaError) -> bool:
    return bool(err.retriable()) or err.code() in _OUTAGES


def is_delivery_outage(exc: BaseException) -> bool:
    """True when publishing failed because the broker is unreachable, not because of a message
    (too large, say): the same batch may be retried as it is."""
    if isinstance(exc, DeliveryFailedError):
        return exc.transient
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return _is_outage(exc.args[0])
    return False


class EventProducer:
    """Use as a context manager; `close()` flushes and raises if any message was not delivered."""

    def __init__(self, kafka: Kafka, **config: Any) -> None:
        options: dict[str, Any] = {
            **client_options(kafka),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
            "message.max.bytes": MAX_MESSAGE_BYTES,
        }
        options.update(config)
        self._producer = Producer(options)
        self._errors: list[tuple[str, bool]] = []
        self.delivered = 0

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self._errors.append((f"{msg.topic()}: {err.str()}", _is_outage(err)))
        else:
            self.delivered += 1

    def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: str | bytes | None = None,
        headers: Iterable[tuple[str, bytes]] | None = None,
        on_delivered: Callable[[int, int], None] | None = None,
    ) -> None:
        """Queue a message; `on_delivered(partition, offset)` is called once it is written."""
        report = self._on_delivery
        if on_delivered is not None:

            def report(err: KafkaError | None, msg: Message) -> None:
                self._on_delivery(err, msg)
                if err is None:
                    on_delivered(msg.partition() or 0, msg.offset() or 0)

        while True:
            try:
                self._producer.produce(
                    topic,
                    value=value,
                    key=key,
                    headers=list(headers) if headers else None,
                    on_delivery=report,
                )
                break
            except BufferError:
                # Local queue full: serve delivery reports to make room, then try again.
                self._producer.poll(0.1)
        self._producer.poll(0)

    def publish(
        self,
        topic: BoundTopic[E],
        event: E,
        *,
        headers: Iterable[tuple[str, bytes]] | None = None,
    ) -> None:
        """Send an event encoded and keyed as its topic says (docs/contract.md#topics)."""
        self.send(topic.name, topic.encode(event), key=topic.key(event), headers=headers)

    def flush(self, timeout: float = 30.0) -> None:
        remaining = self._producer.flush(timeout)
        if remaining:
            raise DeliveryFailedError(f"{remaining} message(s) not delivered within {timeout} s")
        if self._errors:
            errors, self._errors = self._errors, []
            raise DeliveryFailedError(
                f"{len(errors)} message(s) failed: {errors[0][0]}",
                transient=all(outage for _, outage in errors),
            )

    def close(self) -> None:
        self.flush()

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._producer.flush(5.0)


__all__ = ["DeliveryFailedError", "EventProducer", "KafkaException", "is_delivery_outage"]
