"""deploy/k8s/ is valid Kubernetes and agrees with the code.

Offline: every document of every file kustomization.yaml lists is validated against the pinned
Kubernetes version's schemas in strict mode (kubernetes-validate bundles them: unknown fields
fail). Then the platform's own rules: each service's probes, limits, grace period, database,
broker and migration; the three-node RabbitMQ cluster loading the generated definitions.
Where kubectl is installed, ``kubectl kustomize`` renders the directory and that is validated too.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from sqlalchemy.engine import make_url

from shared.config import DEFAULT_HTTP_PORTS, SERVICES, service_config
from shared.messaging import definitions as defs

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
KUBERNETES_VERSION = "1.32.0"
IMAGE = "thongthin"
# The slowest handler measured: a notification dispatch pass of the national reminder fan-out
# (bench.reminder_fanout, 68 s to the last delivery). nameko's graceful stop waits for running
# workers without a bound of its own, so the pod's grace period must be longer.
SLOWEST_HANDLER_S = 68
# Peak RSS of any service under the benchmarks (the gateway's, in bench.replicas).
MEASURED_PEAK_RSS_MB = 175


# --------------------------------------------------------------------------- loading


def kustomization() -> dict:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def documents() -> list[dict]:
    docs = []
    for name in kustomization()["resources"]:
        docs.extend(doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc)
    return docs


DOCS = documents()


def find(kind: str, name: str) -> dict:
    matches = [doc for doc in DOCS if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} documents"
    return matches[0]


def of_kind(kind: str) -> list[dict]:
    return [doc for doc in DOCS if doc["kind"] == kind]


def secret_data(name: str) -> dict[str, str]:
    secret = find("Secret", name)
    assert "data" not in secret, "stringData only, so the test can read it"
    return secret["stringData"]


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def container(workload: dict, name: str) -> dict:
    (found,) = [c for c in pod_spec(workload)["containers"] if c["name"] == name]
    return found


def resolved_env(item: dict) -> dict[str, str]:
    """A container's environment as the kubelet would give it (ConfigMaps and Secrets read)."""
    env: dict[str, str] = {}
    for source in item.get("envFrom", []):
        if "configMapRef" in source:
            env.update(find("ConfigMap", source["configMapRef"]["name"])["data"])
        elif not source["secretRef"].get("optional"):
            env.update(secret_data(source["secretRef"]["name"]))
    for var in item.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        elif "secretKeyRef" in var["valueFrom"]:
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = secret_data(ref["name"])[ref["key"]]
        elif "configMapKeyRef" in var["valueFrom"]:
            ref = var["valueFrom"]["configMapKeyRef"]
            env[var["name"]] = find("ConfigMap", ref["name"])["data"][ref["key"]]
    return env


