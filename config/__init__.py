"""Configuration on the ground floor: the typed settings every part of optimerge is built from."""

from config.audit import AuditSettings, MissingAuditKeyError
from config.kafka import KafkaClientSettings, KafkaCredentialsError, KafkaEndpoint, kafka_env
from config.settings import (
    InfraSettings,
    MissingEndpointError,
    ResolvedSettings,
    Settings,
    load_settings,
)
from config.signing import SigningSettings, signing_env

__all__ = [
    "AuditSettings",
    "InfraSettings",
    "KafkaClientSettings",
    "KafkaCredentialsError",
    "KafkaEndpoint",
    "MissingAuditKeyError",
    "MissingEndpointError",
    "ResolvedSettings",
    "Settings",
    "SigningSettings",
    "kafka_env",
    "load_settings",
    "signing_env",
]
