"""How a Kafka client of ours authenticates (OPTIMERGE_KAFKA__*): the data only. The one place
that turns it into client options is streams/security.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, SecretStr, field_validator

SecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


class KafkaCredentialsError(ValueError):
    """The Kafka security settings are incomplete or unreadable; the text says which."""


class KafkaClientSettings(BaseModel):
    """One principal's client settings; PLAINTEXT (no authentication) unless configured."""

    security_protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    # Read when a client is built, so a rotated password needs a restart, not a new env.
    sasl_password_file: Path | None = None
    # CA bundle for SASL_SSL/SSL brokers (None: the system's).
    ssl_ca_location: Path | None = None

    @field_validator("sasl_password_file", "ssl_ca_location", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # An empty variable means "not set", never the current directory.
        return None if value == "" else value

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    def password(self) -> str:
        """The SASL password, from the setting or its file; a missing or empty one is an error."""
        if self.sasl_password is not None and self.sasl_password.get_secret_value():
            return self.sasl_password.get_secret_value()
        if self.sasl_password_file is not None:
            try:
                text = self.sasl_password_file.read_text().strip()
            except OSError as exc:
                raise KafkaCredentialsError(
                    f"cannot read OPTIMERGE_KAFKA__SASL_PASSWORD_FILE "
                    f"({self.sasl_password_file}): {exc.strerror}"
                ) from exc
            if text:
                return text
            raise KafkaCredentialsError(f"{self.sasl_password_file} is empty")
        raise KafkaCredentialsError(
            f"OPTIMERGE_KAFKA__SECURITY_PROTOCOL is {self.security_protocol}, but no password is "
            "set: set OPTIMERGE_KAFKA__SASL_PASSWORD or OPTIMERGE_KAFKA__SASL_PASSWORD_FILE"
        )

    def username(self) -> str:
        if not self.sasl_username:
            raise KafkaCredentialsError(
                f"OPTIMERGE_KAFKA__SECURITY_PROTOCOL is {self.security_protocol}, but "
                "OPTIMERGE_KAFKA__SASL_USERNAME is not set"
            )
        return self.sasl_username


@dataclass(frozen=True)
class KafkaEndpoint:
    """Where Kafka is and who we are there: what every client of ours is built from."""

    bootstrap: str
    security: KafkaClientSettings = field(default_factory=KafkaClientSettings)

    @property
    def principal(self) -> str | None:
        return self.security.sasl_username if self.security.uses_sasl else None


def kafka_env(security: KafkaClientSettings) -> dict[str, str]:
    """The OPTIMERGE_KAFKA__* variables that give a child process these settings."""
    env: dict[str, str] = {"OPTIMERGE_KAFKA__SECURITY_PROTOCOL": security.security_protocol}
    if security.uses_sasl:
        env["OPTIMERGE_KAFKA__SASL_MECHANISM"] = security.sasl_mechanism
        env["OPTIMERGE_KAFKA__SASL_USERNAME"] = security.sasl_username or ""
        if security.sasl_password_file is not None:
            env["OPTIMERGE_KAFKA__SASL_PASSWORD_FILE"] = str(security.sasl_password_file)
        elif security.sasl_password is not None:
            env["OPTIMERGE_KAFKA__SASL_PASSWORD"] = security.sasl_password.get_secret_value()
    if security.ssl_ca_location is not None:
        env["OPTIMERGE_KAFKA__SSL_CA_LOCATION"] = str(security.ssl_ca_location)
    return env
