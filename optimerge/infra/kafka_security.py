"""The local brokers' security settings: SASL on both listeners, ACLs by principal.

- Clients and brokers (the CLIENT listener, also inter-broker): SCRAM-SHA-512. The brokers' own
  principal, `admin`, gets its SCRAM credential when the storage is formatted (`--add-scram`), so
  brokers authenticate to each other from the first start; the other principals are created by
  `infra up` through the Admin API.
- Controllers (the CONTROLLER listener, KRaft quorum and broker registration): SASL PLAIN with
  the one `admin` user defined in the JAAS line. A PLAINTEXT controller port would have to let
  ANONYMOUS in as a super user, and anyone on the host could then rewrite the ACLs through it.
  PLAIN sends the password in clear, on 127.0.0.1 only: the file it is in is 0600.
- kcat: Debian's links librdkafka 2.0.2, whose SCRAM Kafka 4 refuses (a nonce bug fixed in
  librdkafka 2.6.1). The CLIENT listener also takes SASL PLAIN for the application principals
  (not the admin), with the same passwords, so `kcat -F <principal>.properties` works; our own
  clients always use SCRAM.
- StandardAuthorizer with `admin` as the only super user: no ACL, no access."""

from __future__ import annotations

from streams.acls import ADMIN

MECHANISM = "SCRAM-SHA-512"
CLIENT = "CLIENT"
CONTROLLER = "CONTROLLER"


def scram_jaas(username: str, password: str) -> str:
    return (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{username}" password="{password}";'
    )


def plain_jaas(username: str, password: str) -> str:
    # The same line is the controllers' user list (user_<name>) and every node's login.
    return (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="{username}" password="{password}" user_{username}="{password}";'
    )


def plain_users_jaas(passwords: dict[str, str]) -> str:
    users = " ".join(f'user_{name}="{password}"' for name, password in sorted(passwords.items()))
    return f"org.apache.kafka.common.security.plain.PlainLoginModule required {users};"


def security_properties(
    admin_password: str, plain_passwords: dict[str, str] | None = None
) -> dict[str, str]:
    """`plain_passwords`: the application principals kcat may log in as (PLAIN)."""
    client, controller = CLIENT.lower(), CONTROLLER.lower()
    plain = {}
    if plain_passwords:
        plain = {
            f"listener.name.{client}.sasl.enabled.mechanisms": f"{MECHANISM},PLAIN",
            f"listener.name.{client}.plain.sasl.jaas.config": plain_users_jaas(plain_passwords),
        }
    return {
        "listener.security.protocol.map": f"{CONTROLLER}:SASL_PLAINTEXT,{CLIENT}:SASL_PLAINTEXT",
        "inter.broker.listener.name": CLIENT,
        "sasl.enabled.mechanisms": MECHANISM,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        f"listener.name.{client}.sasl.enabled.mechanisms": MECHANISM,
        f"listener.name.{client}.scram-sha-512.sasl.jaas.config": scram_jaas(ADMIN, admin_password),
        "sasl.mechanism.controller.protocol": "PLAIN",
        f"listener.name.{controller}.sasl.enabled.mechanisms": "PLAIN",
        f"listener.name.{controller}.plain.sasl.jaas.config": plain_jaas(ADMIN, admin_password),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"User:{ADMIN}",
        "allow.everyone.if.no.acl.found": "false",
        **plain,
    }


def format_scram_arg(admin_password: str) -> str:
    """`kafka-storage format --add-scram`: the admin's credential in the first metadata."""
    return f"{MECHANISM}=[name={ADMIN},password={admin_password}]"


def command_config(admin_password: str) -> str:
    """A Java client's properties (kafka-metadata-quorum) as the admin."""
    return (
        "security.protocol=SASL_PLAINTEXT\n"
        f"sasl.mechanism={MECHANISM}\n"
        f"sasl.jaas.config={scram_jaas(ADMIN, admin_password)}\n"
    )
