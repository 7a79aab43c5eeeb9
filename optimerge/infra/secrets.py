"""The local infra's secrets, generated on first use into `<state_dir>/secrets` (0700; every file
0600): a SCRAM password and a kcat properties file per Kafka principal, and the signing keys of
review actions with the public keys workers trust. Nothing here is ever printed by default."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

from config import KafkaClientSettings, SigningSettings
from domain.signing import SigningKey
from schemas import ActorKind
from streams.acls import ADMIN, PRINCIPALS
from streams.security import properties_text

MECHANISM = "SCRAM-SHA-512"
# The keys of the two kinds of signer: the app (reviewers) and the operator's command line.
SIGNERS = {ActorKind.REVIEWER: "app", ActorKind.OPERATOR: "operator"}


def _write_private(path: Path, data: bytes) -> bool:
    """Create `path` readable by its owner only; False if it exists already (kept as is).
    Its folders up to `secrets/` are the owner's only too."""
    folder = path.parent
    for directory in (folder.parent, folder):  # secrets/ and secrets/<kind>/
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)
    # Written aside, then linked in: whoever reads the name sees the whole secret or none
    # (several brokers of a cluster start side by side).
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)
    return True


class LocalSecrets:
    def __init__(self, state_dir: Path) -> None:
        self.dir = (state_dir / "secrets").resolve()

    # --- Kafka ------------------------------------------------------------------------------

    def password_file(self, principal: str) -> Path:
        path = self.dir / "kafka" / f"{principal}.password"
        if not path.exists():
            _write_private(path, secrets.token_urlsafe(32).encode() + b"\n")
        return path

    def password(self, principal: str) -> str:
        text = self.password_file(principal).read_text().strip()
        if not text:
            raise ValueError(f"{self.password_file(principal)} is empty: delete it and run up")
        return text

    def kafka_client(self, principal: str) -> KafkaClientSettings:
        return KafkaClientSettings(
            security_protocol="SASL_PLAINTEXT",
            sasl_mechanism=MECHANISM,
            sasl_username=principal,
            sasl_password_file=self.password_file(principal),
        )

    def passwords(self) -> dict[str, str]:
        """Every application principal's password (the admin's is baked in at format)."""
        return {principal: self.password(principal) for principal in PRINCIPALS}

    def admin(self) -> KafkaClientSettings:
        return self.kafka_client(ADMIN)

    def kcat_properties(self, principal: str) -> Path:
        """A librdkafka properties file for `kcat -F` (rewritten: the password may rotate).
        PLAIN, not SCRAM: Debian's kcat links a librdkafka whose SCRAM Kafka 4 refuses
        (optimerge/infra/kafka_security.py)."""
        path = self.dir / "kafka" / f"{principal}.properties"
        plain = self.kafka_client(principal).model_copy(update={"sasl_mechanism": "PLAIN"})
        text = properties_text(plain).encode()
        if not _write_private(path, text) and path.read_bytes() != text:
            path.write_bytes(text)
        return path

    # --- signing keys -----------------------------------------------------------------------

    def signing_key_file(self, kind: ActorKind) -> Path:
        path = self.dir / "signing" / f"{SIGNERS[kind]}.key"
        if not path.exists():
            _write_private(path, SigningKey.generate().pem())
        return path

    def trusted_keys_file(self) -> Path:
        """The public half of both keys, one line each (what workers trust). Lines added by
        hand (a new key while keys rotate) are kept; a current key missing is appended."""
        path = self.dir / "signing" / "trusted-keys"
        wanted = []
        for kind, signer in SIGNERS.items():
            key = SigningKey.from_pem(self.signing_key_file(kind).read_bytes())
            wanted.append(key.trusted_line(kind, f"local-{signer}"))
        if _write_private(path, "".join(f"{line}\n" for line in wanted).encode()):
            return path
        have = path.read_text()
        missing = [line for line in wanted if line.rsplit(" ", 1)[0] not in have]
        if missing:
            with path.open("a") as out:
                out.write("".join(f"{line}\n" for line in missing))
        return path

    def signing(self, signer: ActorKind | None) -> SigningSettings:
        """What a process signs with (None: it signs nothing) and which keys it trusts."""
        return SigningSettings(
            key_file=self.signing_key_file(signer) if signer is not None else None,
            trusted_keys_file=self.trusted_keys_file(),
        )
