"""The local Kafka's principals: their SCRAM users and ACLs (`infra up`), and the settings each
one's processes run with (`infra env --principal P`, the workers and app of `optimerge run`)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from config import KafkaClientSettings, KafkaEndpoint, SigningSettings, kafka_env, signing_env
from optimerge.infra.secrets import LocalSecrets
from schemas import ActorKind
from streams.acls import (
    ADMIN,
    APP,
    CHECKPOINTER,
    EXTRACTOR,
    OPERATOR,
    PRINCIPALS,
    WORKER,
    apply_grants,
    pipeline_grants,
    reader_grants,
    upsert_scram_users,
)
from streams.topics import Topics

ALL_PRINCIPALS = (*PRINCIPALS, ADMIN)
# Who signs review actions: the app for reviewers, the operator's command line for operators.
SIGNER_OF = {APP: ActorKind.REVIEWER, OPERATOR: ActorKind.OPERATOR}


class UnknownPrincipalError(ValueError):
    pass


def check_principal(name: str) -> str:
    if name not in ALL_PRINCIPALS:
        raise UnknownPrincipalError(
            f"unknown principal {name!r}: choose one of {', '.join(ALL_PRINCIPALS)}"
        )
    return name


def provision(admin: KafkaEndpoint, secrets: LocalSecrets, topics: Topics, group: str) -> int:
    """Create (or reset) every principal's SCRAM user and its ACLs; returns the ACL count."""
    upsert_scram_users(admin, secrets.passwords())
    return apply_grants(admin, [*pipeline_grants(topics, group), *reader_grants()])


@dataclass(frozen=True)
class PrincipalSettings:
    """What one principal's processes are configured with."""

    principal: str
    kafka: KafkaClientSettings
    signing: SigningSettings

    def env(self) -> dict[str, str]:
        return {**kafka_env(self.kafka), **signing_env(self.signing)}


def principal_settings(secrets: LocalSecrets, principal: str) -> PrincipalSettings:
    check_principal(principal)
    return PrincipalSettings(
        principal, secrets.kafka_client(principal), secrets.signing(SIGNER_OF.get(principal))
    )


def console_env(secrets: LocalSecrets) -> dict[str, str]:
    """The app's operator-console identity (OPTIMERGE_APP_CONSOLE_KAFKA__*): the operator."""
    return {
        key.replace("OPTIMERGE_KAFKA__", "OPTIMERGE_APP_CONSOLE_KAFKA__"): value
        for key, value in kafka_env(secrets.kafka_client(OPERATOR)).items()
    }


def kcat_flags(bootstrap: str, properties: Path) -> str:
    return f"-b {shlex.quote(bootstrap)} -F {shlex.quote(str(properties))}"


def hints(bootstrap: str, secrets: LocalSecrets, topics: Topics) -> list[str]:
    """Comment lines after the exports: kcat as the extractor, and the other principals."""
    flags = kcat_flags(bootstrap, secrets.kcat_properties(EXTRACTOR))
    topic = shlex.quote(topics.extraction_results.name)
    others = "|".join(p for p in ALL_PRINCIPALS if p != OPERATOR)
    return [
        f"# kcat as the extractor: kcat {flags} -P -t {topic} -K '\\t'",
        f"# as another principal: optimerge infra env --principal {others}",
    ]


__all__ = ["ADMIN", "ALL_PRINCIPALS", "APP", "CHECKPOINTER", "EXTRACTOR", "OPERATOR", "WORKER"]
