"""The broker authenticates every client (SASL/SCRAM) and authorises it by principal (ACLs):
without credentials nothing can be read or written; each principal does its job and no more
(docs/contract.md#kafka-principals)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from config import KafkaClientSettings, KafkaEndpoint, ResolvedSettings
from streams.producer import DeliveryFailedError, EventProducer
from streams.security import client_options
from streams.topics import Topics

# A refused client gives up within seconds, not librdkafka's default five minutes.
FAST = {"message.timeout.ms": 2500, "socket.timeout.ms": 2000}


def _produce_all(kafka: KafkaEndpoint | str, names: list[str]) -> dict[str, str | None]:
    """Per topic: None if the message was written, else the error."""
    producer = Producer({**client_options(kafka), **FAST})
    outcome: dict[str, str | None] = {}

    def report(err: object, msg: object) -> None:
        outcome[msg.topic()] = None if err is None else err.str()  # type: ignore[attr-defined]

    for name in names:
        producer.produce(name, b"{}", key=b"k", on_delivery=report)
    producer.flush(10)
    return {name: outcome.get(name, "not delivered") for name in names}


def _produce(kafka: KafkaEndpoint | str, topic: str) -> str | None:
    return _produce_all(kafka, [topic])[topic]


def _read(kafka: KafkaEndpoint | str, topic: str) -> list[bytes]:
    """What a consumer of `kafka` gets from partition 0 of `topic` (raises on refusal)."""
    consumer = Consumer(
        {
            **client_options(kafka),
            "group.id": f"optimerge-probe-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            **{"socket.timeout.ms": 3000},
        }
    )
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        for _ in range(12):
            msg = consumer.poll(0.25)
            if msg is None:
                continue
            if msg.error():
                raise PermissionError(msg.error().str())
            return [msg.value() or b""]
        return []
    finally:
        consumer.close()


def _fill(settings: ResolvedSettings, topics: Topics) -> None:
    """One message on partition 0 of every topic, as the admin (whom ACLs do not limit)."""
    admin = KafkaEndpoint(settings.kafka_bootstrap_servers, _admin_security(settings))
    producer = Producer(client_options(admin))
    for name in topics.all():
        producer.produce(name, b"{}", key=b"k", partition=0)
    assert producer.flush(30) == 0


def _admin_security(settings: ResolvedSettings) -> KafkaClientSettings:
    from optimerge.infra.secrets import LocalSecrets

    return LocalSecrets(settings.infra.state_dir).admin()


def test_a_client_without_credentials_can_neither_read_nor_write_any_topic(
    settings: ResolvedSettings, topics: Topics
) -> None:
    _fill(settings, topics)
    anonymous = settings.kafka_bootstrap_servers  # a bare address: no SASL at all
    # Nor with a wrong password, nor as a user who does not exist.
    guesses = {
        user: KafkaEndpoint(
            settings.kafka_bootstrap_servers,
            KafkaClientSettings(
                security_protocol="SASL_PLAINTEXT", sasl_username=user, sasl_password=password
            ),
        )
        for user, password in (("operator", "wrong"), ("mallory", "anything"))
    }
    unread = (topics.dlq.name, topics.document_status.name)
    # Each refused client waits out its own timeouts: side by side, not one after another.
    with ThreadPoolExecutor(len(unread) + len(guesses) + 1) as pool:
        written = pool.submit(_produce_all, anonymous, list(topics.all()))
        read = {name: pool.submit(_read, anonymous, name) for name in unread}
        guessed = {
            user: pool.submit(_produce, guess, topics.extraction_results.name)
            for user, guess in guesses.items()
        }
    assert all(error is not None for error in written.result().values()), written.result()
    for name, messages in read.items():
        assert messages.result() == [], name
    for user, error in guessed.items():
        assert error.result() is not None, user


def test_kcat_without_the_printed_flags_is_refused(settings: ResolvedSettings, topics: Topics):
    kcat = shutil.which("kcat")
    assert kcat, "kcat is missing: run scripts/setup.sh"
    done = subprocess.run(
        [kcat, "-P", "-b", settings.kafka_bootstrap_servers, "-t", topics.extraction_results.name],
        input=b"{}\n",
        capture_output=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode != 0


def test_each_principal_writes_only_its_own_topics(
    as_principal: Callable[[str], ResolvedSettings], topics: Topics
) -> None:
    def writes(principal: str, name: str) -> bool:
        return _produce(as_principal(principal).kafka_endpoint, name) is None

    # The app's principal cannot pose as an extractor, nor an extractor as the app.
    assert not writes("app", topics.extraction_results.name)
    assert not writes("extractor", topics.review_actions.name)
    assert writes("extractor", topics.extraction_results.name)
    assert writes("app", topics.review_actions.name)
    # Outputs come from workers only.
    for name in (topics.document_status.name, topics.flagged_items.name, topics.dlq.name):
        assert not writes("app", name), name
        assert not writes("operator", name), name
        assert writes("worker", name), name


def test_only_operators_read_the_dead_letters(
    settings: ResolvedSettings, as_principal: Callable[[str], ResolvedSettings], topics: Topics
) -> None:
    _fill(settings, topics)

    def reads(principal: str, name: str) -> bool:
        try:
            return _read(as_principal(principal).kafka_endpoint, name) == [b"{}"]
        except PermissionError:
            return False

    assert reads("operator", topics.dlq.name)
    assert not reads("app", topics.dlq.name)
    assert not reads("worker", topics.dlq.name)
    assert not reads("extractor", topics.dlq.name)
    # The app reads what it shows; an extractor reads nothing at all.
    assert reads("app", topics.flagged_items.name) and reads("app", topics.document_status.name)
    assert not reads("app", topics.extraction_results.name)
    for name in topics.all():
        assert not reads("extractor", name), name


def test_only_the_checkpointer_writes_audit_checkpoints_and_only_operators_read_them(
    settings: ResolvedSettings, as_principal: Callable[[str], ResolvedSettings], topics: Topics
) -> None:
    """Whoever holds the worker's or the app's configuration can neither move nor read the
    checkpoints the audit trail is verified against (docs/contract.md#audit-checkpoints)."""
    _fill(settings, topics)
    checkpoints = topics.audit_checkpoints.name

    def reads(principal: str) -> bool:
        try:
            return _read(as_principal(principal).kafka_endpoint, checkpoints) == [b"{}"]
        except PermissionError:
            return False

    writers = {
        p
        for p in ("extractor", "app", "worker", "operator", "checkpointer")
        if _produce(as_principal(p).kafka_endpoint, checkpoints) is None
    }
    assert writers == {"checkpointer"}
    assert {p for p in ("extractor", "app", "worker", "operator", "checkpointer") if reads(p)} == {
        "checkpointer",
        "operator",
    }
    # And the checkpointer writes nothing else.
    for name in (topics.extraction_results.name, topics.review_actions.name, topics.dlq.name):
        assert _produce(as_principal("checkpointer").kafka_endpoint, name) is not None, name


def test_a_refused_write_names_the_authorization_failure(
    as_principal: Callable[[str], ResolvedSettings], topics: Topics
) -> None:
    with (
        pytest.raises(DeliveryFailedError, match="Topic authorization failed"),
        EventProducer(as_principal("app").kafka_endpoint) as producer,
    ):
        producer.send(topics.extraction_results.name, b"{}", key="k")
