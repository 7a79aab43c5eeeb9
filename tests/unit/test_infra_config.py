"""Pure pieces of the local infrastructure: rendered configs, ids, quoting, checks."""

from __future__ import annotations

import base64
import shlex
import subprocess
import tempfile
from pathlib import Path

import pytest

from config import InfraSettings
from optimerge.infra import Endpoints, InfraError
from optimerge.infra._kafka_jars import mvn_argv
from optimerge.infra._osuser import RunAs
from optimerge.infra.kafka import cluster_id, render_server_properties
from optimerge.infra.local import describe_url
from optimerge.infra.postgres import render_conf

PW = "admin-password-for-tests"


def _props(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_server_properties_single_node_kraft_on_loopback(tmp_path: Path) -> None:
    infra = InfraSettings(state_dir=tmp_path, kafka_port=29092, kafka_controller_port=29093)
    props = _props(render_server_properties(infra, tmp_path / "data", admin_password=PW))

    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "CLIENT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["advertised.listeners"] == "CLIENT://127.0.0.1:29092"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:29093"
    assert props["log.dirs"] == str(tmp_path / "data")
    assert props["auto.create.topics.enable"] == "false"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
    ):
        assert props[key] == "1", key


def test_both_listeners_authenticate_and_acls_decide(tmp_path: Path) -> None:
    infra = InfraSettings(state_dir=tmp_path, kafka_port=29092, kafka_controller_port=29093)
    props = _props(render_server_properties(infra, tmp_path / "data", admin_password=PW))

    assert props["listener.security.protocol.map"] == (
        "CONTROLLER:SASL_PLAINTEXT,CLIENT:SASL_PLAINTEXT"
    )
    assert "PLAINTEXT://" not in props["listeners"].replace("SASL_PLAINTEXT", "")
    assert props["listener.name.client.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["listener.name.controller.sasl.enabled.mechanisms"] == "PLAIN"
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["super.users"] == "User:admin"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert f'password="{PW}"' in props["listener.name.client.scram-sha-512.sasl.jaas.config"]


def test_server_properties_let_a_5mb_payload_through(tmp_path: Path) -> None:
    props = _props(
        render_server_properties(InfraSettings(state_dir=tmp_path), tmp_path, admin_password=PW)
    )

    assert int(props["message.max.bytes"]) >= 5 * 1024 * 1024
    assert props["replica.fetch.max.bytes"] == props["message.max.bytes"]


def test_cluster_id_is_what_kafka_storage_accepts() -> None:
    for _ in range(200):
        text = cluster_id()
        assert len(text) == 22
        assert not text.startswith("-")
        assert len(base64.urlsafe_b64decode(text + "==")) == 16


def test_mvn_honours_the_configured_kafka_version(tmp_path: Path) -> None:
    argv = mvn_argv("mvn", "4.0.0", tmp_path / "libs", tmp_path / "pom.xml")

    assert "-Dkafka.version=4.0.0" in argv
    assert f"-DoutputDirectory={tmp_path / 'libs'}" in argv


def test_postgres_listens_on_loopback_only(tmp_path: Path) -> None:
    conf = render_conf(InfraSettings(state_dir=tmp_path, postgres_port=25999))

    assert "listen_addresses = '127.0.0.1'" in conf
    assert "port = 25999" in conf


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://optimerge:plain@127.0.0.1:15432/optimerge",
        "postgresql://u:it's%20$HOME`x`@127.0.0.1:15432/db",
    ],
)
def test_export_lines_survive_the_shell(url: str) -> None:
    lines = Endpoints("127.0.0.1:19092", url).export_lines()

    assert lines[0] == "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092"
    assert shlex.split(lines[1]) == ["export", f"DATABASE_URL={url}"]
    script = "\n".join([*lines, 'printf %s "$DATABASE_URL"'])
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout == url


def test_describe_url_hides_the_password() -> None:
    text = describe_url("postgresql://optimerge:s3cret@127.0.0.1:15432/optimerge")

    assert "s3cret" not in text
    assert text == "optimerge@127.0.0.1:15432/optimerge"


def test_unreachable_state_dir_is_named() -> None:
    nobody = RunAs("nobody", 65534, 65534)
    # Not tmp_path: /tmp/pytest-of-root (0700) would be the first dir it names.
    with tempfile.TemporaryDirectory(dir="/tmp") as top:
        Path(top).chmod(0o755)
        locked = Path(top) / "locked"
        locked.mkdir(mode=0o700)

        nobody.check_can_reach(Path(top) / "open" / "data", purpose="PostgreSQL")
        with pytest.raises(InfraError, match=r"cannot enter .*/locked \(mode 0700\)"):
            nobody.check_can_reach(locked / "postgres" / "data", purpose="PostgreSQL")


def test_each_process_of_optimerge_run_gets_its_own_role_and_principal(tmp_path: Path) -> None:
    """docs/contract.md#kafka-principals, "Who runs as whom": `optimerge run` gives each process
    its database role's URL only, its principal, and no signing key it does not sign with."""
    worker_url, app_url = "postgresql://w:x@h/db", "postgresql://a:x@h/db"
    endpoints = Endpoints(
        "127.0.0.1:19092",
        worker_url,
        app_database_url=app_url,
        migration_database_url="postgresql://owner:x@h/db",
        audit_key_file=tmp_path / "audit-key",
        state_dir=tmp_path,
    )
    worker, app, checkpointer = (
        endpoints.process_env(p) for p in ("worker", "app", "checkpointer")
    )
    for env, url, principal in (
        (worker, worker_url, "worker"),
        (app, app_url, "app"),
        (checkpointer, app_url, "checkpointer"),
    ):
        assert env["DATABASE_URL"] == env["OPTIMERGE_APP_DATABASE_URL"] == url, principal
        assert env["OPTIMERGE_MIGRATION_DATABASE_URL"] == "", principal
        assert env["OPTIMERGE_KAFKA__SASL_USERNAME"] == principal
        assert env["OPTIMERGE_KAFKA__SASL_PASSWORD"] == ""  # the file's, never a shell's
        assert env["OPTIMERGE_AUDIT__KEY_FILE"] == str(tmp_path / "audit-key")
        assert env["OPTIMERGE_SIGNING__TRUSTED_KEYS_FILE"].endswith("trusted-keys")
    # Only the app signs (reviewers' actions); its console reads dead letters as the operator.
    assert app["OPTIMERGE_SIGNING__KEY_FILE"].endswith("signing/app.key")
    assert (
        worker["OPTIMERGE_SIGNING__KEY_FILE"] == checkpointer["OPTIMERGE_SIGNING__KEY_FILE"] == ""
    )
    assert app["OPTIMERGE_APP_CONSOLE_KAFKA__SASL_USERNAME"] == "operator"
    assert "OPTIMERGE_APP_CONSOLE_KAFKA__SASL_USERNAME" not in worker | checkpointer
