"""deploy/kubernetes/, offline: core resources against Kubernetes' own schemas (the ones that
kubernetes-validate ships), KEDA's ScaledObject structurally (a CRD: no schema ships for it),
and the cross-references a schema cannot see (labels, names, the shutdown contract)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from config import Settings
from streams.app import group_id
from streams.topics import Topics

MANIFESTS = Path(__file__).resolve().parents[3] / "deploy" / "kubernetes"
# SPEC: a worker stops within 10 s of SIGTERM.
SHUTDOWN_CONTRACT_SECONDS = 10
KUBERNETES_VERSION = "1.33.0"
CRDS = {("keda.sh/v1alpha1", "ScaledObject")}
KUSTOMIZE = ("kustomize.config.k8s.io/v1beta1", "Kustomization")


def _documents() -> list[tuple[Path, dict[str, Any]]]:
    return [
        (path, doc)
        for path in sorted(MANIFESTS.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def _resources(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in _documents() if d["kind"] == kind}


def _key(doc: dict[str, Any]) -> tuple[str, str]:
    return doc["apiVersion"], doc["kind"]


@pytest.mark.parametrize(
    ("path", "doc"),
    [(p, d) for p, d in _documents() if _key(d) not in CRDS and _key(d) != KUSTOMIZE],
    ids=lambda v: v.name if isinstance(v, Path) else f"{v['kind']}/{v['metadata']['name']}",
)
def test_core_resources_match_the_kubernetes_schema(path: Path, doc: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path)
        raise AssertionError(f"{path.name}: {doc['kind']} {where}: {exc.message}") from None


def test_kustomize_lists_every_manifest() -> None:
    [kustomization] = [d for _, d in _documents() if _key(d) == KUSTOMIZE]
    files = {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)


def test_the_scaled_object_drives_the_worker_on_the_lag_of_its_inputs() -> None:
    [scaled] = _resources("ScaledObject").values()
    spec = scaled["spec"]
    known = {
        "scaleTargetRef", "pollingInterval", "cooldownPeriod", "idleReplicaCount",
        "minReplicaCount", "maxReplicaCount", "advanced", "triggers", "fallback",
        "initialCooldownPeriod",
    }  # fmt: skip
    assert set(spec) <= known, set(spec) - known
    assert spec["scaleTargetRef"]["name"] in _resources("Deployment")
    config = _resources("ConfigMap")["optimerge"]["data"]
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    # More consumers than partitions would sit idle.
    assert spec["maxReplicaCount"] <= int(config["OPTIMERGE_PARTITIONS"])
    behavior = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] >= 60
    triggers = spec["triggers"]
    assert {t["type"] for t in triggers} == {"kafka"}
    assert sorted(t["metadata"]["topic"] for t in triggers) == sorted(Topics().inputs())
    for trigger in triggers:
        meta = trigger["metadata"]
        # KEDA's CRD types every metadata value as a string.
        assert all(isinstance(v, str) for v in meta.values()), meta
        assert meta["consumerGroup"] == group_id(Settings())
        assert meta["bootstrapServers"] == config["KAFKA_BOOTSTRAP_SERVERS"]
        assert int(meta["lagThreshold"]) > 0


# Each pod gets its own database role's URL (docs/contract.md#database-roles) and the audit key
# only where it writes or verifies the trail; the owner's URL only the migration job.
SECRETS = {
    "optimerge-worker": {"optimerge-worker-db", "optimerge-audit-key"},
    "optimerge-app": {"optimerge-app-db", "optimerge-app", "optimerge-audit-key"},
    "optimerge-notifier": {"optimerge-app-db"},
    "optimerge-checkpointer": {"optimerge-app-db", "optimerge-audit-key"},
}


# Each pod authenticates to Kafka as its own principal (docs/contract.md#kafka-principals),
# reading only that principal's password from optimerge-kafka, by key.
PRINCIPALS = {
    "optimerge-worker": "worker",
    "optimerge-app": "app",
    "optimerge-notifier": "operator",
    "optimerge-checkpointer": "checkpointer",
}


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}


def test_every_pod_is_its_own_kafka_principal_and_sees_only_its_password() -> None:
    for name, deployment in _resources("Deployment").items():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        env = _env(container)
        principal = PRINCIPALS[name]
        assert env["OPTIMERGE_KAFKA__SASL_USERNAME"]["value"] == principal, name
        secret = env["OPTIMERGE_KAFKA__SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert secret == {"name": "optimerge-kafka", "key": f"KAFKA_{principal.upper()}_PASSWORD"}
        keys = [
            item["valueFrom"]["secretKeyRef"]
            for item in env.values()
            if "secretKeyRef" in item.get("valueFrom", {})
        ]
        # The app's console is the operator: its password, and nobody else's.
        extra = [k["key"] for k in keys if k != secret]
        assert extra == (["KAFKA_OPERATOR_PASSWORD"] if name == "optimerge-app" else []), name
    [job] = _resources("Job").values()
    [migrate] = job["spec"]["template"]["spec"]["containers"]
    assert "env" not in migrate  # migrations need no Kafka


def test_only_the_migration_job_gets_the_owners_url() -> None:
    [job] = _resources("Job").values()
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["migrate"]
    refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
    assert refs == {"optimerge", "optimerge-owner-db"}
    assert set(_resources("Deployment")) == set(SECRETS)


def test_workers_stop_within_the_shutdown_contract_and_drain_one_at_a_time() -> None:
    worker = _resources("Deployment")["optimerge-worker"]
    pod = worker["spec"]["template"]["spec"]
    # Longer than the contract, so SIGKILL never cuts a clean stop short.
    assert pod["terminationGracePeriodSeconds"] > SHUTDOWN_CONTRACT_SECONDS
    assert "replicas" not in worker["spec"]  # KEDA's HPA owns it
    [container] = pod["containers"]
    assert container["args"][0] == "worker"
    assert "livenessProbe" in container and "startupProbe" in container
    pdb = _resources("PodDisruptionBudget")["optimerge-worker"]
    assert pdb["spec"]["maxUnavailable"] == 1


def test_selectors_find_their_pods_and_every_pod_gets_its_config() -> None:
    deployments = _resources("Deployment")
    labels = {n: d["spec"]["template"]["metadata"]["labels"] for n, d in deployments.items()}
    for name, deployment in deployments.items():
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels[name].items()
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
            assert refs == {"optimerge", *SECRETS[name]}, name
    for kind in ("PodDisruptionBudget", "Service"):
        for name, resource in _resources(kind).items():
            selector = resource["spec"]["selector"]
            selector = selector.get("matchLabels", selector)
            assert any(selector.items() <= pod.items() for pod in labels.values()), name
    app = deployments["optimerge-app"]["spec"]["template"]["spec"]["containers"][0]
    assert app["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert app["livenessProbe"]["httpGet"]["path"] == "/healthz"
