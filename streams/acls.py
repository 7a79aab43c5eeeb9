"""Who may do what on Kafka (docs/contract.md#kafka-principals): the ACLs of each principal on one
deployment's topics and consumer group, and the admin calls that apply them and create SCRAM
users. Extractors only produce extraction.results; the app produces review.actions and reads
what it shows; workers read the inputs and write the outputs; only operators read the DLQ; only
the audit checkpointer writes audit.checkpoints (operators read it: `optimerge audit verify`)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal

from confluent_kafka import KafkaException

# Missing from confluent-kafka 2.16's type stubs, like NewTopic.
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from streams.admin import admin_client
from streams.security import Kafka
from streams.topics import (
    AUDIT_CHECKPOINTS,
    DEAD_LETTERS,
    EXTRACTION_RESULTS,
    REVIEW_ACTIONS,
    Topics,
)

ADMIN = "admin"  # the brokers' own principal and the infra's: a super user, no ACLs needed
EXTRACTOR, APP, WORKER, OPERATOR = "extractor", "app", "worker", "operator"
CHECKPOINTER = "checkpointer"  # `optimerge audit checkpoint` (docs/contract.md#audit-checkpoints)
PRINCIPALS = (EXTRACTOR, APP, WORKER, OPERATOR, CHECKPOINTER)
# Consumers that only assign partitions still carry a group id (streams/consumers.py).
READER_GROUP_PREFIX = "optimerge-"
SCRAM_ITERATIONS = 8192

Operation = Literal["READ", "WRITE", "CREATE", "DESCRIBE", "DESCRIBE_CONFIGS"]
Resource = Literal["TOPIC", "GROUP", "BROKER"]


class AclError(RuntimeError):
    """ACLs or SCRAM users could not be written; the text says which and why."""


@dataclass(frozen=True, slots=True)
class Grant:
    principal: str
    resource: Resource
    name: str
    operations: tuple[Operation, ...]
    prefixed: bool = False

    def bindings(self) -> list[AclBinding]:
        pattern = ResourcePatternType.PREFIXED if self.prefixed else ResourcePatternType.LITERAL
        return [
            AclBinding(
                ResourceType[self.resource],
                self.name,
                pattern,
                f"User:{self.principal}",
                "*",
                AclOperation[operation],
                AclPermissionType.ALLOW,
            )
            for operation in self.operations
        ]


def leader_topic(group: str) -> str:
    """The topic faust's leader assignor creates and reads for itself."""
    return f"{group}-__assignor-__leader"


def pipeline_grants(topics: Topics, group: str) -> list[Grant]:
    """The ACLs of one deployment: its topics under `topics.prefix`, its worker group."""
    extraction = topics.bind(EXTRACTION_RESULTS).name
    actions = topics.bind(REVIEW_ACTIONS).name
    dlq = topics.bind(DEAD_LETTERS).name
    checkpoints = topics.bind(AUDIT_CHECKPOINTS).name
    outputs = [name for name in topics.all() if name not in (extraction, actions, checkpoints)]
    grants = [
        Grant(EXTRACTOR, "TOPIC", extraction, ("WRITE", "DESCRIBE")),
        Grant(APP, "TOPIC", actions, ("WRITE", "DESCRIBE")),
        # Described, never read: its end offsets give the workers' lag on /api/health.
        Grant(APP, "TOPIC", extraction, ("DESCRIBE",)),
        Grant(APP, "GROUP", group, ("DESCRIBE",)),
        Grant(WORKER, "GROUP", group, ("READ", "DESCRIBE")),
        Grant(WORKER, "TOPIC", leader_topic(group), ("READ", "WRITE", "CREATE", "DESCRIBE")),
        Grant(OPERATOR, "GROUP", group, ("DESCRIBE",)),
        # The app's store of pipeline.metrics (its processes share it) and `optimerge notify`.
        Grant(APP, "GROUP", f"{group}-metrics-store", ("READ", "DESCRIBE")),
        Grant(OPERATOR, "GROUP", f"{group}-notify", ("READ", "DESCRIBE")),
        # Signed chain heads kept outside the database: the checkpointer alone writes them
        # (and creates its topic); `optimerge audit verify` reads them as an operator.
        Grant(CHECKPOINTER, "TOPIC", checkpoints, ("READ", "WRITE", "DESCRIBE", "CREATE")),
        Grant(OPERATOR, "TOPIC", checkpoints, ("READ", "DESCRIBE", "CREATE")),
    ]
    for name in (extraction, actions):
        grants.append(Grant(WORKER, "TOPIC", name, ("READ", "DESCRIBE", "CREATE")))
        grants.append(Grant(OPERATOR, "TOPIC", name, ("READ", "WRITE", "DESCRIBE", "CREATE")))
    for name in outputs:
        grants.append(Grant(WORKER, "TOPIC", name, ("WRITE", "DESCRIBE", "CREATE")))
        grants.append(Grant(OPERATOR, "TOPIC", name, ("READ", "DESCRIBE", "CREATE")))
        # The dead letters hold whole documents that failed: operators read them, nobody else.
        grants.append(
            Grant(APP, "TOPIC", name, ("DESCRIBE",) if name == dlq else ("READ", "DESCRIBE"))
        )
    return grants


