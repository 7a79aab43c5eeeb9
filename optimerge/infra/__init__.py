"""Local Kafka (KRaft, jars from Maven Central) and PostgreSQL processes started by the project."""

from optimerge.infra._process import InfraError, ServiceStatus
from optimerge.infra.kafka import LocalKafka
from optimerge.infra.local import Endpoints, down, env, status, up
from optimerge.infra.postgres import LocalPostgres

__all__ = [
    "Endpoints",
    "InfraError",
    "LocalKafka",
    "LocalPostgres",
    "ServiceStatus",
    "down",
    "env",
    "status",
    "up",
]
