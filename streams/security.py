"""The one place that maps our Kafka security settings (config/kafka.py) onto client options:
librdkafka's (producer, consumers, admin, kcat) and faust's (aiokafka underneath)."""

from __future__ import annotations

import ssl
from typing import Any

import faust

from config.kafka import KafkaClientSettings, KafkaEndpoint

# Every client is built from an endpoint, never a bare address, so none can leave out the
# credentials by mistake (mypy says where). A str still works at run time, without them.
Kafka = KafkaEndpoint


def endpoint_of(kafka: Kafka | str) -> KafkaEndpoint:
    return kafka if isinstance(kafka, KafkaEndpoint) else KafkaEndpoint(kafka)


def security_options(security: KafkaClientSettings) -> dict[str, str]:
    """librdkafka properties that authenticate as `security` (empty for PLAINTEXT)."""
    options: dict[str, str] = {}
    if security.security_protocol != "PLAINTEXT":
        options["security.protocol"] = security.security_protocol.lower()
    if security.uses_sasl:
        options["sasl.mechanisms"] = security.sasl_mechanism
        options["sasl.username"] = security.username()
        options["sasl.password"] = security.password()
    if security.ssl_ca_location is not None:
        options["ssl.ca.location"] = str(security.ssl_ca_location)
    return options


def client_options(kafka: Kafka | str) -> dict[str, Any]:
    """`bootstrap.servers` plus the security options of a librdkafka client."""
    where = endpoint_of(kafka)
    return {"bootstrap.servers": where.bootstrap, **security_options(where.security)}


def properties_text(security: KafkaClientSettings) -> str:
    """A librdkafka properties file for `kcat -F` (it holds the password: keep it 0600)."""
    return "".join(f"{key}={value}\n" for key, value in security_options(security).items())


def faust_credentials(security: KafkaClientSettings) -> faust.SASLCredentials | None:
    """faust's broker credentials (SASL through aiokafka), or None without authentication."""
    if not security.uses_sasl:
        if security.security_protocol == "SSL":
            raise ValueError("SSL client certificates are not supported here; use SASL_SSL")
        return None
    context = None
    if security.security_protocol == "SASL_SSL":
        cafile = str(security.ssl_ca_location) if security.ssl_ca_location else None
        context = ssl.create_default_context(cafile=cafile)
    return faust.SASLCredentials(
        username=security.username(),
        password=security.password(),
        mechanism=security.sasl_mechanism,
        ssl_context=context,
    )