def reader_grants() -> list[Grant]:
    """Once per cluster: the group ids of the app's, the operator's and the checkpointer's
    partition readers."""
    return [
        Grant(principal, "GROUP", READER_GROUP_PREFIX, ("READ", "DESCRIBE"), prefixed=True)
        for principal in (APP, OPERATOR, CHECKPOINTER)
    ]


def _wait(futures: Mapping[Any, Future[Any]], what: str) -> None:
    for key, future in futures.items():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            raise AclError(f"could not {what} ({key}): {exc}") from exc


def _every_acl() -> AclBindingFilter:
    # None matches anything (the stubs say str).
    return AclBindingFilter(
        ResourceType.ANY,
        None,  # type: ignore[arg-type]
        ResourcePatternType.ANY,
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        AclOperation.ANY,
        AclPermissionType.ANY,
    )


def apply_grants(kafka: Kafka, grants: Iterable[Grant], timeout: float = 15.0) -> int:
    """Create the ACLs (existing ones are kept as they are) and wait until the broker enforces
    them (the controller commits first; brokers apply a moment later); returns how many."""
    bindings = [b for grant in grants for b in grant.bindings()]
    if not bindings:
        return 0
    admin = admin_client(kafka)
    _wait(admin.create_acls(bindings, request_timeout=30), "create ACLs")
    deadline = time.monotonic() + timeout
    while True:
        described = admin.describe_acls(_every_acl(), request_timeout=timeout).result(
            timeout=timeout
        )
        if set(bindings) <= set(described):
            return len(bindings)
        if time.monotonic() > deadline:
            raise AclError(f"the broker does not enforce the new ACLs after {timeout:.0f} s")
        time.sleep(0.02)


def revoke_grants(kafka: Kafka, grants: Iterable[Grant]) -> None:
    filters = [
        AclBindingFilter(
            b.restype,
            b.name,
            b.resource_pattern_type,
            b.principal,
            b.host,
            b.operation,
            b.permission_type,
        )
        for grant in grants
        for b in grant.bindings()
    ]
    if filters:
        admin = admin_client(kafka)
        _wait(admin.delete_acls(filters, request_timeout=30), "delete ACLs")


def upsert_scram_users(
    kafka: Kafka, passwords: dict[str, str], mechanism: str = "SCRAM-SHA-512"
) -> None:
    """Create or reset each user's SCRAM credential (a fresh salt each time)."""
    kind = ScramMechanism[mechanism.replace("-", "_")]
    upserts: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(
            user, ScramCredentialInfo(kind, SCRAM_ITERATIONS), password.encode()
        )
        for user, password in passwords.items()
    ]
    if upserts:
        admin = admin_client(kafka)
        _wait(admin.alter_user_scram_credentials(upserts, request_timeout=30), "set SCRAM users")
