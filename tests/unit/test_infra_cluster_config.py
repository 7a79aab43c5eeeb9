"""Pure pieces of the local cluster and the Patroni pair: layouts, configs, parsing, choices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config import InfraSettings
from optimerge.infra import Endpoints, InfraError
from optimerge.infra._kafka_tools import QuorumMember, parse_replication
from optimerge.infra._patroni_config import MemberPaths, Passwords, render_member_config
from optimerge.infra.kafka_cluster import ClusterLayout, KafkaCluster
from optimerge.infra.kafka_config import render_server_properties, replication_policy
from optimerge.infra.kafka_health import describe_members
from optimerge.infra.local import describe_url, local_database, start_local_database
from optimerge.infra.patroni import PatroniPostgres
from optimerge.infra.postgres import LocalPostgres, render_conf
from storage.migrate import current_primary_url
from streams.admin import min_insync_for

PW = "admin-password-for-tests"


def _props(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def _infra(tmp_path: Path, **changes: object) -> InfraSettings:
    return InfraSettings(
        state_dir=tmp_path, kafka_port=30000, kafka_controller_port=30001, **changes
    )


@pytest.mark.parametrize(
    ("brokers", "policy"), [(1, (1, 1)), (2, (2, 1)), (3, (3, 2)), (5, (3, 2))]
)
def test_three_copies_two_in_sync_when_there_are_three_brokers(
    brokers: int, policy: tuple[int, int]
) -> None:
    assert replication_policy(brokers) == policy
    assert min_insync_for(policy[0]) == policy[1]


def test_three_brokers_are_three_voters_formatted_alike(tmp_path: Path) -> None:
    layout = ClusterLayout.plan(_infra(tmp_path), 3)
    nodes = layout.kafka_nodes(tmp_path / "kafka")

    assert [(n.port, n.controller_port) for n in nodes] == [
        (30000, 30001),
        (30002, 30003),
        (30004, 30005),
    ]
    assert {n.format_args for n in nodes} == {
        (
            "--initial-controllers",
            ",".join(
                f"{r.node_id}@127.0.0.1:{r.controller_port}:{r.directory_id}" for r in layout.nodes
            ),
        )
    }
    props = _props(
        render_server_properties(
            _infra(tmp_path), nodes[1].dir / "data", nodes[1], admin_password=PW
        )
    )
    assert props["node.id"] == "2"
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.bootstrap.servers"] == (
        "127.0.0.1:30001,127.0.0.1:30003,127.0.0.1:30005"
    )
    assert props["listeners"] == "CLIENT://127.0.0.1:30002,CONTROLLER://127.0.0.1:30003"
    for key, value in {
        "default.replication.factor": "3",
        "min.insync.replicas": "2",
        "offsets.topic.replication.factor": "3",
        "transaction.state.log.replication.factor": "3",
        "transaction.state.log.min.isr": "2",
        "share.coordinator.state.topic.replication.factor": "3",
    }.items():
        assert props[key] == value, key


def test_a_fourth_broker_is_an_observer_and_two_brokers_share_one_controller(
    tmp_path: Path,
) -> None:
    four = ClusterLayout.plan(_infra(tmp_path), 4).kafka_nodes(tmp_path)
    assert four[3].controller_port is None
    assert four[3].format_args == ("--no-initial-controllers",)
    props = _props(render_server_properties(_infra(tmp_path), tmp_path, four[3], admin_password=PW))
    assert props["process.roles"] == "broker"
    assert "CONTROLLER" not in props["listeners"]

    two = ClusterLayout.plan(_infra(tmp_path), 2).kafka_nodes(tmp_path)
    assert [n.format_args for n in two] == [("--standalone",), ("--no-initial-controllers",)]
    assert two[1].quorum == ("127.0.0.1:30001",)


def test_the_layout_is_read_back_as_written_and_a_broken_one_is_named(tmp_path: Path) -> None:
    layout = ClusterLayout.plan(_infra(tmp_path), 3)
    layout.save(tmp_path)
    assert ClusterLayout.load(tmp_path) == layout

    (tmp_path / "cluster.json").write_text("{}")
    with pytest.raises(InfraError, match=r"cluster.json is not a cluster layout"):
        ClusterLayout.load(tmp_path)


def test_overlapping_base_ports_are_refused(tmp_path: Path) -> None:
    infra = InfraSettings(state_dir=tmp_path, kafka_port=30000, kafka_controller_port=30002)
    with pytest.raises(InfraError, match=r"KAFKA_CONTROLLER_PORT to kafka_port \+ 1"):
        ClusterLayout.plan(infra, 3)


def test_the_state_dir_decides_the_number_of_brokers(tmp_path: Path) -> None:
    ClusterLayout.plan(_infra(tmp_path), 3).save(tmp_path / "kafka")

    assert KafkaCluster(_infra(tmp_path)).size == 3  # `up`, `status`, `down` need no --brokers
    with pytest.raises(InfraError, match=r"has 3 broker\(s\), not 1: .* infra down"):
        KafkaCluster(_infra(tmp_path, kafka_brokers=1)).start()


def test_a_single_node_is_not_turned_into_a_cluster(tmp_path: Path) -> None:
    (tmp_path / "kafka" / "data").mkdir(parents=True)
    (tmp_path / "kafka" / "data" / "meta.properties").write_text("node.id=1\n")

    cluster = KafkaCluster(_infra(tmp_path, kafka_brokers=3))
    assert cluster.size == 1
    with pytest.raises(InfraError, match=r"has 1 broker\(s\), not 3"):
        cluster.start()


# `kafka-metadata-quorum describe --replication`, tab-separated and padded (shortened here).
REPLICATION = (
    "NodeId\tDirectoryId\tLogEndOffset\tLag\tLastFetchTimestamp\tLastCaughtUpTimestamp\tStatus\n"
    "3     \tpbvuBlaTTwKRxS5NLJwRFQ\t120\t0\t1000000\t1000000\tLeader  \n"
    "1     \tMCBFRzEYQX-tIBc6gbsRmA\t11\t109\t980000\t980000\tFollower\n"
    "2     \taz9gzLb1QCa3FnKh7XvpIg\t120\t0\t999800\t999800\tFollower\n"
    "4     \tNjekAWbIQSq5qq25qcL8Zw\t120\t0\t999900\t999900\tObserver\n"
)


def test_the_quorum_table_says_who_leads_and_who_lags() -> None:
    members = parse_replication(REPLICATION)

    assert members[1] == QuorumMember(1, 11, 109, 980000, "Follower")
    assert describe_members(members, now=1000.0) == (
        "leader 3, voters 3 (lag 0), 1 (lag 109, no fetch for 20 s), 2 (lag 0); observers 4"
    )
    with pytest.raises(InfraError, match="unexpected kafka-metadata-quorum output"):
        parse_replication("Error: no leader")


def test_patroni_runs_a_synchronous_pair_that_fails_over_on_a_crash(tmp_path: Path) -> None:
    member = MemberPaths("pg-2", tmp_path / "pg-2", 25433, 28009)
    config = render_member_config(
        InfraSettings(state_dir=tmp_path), member, 22379, Path("/usr/bin"), Passwords("s", "r")
    )
    dcs = config["bootstrap"]["dcs"]

    assert dcs["synchronous_mode"] is True
    assert dcs["synchronous_mode_strict"] is False
    assert dcs["primary_start_timeout"] == 0
    assert dcs["loop_wait"] + 2 * dcs["retry_timeout"] <= dcs["ttl"]
    assert config["etcd3"] == {"hosts": ["127.0.0.1:22379"]}
    assert config["postgresql"]["listen"] == "127.0.0.1:25433"
    assert config["restapi"]["listen"] == "127.0.0.1:28009"
    assert config["postgresql"]["data_dir"] == str(tmp_path / "pg-2" / "data")
    json.dumps(config)  # written as JSON, which Patroni's YAML loader reads


def test_the_database_url_lists_both_servers_and_asks_for_the_primary(tmp_path: Path) -> None:
    patroni = PatroniPostgres(InfraSettings(state_dir=tmp_path, postgres_port=25432))
    patroni.password_file.parent.mkdir(parents=True)
    for role in patroni.roles.roles():
        patroni.roles.path(role).write_text(f"{role[-3:]} w\n")

    url = patroni.url()

    assert url == (
        "postgresql://optimerge:rge%20w@127.0.0.1:25432,127.0.0.1:25433/optimerge"
        "?target_session_attrs=read-write"
    )
    urls = patroni.urls()  # one role each: the worker's, the app's, the owner's
    assert urls.worker.startswith("postgresql://optimerge_worker:ker%20w@127.0.0.1:25432,")
    assert urls.app.startswith("postgresql://optimerge_app:app%20w@127.0.0.1:25432,")
    assert urls.migration == url
    assert describe_url(url) == "optimerge@127.0.0.1:25432,127.0.0.1:25433/optimerge"
    assert current_primary_url("postgresql://u:p@h:1/db") == "postgresql://u:p@h:1/db"


def test_the_state_dir_decides_single_server_or_pair(tmp_path: Path) -> None:
    assert isinstance(local_database(InfraSettings(state_dir=tmp_path)), LocalPostgres)
    asked = InfraSettings(state_dir=tmp_path, postgres_standby=True)
    assert isinstance(local_database(asked), PatroniPostgres)

    (tmp_path / "postgres" / "data").mkdir(parents=True)
    (tmp_path / "postgres" / "data" / "PG_VERSION").write_text("15\n")
    # A single server's data is never silently left behind for an empty pair.
    assert isinstance(local_database(asked), LocalPostgres)


def test_a_cluster_exports_its_replication_factor() -> None:
    url = "postgresql://u:p@127.0.0.1:1/db"
    assert len(Endpoints("127.0.0.1:19092", url, 1).export_lines()) == 2
    assert Endpoints("b:1,b:2,b:3", url, 3).export_lines()[2] == (
        "export OPTIMERGE_REPLICATION_FACTOR=3"
    )


def test_a_single_server_is_not_turned_into_a_pair(tmp_path: Path) -> None:
    (tmp_path / "postgres" / "data").mkdir(parents=True)
    (tmp_path / "postgres" / "data" / "PG_VERSION").write_text("15\n")
    infra = InfraSettings(state_dir=tmp_path, postgres_standby=True)

    with pytest.raises(InfraError, match=r"holds a single PostgreSQL .* infra down"):
        start_local_database(infra, log=print, timeout=1)


def test_another_listen_host_moves_the_client_listeners_and_lets_its_network_in(
    tmp_path: Path,
) -> None:
    """The fault suite's cluster listens on a veth's host end, for a worker in a namespace;
    the controllers, Patroni's REST APIs and etcd stay on 127.0.0.1."""
    infra = _infra(
        tmp_path,
        listen_host="10.200.1.1",
        client_network="10.200.1.0/30",
        postgres_port=25432,
    )
    cluster = KafkaCluster(infra.model_copy(update={"kafka_brokers": 3}))
    node = cluster.nodes[0].node
    props = _props(render_server_properties(infra, tmp_path, node, admin_password=PW))
    assert props["listeners"] == "CLIENT://10.200.1.1:30000,CONTROLLER://127.0.0.1:30001"
    assert props["advertised.listeners"] == "CLIENT://10.200.1.1:30000"
    assert cluster.bootstrap.split(",")[0] == "10.200.1.1:30000"
    assert props["controller.quorum.bootstrap.servers"].startswith("127.0.0.1:30001")

    patroni = PatroniPostgres(infra)
    member = patroni.members[0]
    config = render_member_config(infra, member.paths, 22379, Path("/usr/bin"), Passwords("s", "r"))
    assert config["postgresql"]["listen"] == "10.200.1.1:25432"
    assert config["restapi"]["listen"].startswith("127.0.0.1:")
    assert config["postgresql"]["pg_hba"][:2] == [
        "host all all 10.200.1.1/32 scram-sha-256",
        "host all all 10.200.1.0/30 scram-sha-256",
    ]
    assert patroni.hosts == "10.200.1.1:25432,10.200.1.1:25433"


def test_postgresql_drops_a_silent_client_within_seconds(tmp_path: Path) -> None:
    """Keepalives and tcp_user_timeout on the server: an abandoned transaction (a worker cut
    off) ends, and its locks go, even while its client cannot acknowledge anything."""
    member = MemberPaths("pg-1", tmp_path / "pg-1", 25432, 28008)
    config = render_member_config(
        InfraSettings(state_dir=tmp_path), member, 22379, Path("/usr/bin"), Passwords("s", "r")
    )
    parameters = config["postgresql"]["parameters"]
    assert parameters["tcp_user_timeout"] == 10000
    assert parameters["tcp_keepalives_idle"] == 5
    single = render_conf(InfraSettings(state_dir=tmp_path))
    assert "tcp_user_timeout = 10000\n" in single
    assert "listen_addresses = '127.0.0.1'\n" in single
