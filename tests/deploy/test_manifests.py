"""The Kubernetes manifests: valid against the API schemas (offline), and saying
what the platform needs: probes, limits, autoscaling, disruption budgets, the
migration Job, secrets from Secrets, and network paths only where they must be."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from services.runtime.config import PlatformSettings
from tests.support.kustomize import Kustomize, Resource

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES = "1.33.0"
OVERLAYS = {"base": K8S / "base", "production": K8S / "overlays" / "production"}
API = {"identity": (50051, 8081), "payments": (50052, 8082), "notify": (50053, 8083)}
METRICS = {"identity": 9181, "payments": 9182, "notify": 9183}
WORKLOADS = (*API, "notify-worker", "console")


@pytest.fixture(scope="module", params=list(OVERLAYS))
def rendered(request: pytest.FixtureRequest, kustomize: Kustomize) -> tuple[str, list[Resource]]:
    return request.param, kustomize(OVERLAYS[request.param])


def by_kind(resources: list[Resource], kind: str) -> dict[str, Resource]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def pod_spec(resource: Resource) -> dict[str, Any]:
    spec: dict[str, Any] = resource["spec"]["template"]["spec"]
    return spec


def test_every_manifest_file_and_rendering_is_valid_against_the_schemas(
    rendered: tuple[str, list[Resource]],
) -> None:
    _, resources = rendered
    assert resources
    for resource in resources:
        kubernetes_validate.validate(resource, KUBERNETES, strict=True)


def test_the_validator_refuses_what_kubernetes_would(kustomize: Kustomize) -> None:
    deployment = by_kind(kustomize(OVERLAYS["base"]), "Deployment")["identity"]
    pod_spec(deployment)["containers"][0]["readinessProbes"] = {}  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


def test_a_deployment_per_service_and_for_the_worker_locked_down(
    rendered: tuple[str, list[Resource]],
) -> None:
    _, resources = rendered
    deployments = by_kind(resources, "Deployment")
    assert set(deployments) == set(WORKLOADS)
    for name, deployment in deployments.items():
        spec = pod_spec(deployment)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["automountServiceAccountToken"] is False
        (container,) = spec["containers"]
        assert container["command"] == [f"gaap-{name}"]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        resources_ = container["resources"]
        assert {"cpu", "memory"} <= resources_["requests"].keys()
        assert {"cpu", "memory"} <= resources_["limits"].keys()
        # Selectors must find the pods.
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_commands_name_real_entry_points(kustomize: Kustomize) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for resource in kustomize(OVERLAYS["production"]):
        if resource["kind"] not in ("Deployment", "Job"):
            continue
        for container in pod_spec(resource)["containers"]:
            command = container["command"]
            if command[:2] == ["python", "-m"]:
                assert importlib.util.find_spec(command[2]) is not None, command
            else:
                assert command[0] in scripts, command
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                exec_ = container.get(probe, {}).get("exec")
                if exec_:
                    assert importlib.util.find_spec(exec_["command"][2]) is not None


def test_base_probes_are_grpc_health_on_the_grpc_port(kustomize: Kustomize) -> None:
    deployments = by_kind(kustomize(OVERLAYS["base"]), "Deployment")
    for name, (grpc_port, http_port) in API.items():
        (container,) = pod_spec(deployments[name])["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"grpc": grpc_port, "http": http_port, "metrics": METRICS[name]}
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"] == {"port": grpc_port}
    (worker,) = pod_spec(deployments["notify-worker"])["containers"]
    assert "readinessProbe" not in worker  # it serves nothing to be ready for
    assert worker["livenessProbe"]["exec"]["command"] == ["python", "-m", "services.runtime.probe"]


def test_production_speaks_tls_and_probes_over_tls(kustomize: Kustomize) -> None:
    resources = kustomize(OVERLAYS["production"])
    for name in API:
        deployment = by_kind(resources, "Deployment")[name]
        assert deployment["spec"]["replicas"] >= 3
        (container,) = pod_spec(deployment)["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        for variable in ("GAAP_TLS_CERT_FILE", "GAAP_TLS_KEY_FILE", "GAAP_TLS_CA_FILE"):
            assert str(env[variable]).startswith("/etc/gaap/tls/")
            assert "/etc/gaap/tls" in mounts
        assert container["readinessProbe"]["exec"]["command"][-1] == "services.runtime.probe"
        assert container["image"] == "registry.gaap.example/gaap:0.1.0"
    config = by_kind(resources, "ConfigMap")["gaap-config"]["data"]
    assert config["GAAP_JWKS_URL"].startswith("https://")
    assert all(
        r["metadata"].get("namespace") == "gaap" for r in resources if r["kind"] != "Namespace"
    )


def test_autoscalers_and_disruption_budgets_cover_every_workload(
    rendered: tuple[str, list[Resource]],
) -> None:
    _, resources = rendered
    deployments = by_kind(resources, "Deployment")
    autoscalers = by_kind(resources, "HorizontalPodAutoscaler")
    budgets = by_kind(resources, "PodDisruptionBudget")
    for name, deployment in deployments.items():
        target = autoscalers[name]["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name)
        assert autoscalers[name]["spec"]["minReplicas"] >= 2
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert budgets[name]["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_services_reach_the_named_ports(rendered: tuple[str, list[Resource]]) -> None:
    _, resources = rendered
    deployments = by_kind(resources, "Deployment")
    for name, service in by_kind(resources, "Service").items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        ports = {p["name"] for p in pod_spec(deployments[name])["containers"][0]["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports


def test_the_migration_job_migrates_every_database_from_secrets(kustomize: Kustomize) -> None:
    job = by_kind(kustomize(OVERLAYS["production"]), "Job")["gaap-migrate"]
    (container,) = pod_spec(job)["containers"]
    assert container["command"] == ["python", "-m", "services.runtime.migrate", "all"]
    secrets = {e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e}
    assert secrets == {"gaap-identity", "gaap-payments", "gaap-notify"}
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    assert pod_spec(job)["restartPolicy"] == "Never"


SECRET_WORDS = ("password", "secret", "key", "token", "database_url", "redis_url")


def test_no_secret_is_in_the_manifests(rendered: tuple[str, list[Resource]]) -> None:
    _, resources = rendered
    assert not by_kind(resources, "Secret"), "Secrets are created outside the repository"
    for resource in resources:
        data = resource.get("data", {}) if resource["kind"] == "ConfigMap" else {}
        for name in data:
            assert not any(word in name.lower() for word in SECRET_WORDS), name
        if resource["kind"] in ("Deployment", "Job"):
            for container in pod_spec(resource)["containers"]:
                for variable in container.get("env", []):
                    if any(w in variable["name"].lower() for w in SECRET_WORDS):
                        # Only file paths (mounted Secrets) or references.
                        assert "valueFrom" in variable or variable["value"].startswith("/etc/")


# -- network policies: a small evaluator of pod-to-pod paths in one namespace ----


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def _peer_allows(
    rules: list[dict[str, Any]], peer_key: str, other: dict[str, str], port: int
) -> bool:
    for rule in rules:
        ports = {p["port"] for p in rule.get("ports", [])}
        if ports and port not in ports:
            continue
        for peer in rule.get(peer_key, []):
            # Only same-namespace pod selectors describe traffic between our pods.
            same_namespace = "podSelector" in peer and "namespaceSelector" not in peer
            if same_namespace and _selects(peer["podSelector"], other):
                return True
    return False


def allowed(policies: list[Resource], source: str, target: str, port: int) -> bool:
    """Whether pods of ``source`` may open ``port`` on pods of ``target``."""
    src = {"app.kubernetes.io/name": source, "app.kubernetes.io/part-of": "gaap"}
    dst = {"app.kubernetes.io/name": target, "app.kubernetes.io/part-of": "gaap"}

    def direction(kind: str, pod: dict[str, str], other: dict[str, str], key: str) -> bool:
        relevant = [
            p["spec"]
            for p in policies
            if kind in p["spec"]["policyTypes"] and _selects(p["spec"]["podSelector"], pod)
        ]
        if not relevant:
            return True  # not isolated in that direction
        return any(_peer_allows(p.get(kind.lower(), []), key, other, port) for p in relevant)

    return direction("Egress", src, dst, "to") and direction("Ingress", dst, src, "from")


PATHS = [
    ("payments", "identity", 8081, True),  # JWKS
    ("notify", "identity", 8081, True),  # JWKS
    ("identity", "notify", 50053, True),  # citizens' messages through notify
    ("payments", "identity", 50051, False),
    ("payments", "notify", 50053, False),
    ("notify", "payments", 50052, False),
    ("notify-worker", "identity", 8081, False),
    ("notify-worker", "notify", 50053, False),
    ("identity", "payments", 8082, False),
    ("console", "identity", 8081, True),  # staff sign-in
    ("console", "identity", 50051, True),  # CreateAgency (operator scope)
    ("console", "notify", 50053, True),  # invitations
    ("console", "payments", 50052, True),  # the payments pages
    ("console", "identity", 9181, False),
    ("payments", "console", 8084, False),
    ("notify-worker", "console", 8084, False),
]


@pytest.mark.parametrize(("source", "target", "port", "expected"), PATHS)
def test_only_what_must_talk_may_talk(
    kustomize: Kustomize, source: str, target: str, port: int, expected: bool
) -> None:
    policies = list(by_kind(kustomize(OVERLAYS["production"]), "NetworkPolicy").values())
    assert allowed(policies, source, target, port) is expected


def test_outside_paths_are_opened_only_where_needed(kustomize: Kustomize) -> None:
    policies = by_kind(kustomize(OVERLAYS["production"]), "NetworkPolicy")
    assert policies["default-deny"]["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
    }

    def egress_ports(policy: str) -> set[int]:
        return {p["port"] for rule in policies[policy]["spec"]["egress"] for p in rule["ports"]}

    assert {587, 465, 25, 443} == egress_ports("notify-worker-providers-egress")
    assert {5432} == egress_ports("postgresql-egress")
    assert {6379, 6380} == egress_ports("redis-egress")
    assert policies["redis-egress"]["spec"]["egress"][0]["to"][0]["ipBlock"]["cidr"] != (
        "10.255.0.0/24"
    )  # production names its managed Redis's range
    ingress_ports = {
        name: {
            p["port"]
            for rule in policies[f"{name}-ingress"]["spec"]["ingress"]
            for p in rule["ports"]
        }
        for name in API
    }
    assert ingress_ports == {name: {*ports, METRICS[name]} for name, ports in API.items()}


def _from_namespace(rule: dict[str, Any]) -> set[str]:
    return {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for peer in rule.get("from", [])
        if "namespaceSelector" in peer
    }


def test_metrics_are_scraped_on_their_own_port_by_monitoring_alone(
    rendered: tuple[str, list[Resource]],
) -> None:
    overlay, resources = rendered
    policies = by_kind(resources, "NetworkPolicy")
    deployments = by_kind(resources, "Deployment")
    services = by_kind(resources, "Service")
    for name, (grpc_port, http_port) in API.items():
        rules = policies[f"{name}-ingress"]["spec"]["ingress"]
        reaching_metrics = [r for r in rules if METRICS[name] in {p["port"] for p in r["ports"]}]
        assert [_from_namespace(r) for r in reaching_metrics] == [{"monitoring"}]
        assert all(r.get("from") and len(r["from"]) == 1 for r in reaching_metrics)
        for rule in rules:  # monitoring reaches the metrics port, nothing else
            if "monitoring" in _from_namespace(rule):
                assert {p["port"] for p in rule["ports"]} == {METRICS[name]}
        annotations = deployments[name]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == str(METRICS[name])
        assert annotations["prometheus.io/path"] == "/metrics"
        if overlay == "production":
            assert annotations["prometheus.io/scheme"] == "https"
        # No Service port, so no Ingress can route to the metrics listener.
        assert {p["port"] for p in services[name]["spec"]["ports"]} == {grpc_port, http_port}
    # In the image every metrics listener is on all interfaces, as the ports are.
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    for name, port in METRICS.items():
        assert f"{name.upper()}_METRICS_ADDRESS=0.0.0.0:{port}" in dockerfile


def test_the_console_serves_http_only_probed_on_healthz(kustomize: Kustomize) -> None:
    for overlay, scheme in (("base", None), ("production", "HTTPS")):
        resources = kustomize(OVERLAYS[overlay])
        (container,) = pod_spec(by_kind(resources, "Deployment")["console"])["containers"]
        assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
            "http": 8084,
            "metrics": 9184,
        }
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["httpGet"]["path"] == "/healthz"
            assert container[probe]["httpGet"].get("scheme") == scheme
        env = {e["name"]: e.get("value") for e in container["env"]}
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert env["CONSOLE_AGENCY_FILE"] == "/etc/gaap/console/agency.json"
        assert mounts["/etc/gaap/console"]["readOnly"] is True
        service = by_kind(resources, "Service")["console"]
        assert {p["port"] for p in service["spec"]["ports"]} == {8084}
        rules = by_kind(resources, "NetworkPolicy")["console-ingress"]["spec"]["ingress"]
        assert [({p["port"] for p in r["ports"]}, _from_namespace(r)) for r in rules] == [
            ({8084}, {"ingress-nginx"}),
            ({9184}, {"monitoring"}),
        ]
        if scheme:
            assert str(env["GAAP_TLS_CA_FILE"]).startswith("/etc/gaap/tls/")


def test_production_trusts_forwarding_headers_from_the_ingress_range_only(
    kustomize: Kustomize,
) -> None:
    config = by_kind(kustomize(OVERLAYS["production"]), "ConfigMap")["gaap-config"]["data"]
    proxies = PlatformSettings(trusted_proxies=config["GAAP_TRUSTED_PROXIES"]).proxies
    assert proxies.networks  # the ingress controller's pods are named
    for network in proxies.networks:
        assert network.is_private
        assert network.prefixlen >= 16
    base = by_kind(kustomize(OVERLAYS["base"]), "ConfigMap")["gaap-config"]["data"]
    assert "GAAP_TRUSTED_PROXIES" not in base  # without an ingress, nobody is trusted