def quantity(value: str) -> float:
    """CPU in cores or memory in bytes."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 1e3, "M": 1e6, "G": 1e9}
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value))
    return float(match.group(1)) * units.get(match.group(2), 1)


# --------------------------------------------------------------------------- schema


def test_kustomization_lists_every_manifest():
    listed = set(kustomization()["resources"])
    present = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    # The loader above applies no transformation: only these may differ after kustomize.
    assert set(kustomization()) <= {"apiVersion", "kind", "namespace", "labels", "resources", "images"}


@pytest.mark.parametrize("doc", DOCS, ids=[f"{d['kind']}/{d['metadata']['name']}" for d in DOCS])
def test_document_is_valid_kubernetes(doc):
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_strict_validation_catches_a_misspelt_field():
    broken = json.loads(json.dumps(find("Deployment", "plans")))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"tcpSocket": {"port": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_kubectl_kustomize_renders_valid_manifests():
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed (the plain files are validated above)")
    result = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert {(d["kind"], d["metadata"]["name"]) for d in rendered} == {(d["kind"], d["metadata"]["name"]) for d in DOCS}
    namespace = kustomization()["namespace"]
    for doc in rendered:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == namespace, doc["metadata"]
    for doc in rendered:
        if doc["kind"] in ("Deployment", "StatefulSet"):
            images = [c["image"] for c in pod_spec(doc)["containers"] + pod_spec(doc).get("initContainers", [])]
            assert all(not i.startswith(IMAGE + ":") or i == f"{IMAGE}:dev" for i in images), images


# --------------------------------------------------------------------------- the services


@pytest.mark.parametrize("name", SERVICES)
def test_service_deployment(name):
    deployment = find("Deployment", name)
    assert deployment["spec"]["replicas"] >= 2, "every service runs two replicas"
    spec = pod_spec(deployment)
    main = container(deployment, name)
    assert main["image"].split(":")[0] == IMAGE and main["args"] == [name]
    assert "command" not in main, "the image's ENTRYPOINT (shared.runner) runs the service"
    (port,) = main["ports"]
    assert (port["name"], port["containerPort"]) == ("http", DEFAULT_HTTP_PORTS[name])

    probes = {kind: main[kind]["httpGet"] for kind in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert all(probe["port"] == "http" for probe in probes.values())
    if name == "gateway":
        # The gateway's /health is the platform's (503 when any service is down): as a probe it
        # would take every gateway out for another service's fault.
        assert {probe["path"] for probe in probes.values()} == {"/metrics"}
    else:
        assert probes["startupProbe"]["path"] == probes["readinessProbe"]["path"] == "/health"
        assert probes["livenessProbe"]["path"] == "/metrics", "liveness must not depend on the database"

    resources = main["resources"]
    for key in ("cpu", "memory"):
        assert key in resources["requests"] and key in resources["limits"], key
        assert quantity(resources["requests"][key]) <= quantity(resources["limits"][key])
    assert quantity(resources["limits"]["memory"]) >= 2 * MEASURED_PEAK_RSS_MB * 2**20
    assert quantity(resources["requests"]["memory"]) >= MEASURED_PEAK_RSS_MB * 2**20

    pre_stop = main.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", ["sleep", "0"])
    assert spec["terminationGracePeriodSeconds"] > SLOWEST_HANDLER_S + int(pre_stop[-1])
    assert spec["securityContext"]["runAsNonRoot"] and spec["securityContext"]["runAsUser"] == 10001
    assert main["securityContext"]["readOnlyRootFilesystem"]
    mounts = {m["mountPath"] for m in main["volumeMounts"]}
    assert {"/tmp", "/app/var"} <= mounts, "the only writable paths"


@pytest.mark.parametrize("name", SERVICES)
def test_service_gets_its_own_database_and_is_migrated_first(name):
    deployment = find("Deployment", name)
    (migrate,) = pod_spec(deployment)["initContainers"]
    assert migrate["command"] == ["python", "-m", "shared.migrate", name]
    assert migrate["image"] == container(deployment, name)["image"]
    for item in (migrate, container(deployment, name)):
        env = resolved_env(item)
        assert sorted(k for k in env if k.endswith("_DATABASE_URL")) == [f"{name.upper()}_DATABASE_URL"]
        assert not any(s.get("secretRef", {}).get("name") == "thongthin-secrets" for s in item.get("envFrom", [])), \
            "the secret holds every service's database: take only your own key"
    url = make_url(resolved_env(migrate)[f"{name.upper()}_DATABASE_URL"])
    assert url.drivername == "postgresql+psycopg2"
    assert (url.host, url.port or 5432, url.database, url.username) == ("postgres", 5432, name, name)
    assert url.password == secret_data("postgres-secrets")[f"{name.upper()}_DB_PASSWORD"], \
        "the URL's password is the one the init script gives the role"
    service = find("Service", "postgres")
    assert service["spec"]["ports"][0]["port"] == 5432


def test_postgres_init_script_creates_one_database_per_service():
    script = find("ConfigMap", "postgres-init")["data"]["10-thongthin-databases.sh"]
    (loop,) = re.findall(r"for service in ([a-z ]+); do", script)
    assert loop.split() == list(SERVICES)
    statefulset = find("StatefulSet", "postgres")
    env_from = container(statefulset, "postgres")["envFrom"]
    assert {"secretRef": {"name": "postgres-secrets"}} in env_from
    assert set(secret_data("postgres-secrets")) == {"POSTGRES_PASSWORD"} | {f"{s.upper()}_DB_PASSWORD" for s in SERVICES}


@pytest.mark.parametrize("name", SERVICES)
def test_service_config_resolves_inside_the_cluster(name, monkeypatch):
    """The container's environment fed to shared.config, as the runner would."""
    for var in [f"{s.upper()}_{suffix}" for s in SERVICES for suffix in ("DATABASE_URL", "HTTP_ADDRESS")] + [
            "AMQP_URI", "SMTP_HOST", "SMTP_PORT", "THONGTHIN_PUBLIC_URL", "THONGTHIN_COOKIE_SECURE"]:
        monkeypatch.delenv(var, raising=False)
    env = resolved_env(container(find("Deployment", name), name))
    assert "THONGTHIN_RETRY_DELAYS_MS" not in env, "definitions.json is generated for the default delays"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config = service_config(name)
    assert config["WEB_SERVER_ADDRESS"] == f"0.0.0.0:{DEFAULT_HTTP_PORTS[name]}"
    assert config["PUBLIC_URL"].startswith("https://") and config["COOKIE_SECURE"]

    amqp = urlsplit(config["AMQP_URI"])
    assert (amqp.scheme, amqp.hostname, amqp.port, amqp.path) == ("amqp", "rabbitmq", 5672, "/")
    assert amqp.username != "guest"
    users = json.loads(secret_data("rabbitmq-secrets")["users.json"])
    assert users == defs.users_definitions(amqp.username, amqp.password), "AMQP_URI's user is the one imported"
    client = find("Service", "rabbitmq")
    assert {"name": "amqp", "port": 5672, "targetPort": "amqp"} in client["spec"]["ports"]

    if name == "gateway":
        for other in SERVICES:
            if other != "gateway":
                assert config["SERVICE_URLS"][other] == f"http://{other}:{DEFAULT_HTTP_PORTS[other]}"


@pytest.mark.parametrize("name", SERVICES)
def test_service_and_disruption_budget_select_the_pods(name):
    deployment = find("Deployment", name)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = find("Service", name)
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"] == [{"name": "http", "port": DEFAULT_HTTP_PORTS[name], "targetPort": "http"}]
    budget = find("PodDisruptionBudget", name)
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert 1 <= budget["spec"]["minAvailable"] < deployment["spec"]["replicas"], "drains must be possible"


def test_ingress_reaches_the_gateway():
    (ingress,) = of_kind("Ingress")
    backends = [path["backend"]["service"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    assert backends == [{"name": "gateway", "port": {"name": "http"}}]
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert {urlsplit(find("ConfigMap", "thongthin-config")["data"]["THONGTHIN_PUBLIC_URL"]).hostname} == hosts


# --------------------------------------------------------------------------- RabbitMQ


def rabbitmq_conf() -> dict[str, str]:
    text = find("ConfigMap", "rabbitmq-config")["data"]["rabbitmq.conf"]
    return dict(line.split(" = ", 1) for line in text.splitlines() if line.strip() and not line.startswith("#"))


def test_rabbitmq_is_a_three_node_cluster_by_peer_discovery():
    statefulset = find("StatefulSet", "rabbitmq")
    assert statefulset["spec"]["replicas"] == 3
    conf = rabbitmq_conf()
    assert conf["cluster_formation.peer_discovery_backend"] == "rabbit_peer_discovery_k8s"
    assert "rabbitmq_peer_discovery_k8s" in find("ConfigMap", "rabbitmq-config")["data"]["enabled_plugins"]
    headless = find("Service", conf["cluster_formation.k8s.service_name"])
    assert headless["spec"]["clusterIP"] == "None" and headless["spec"]["publishNotReadyAddresses"]
    assert statefulset["spec"]["serviceName"] == headless["metadata"]["name"]
    assert conf["cluster_formation.k8s.hostname_suffix"] == (
        f".{headless['metadata']['name']}.{kustomization()['namespace']}.svc.cluster.local")
    env = {var["name"]: var.get("value") for var in container(statefulset, "rabbitmq")["env"]}
    assert env["RABBITMQ_NODENAME"] == f"rabbit@$(MY_POD_NAME).{headless['metadata']['name']}.$(MY_POD_NAMESPACE).svc.cluster.local"
    role = find("Role", "rabbitmq-peer-discovery")
    assert {"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get"]} in role["rules"]
    assert pod_spec(statefulset)["serviceAccountName"] == "rabbitmq"
    budget = find("PodDisruptionBudget", "rabbitmq")
    assert budget["spec"]["maxUnavailable"] == 1, "a quorum of 2 out of 3 must stay"


def test_rabbitmq_loads_the_generated_definitions_and_the_user_at_boot():
    configmap = find("ConfigMap", defs.CONFIGMAP_NAME)
    assert configmap["data"]["definitions.json"] == defs.DEFINITIONS_FILE.read_text()
    statefulset = find("StatefulSet", "rabbitmq")
    mounts = {m["name"]: m["mountPath"] for m in container(statefulset, "rabbitmq")["volumeMounts"]}
    assert rabbitmq_conf()["definitions.local.path"] == mounts["definitions"]
    (volume,) = [v for v in pod_spec(statefulset)["volumes"] if v["name"] == "definitions"]
    sources = {next(iter(s)): s[next(iter(s))] for s in volume["projected"]["sources"]}
    assert sources["configMap"]["name"] == defs.CONFIGMAP_NAME
    assert sources["secret"]["name"] == "rabbitmq-secrets"
    files = [item["path"] for s in sources.values() for item in s["items"]]
    assert all(path.endswith(".json") for path in files) and len(set(files)) == 2


def test_rabbitmq_conf_keys_exist_in_rabbitmq():
    """Each key is a mapping of an installed RabbitMQ's config schemas (Debian's 3.10 here; the
    manifests run 3.13, which only added keys)."""
    schemas = list(Path("/usr/lib/rabbitmq/lib").glob("rabbitmq_server-*/plugins/*/priv/schema/*.schema"))
    if not schemas:
        pytest.skip("RabbitMQ is not installed")
    patterns = [re.compile("^" + re.escape(key).replace(r"\$", "$").replace("$name", "[^.]+")
                           .replace("$", "[^.]+") + "$")
                for schema in schemas for key in re.findall(r'\{mapping,\s*"([^"]+)"', schema.read_text())]
    unknown = [key for key in rabbitmq_conf() if not any(p.match(key) for p in patterns)]
    assert not unknown


def test_images_are_pinned_to_a_minor_version():
    for doc in of_kind("StatefulSet"):
        for item in pod_spec(doc)["containers"] + pod_spec(doc).get("initContainers", []):
            assert re.fullmatch(r"[a-z0-9/.-]+:\d+(\.\d+)?(-[a-z]+)?", item["image"]), item["image"]
    assert container(find("StatefulSet", "rabbitmq"), "rabbitmq")["image"] == "rabbitmq:3.13-management"


@pytest.mark.postgres
def test_postgres_init_script_runs_on_a_fresh_cluster(tmp_path):
    """What the postgres image does with it on an empty volume: each role then owns its database,
    creates tables in it and cannot connect to another service's."""
    psycopg2 = pytest.importorskip("psycopg2")
    from tests.support.postgres import PostgresError, find_pg_bindir, throwaway_postgres
    try:
        bindir = find_pg_bindir()
    except PostgresError as exc:
        pytest.skip(str(exc))
    script = tmp_path / "init.sh"
    script.write_text(find("ConfigMap", "postgres-init")["data"]["10-thongthin-databases.sh"])
    passwords = secret_data("postgres-secrets")
    with throwaway_postgres() as cluster:
        env = {"PATH": f"{bindir}:/usr/bin:/bin", "PGHOST": "127.0.0.1", "PGPORT": str(cluster.port),
               "POSTGRES_USER": "postgres", "POSTGRES_DB": "postgres", **passwords}
        result = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        for name in SERVICES:
            connection = psycopg2.connect(host="127.0.0.1", port=cluster.port, user=name, dbname=name)
            try:
                with connection, connection.cursor() as cursor:
                    cursor.execute("CREATE TABLE deploy_probe (id integer)")
                    cursor.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (name,))
                    assert cursor.fetchone() == (name,)
            finally:
                connection.close()
            other = next(s for s in SERVICES if s != name)
            with pytest.raises(psycopg2.OperationalError, match="permission denied"):
                psycopg2.connect(host="127.0.0.1", port=cluster.port, user=name, dbname=other).close()
