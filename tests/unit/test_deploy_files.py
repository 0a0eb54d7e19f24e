"""The deployment files agree with the code: Dockerfile, docker-compose.yml, deploy/.

Fast and engine-free: the YAML is parsed and checked against shared.config (service names, ports,
variable names). Where the tools exist, the files are also checked by them: `docker compose config`
(needs only the docker CLI and its compose plugin, no engine), `promtool check config`, and psql
running the database init script on a throwaway PostgreSQL cluster.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy.engine import make_url

from shared.config import DEFAULT_HTTP_PORTS, SERVICES, service_config
from shared.observability import broker_metrics

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
INIT_SQL = REPO / "deploy" / "postgres" / "init-databases.sql"
PROMETHEUS = REPO / "deploy" / "prometheus" / "prometheus.yml"
PROMETHEUS_LOCAL = REPO / "deploy" / "prometheus" / "prometheus.local.yml"


# --------------------------------------------------------------------------- helpers


def interpolate(value):
    """Compose's ${VAR:-default} / ${VAR-default} / ${VAR}, resolved to the defaults (deterministic:
    the caller's environment is ignored)."""
    if not isinstance(value, str):
        return value
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}", lambda m: m.group(1) or "", value)


@pytest.fixture(scope="module")
def compose() -> dict:
    # safe_load resolves the "<<: *anchor" merge keys the file uses, as compose does.
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the "KEY=value" list form
        env = dict(item.split("=", 1) for item in env)
    return {key: str(interpolate(value)) for key, value in env.items()}


def depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):  # short form means service_started
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def healthcheck_command(service: dict) -> list[str]:
    test = service["healthcheck"]["test"]
    return ["sh", "-c", test] if isinstance(test, str) else list(test)


def created_databases() -> set[str]:
    sql = re.sub(r"--[^\n]*", "", INIT_SQL.read_text())  # comments mention CREATE DATABASE too
    return set(re.findall(r"CREATE DATABASE\s+(\w+)", sql, flags=re.IGNORECASE))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(
        line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip() if " " in line.strip() else "")
            for line in text.splitlines() if line.strip()]


def scrape_targets(path: Path) -> dict[str, set[str]]:
    """job_name -> its static targets."""
    config = yaml.safe_load(path.read_text())
    return {job["job_name"]: {target for group in job.get("static_configs", [])
                              for target in group.get("targets", [])}
            for job in config["scrape_configs"]}


# --------------------------------------------------------------------------- Dockerfile


def test_dockerfile_runs_shared_runner_as_non_root():
    instructions = dockerfile_instructions()
    froms = [args for name, args in instructions if name == "FROM"]
    assert froms and froms[-1].split()[0] == "python:3.11-slim", froms

    entrypoints = [args for name, args in instructions if name == "ENTRYPOINT"]
    assert len(entrypoints) == 1, entrypoints
    assert json.loads(entrypoints[0]) == ["python", "-m", "shared.runner"]  # exec form

    users = [args for name, args in instructions if name == "USER"]
    assert users, "the image must not run as root"
    assert users[-1].split(":")[0] not in ("root", "0"), users[-1]


def test_dockerignore_keeps_host_state_out_of_the_image():
    patterns = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    for required in (".venv", "var", ".git", "tests/e2e/screenshots", "bench/out"):
        assert required in patterns, required
    assert patterns & {"__pycache__", "**/__pycache__"}, "__pycache__ must be ignored"


# --------------------------------------------------------------------------- docker-compose.yml


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_runs_from_the_one_image(services, name):
    assert name in services, f"no compose service for {name}"
    service = services[name]
    reference = services["migrate"]
    assert service.get("image") == reference.get("image")
    assert service.get("build") == reference.get("build")
    assert service["build"]["context"] == "."
    assert service["build"].get("dockerfile", "Dockerfile") == "Dockerfile"
    assert "entrypoint" not in service, "services use the image's ENTRYPOINT (shared.runner)"
    assert service["command"] == [name]


@pytest.mark.parametrize("name", SERVICES)
def test_service_database_is_its_own_and_is_created(services, name):
    env = environment(services[name])
    url = make_url(env[f"{name.upper()}_DATABASE_URL"])
    assert url.drivername == "postgresql+psycopg2"
    assert url.host == "postgres" and url.host in services
    assert (url.port or 5432) == 5432
    assert url.database == name, "each service has a database of its own"
    assert url.database in created_databases(), f"{url.database} is not created by {INIT_SQL.name}"
    postgres_env = environment(services["postgres"])
    assert (url.username, url.password) == (postgres_env["POSTGRES_USER"], postgres_env["POSTGRES_PASSWORD"])
    others = {f"{other.upper()}_DATABASE_URL" for other in SERVICES if other != name}
    assert not others & set(env), "a service must not be handed another service's database"


@pytest.mark.parametrize("name", SERVICES)
def test_service_config_resolves_to_compose_network(services, name, monkeypatch):
    """Feed the container's environment to shared.config, as the runner would."""
    for var in [f"{s.upper()}_{suffix}" for s in SERVICES for suffix in ("DATABASE_URL", "HTTP_ADDRESS")] + [
            "AMQP_URI", "SMTP_HOST", "SMTP_PORT", "THONGTHIN_PUBLIC_URL"]:
        monkeypatch.delenv(var, raising=False)
    env = environment(services[name])
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    config = service_config(name)

    assert config["WEB_SERVER_ADDRESS"] == f"0.0.0.0:{DEFAULT_HTTP_PORTS[name]}"
    amqp = urlsplit(config["AMQP_URI"])
    assert amqp.scheme == "amqp" and amqp.hostname == "rabbitmq" and amqp.port == 5672
    # RabbitMQ refuses the guest user from anywhere but loopback.
    assert amqp.username and amqp.username != "guest"
    rabbit_env = environment(services["rabbitmq"])
    assert (amqp.username, amqp.password) == (rabbit_env["RABBITMQ_DEFAULT_USER"],
                                              rabbit_env["RABBITMQ_DEFAULT_PASS"])
    assert (config["SMTP_HOST"], config["SMTP_PORT"]) == ("mailpit", 1025)
    assert "0.0.0.0" not in config["PUBLIC_URL"], "e-mail links must not point at a bind address"
    if name == "gateway":
        # The gateway's /health polls the others at SERVICE_URLS: their compose DNS names.
        for other in SERVICES:
            if other != "gateway":
                assert config["SERVICE_URLS"][other] == f"http://{other}:{DEFAULT_HTTP_PORTS[other]}"


@pytest.mark.parametrize("name", SERVICES)
def test_service_waits_for_infrastructure_and_migrations(services, name):
    deps = depends_on(services[name])
    assert deps.get("rabbitmq") == "service_healthy"
    assert deps.get("postgres") == "service_healthy"
    assert deps.get("migrate") == "service_completed_successfully"


@pytest.mark.parametrize("name", SERVICES)
def test_service_healthcheck_hits_its_own_port(services, name):
    command = healthcheck_command(services[name])
    assert command[:3] == ["CMD", "python", "-c"], command
    code = command[3]
    compile(code, f"{name} healthcheck", "exec")  # at least valid Python
    assert f"http://127.0.0.1:{DEFAULT_HTTP_PORTS[name]}/health" in code
    others = [port for other, port in DEFAULT_HTTP_PORTS.items() if other != name]
    assert not any(f":{port}/" in code for port in others)


def test_infrastructure_healthchecks(services):
    # service_healthy on a service without a healthcheck would never be satisfied.
    assert services["rabbitmq"]["image"] == "rabbitmq:3.13-management"
    assert healthcheck_command(services["rabbitmq"])[1:] == ["rabbitmq-diagnostics", "-q", "ping"]
    assert services["postgres"]["image"].split(":")[-1].split(".")[0] == "15"
    assert "pg_isready" in " ".join(healthcheck_command(services["postgres"]))
    mounts = [str(volume) for volume in services["postgres"]["volumes"]]
    assert any(m.startswith("./deploy/postgres/init-databases.sql:/docker-entrypoint-initdb.d/")
               for m in mounts), mounts


def test_migrate_is_a_one_shot_over_every_database(services):
    migrate = services["migrate"]
    assert migrate["entrypoint"] == ["python", "-m", "shared.migrate"]
    assert not migrate.get("command"), "no arguments: migrate every service"
    assert str(migrate.get("restart", "no")) == "no"
    assert depends_on(migrate).get("postgres") == "service_healthy"
    env = environment(migrate)
    for name in SERVICES:
        assert make_url(env[f"{name.upper()}_DATABASE_URL"]).database == name


def test_mail_sink_and_published_ports(services):
    assert services["mailpit"]["image"].split(":")[0] == "axllent/mailpit"
    published = {name: [str(port) for port in service.get("ports", [])] for name, service in services.items()}
    assert "8000:8000" in published["gateway"]
    assert any(port.endswith("8025:8025") for port in published["mailpit"])
    assert any(port.endswith("9090:9090") for port in published["prometheus"])
    assert any(port.endswith("3000:3000") for port in published["grafana"])


def test_prometheus_service_mounts_the_scrape_config(services):
    prometheus = services["prometheus"]
    assert prometheus["image"].split(":")[0] == "prom/prometheus"
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    # rule_files are relative to the config file: rules/*.yml next to it in the container too
    assert "./deploy/prometheus/rules:/etc/prometheus/rules:ro" in prometheus["volumes"]


# --------------------------------------------------------------------------- prometheus


@pytest.mark.parametrize("path, host_of", [
    (PROMETHEUS, lambda name: name),               # compose DNS names
    (PROMETHEUS_LOCAL, lambda name: "127.0.0.1"),  # services run on this machine
], ids=["compose", "local"])
def test_prometheus_scrapes_every_service(path, host_of):
    config = yaml.safe_load(path.read_text())
    assert config["global"]["scrape_interval"] == "15s"
    jobs = scrape_targets(path)
    for name in SERVICES:
        # The job label names the service (metrics already carry their own "service" label).
        assert jobs.get(name) == {f"{host_of(name)}:{DEFAULT_HTTP_PORTS[name]}"}, (name, jobs.get(name))
    job_configs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name in SERVICES:
        assert job_configs[name].get("metrics_path", "/metrics") == "/metrics"


@pytest.mark.parametrize("path, host", [(PROMETHEUS, "rabbitmq"), (PROMETHEUS_LOCAL, "127.0.0.1")],
                         ids=["compose", "local"])
def test_prometheus_scrapes_per_queue_broker_metrics_and_loads_the_rules(path, host):
    config = yaml.safe_load(path.read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "rabbitmq"]
    assert job["static_configs"] == [{"targets": [f"{host}:{broker_metrics.PORT}"]}]
    assert job["metrics_path"] == broker_metrics.DETAILED_PATH
    assert tuple(job["params"]["family"]) == broker_metrics.DETAILED_FAMILIES
    assert config["rule_files"] == ["rules/*.yml"]
    assert list((path.parent / "rules").glob("*.yml"))


@pytest.mark.parametrize("path", [PROMETHEUS, PROMETHEUS_LOCAL], ids=["compose", "local"])
def test_promtool_accepts_the_config(path):
    """Also loads and checks the rule files. Fails (does not skip) without promtool: `make test`
    installs it (scripts/install-system-deps.sh test)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool not installed (Debian package 'prometheus': scripts/install-system-deps.sh test)"
    result = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rules found" in result.stdout, result.stdout


# --------------------------------------------------------------------------- docker compose


def test_docker_compose_accepts_the_file():
    """`docker compose config` validates against the compose spec; it needs no engine."""
    docker = shutil.which("docker")
    if not docker:
        pytest.skip("docker CLI not installed")
    version = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=30)
    if version.returncode != 0:
        pytest.skip("docker compose plugin not installed: " + (version.stderr or version.stdout).strip())
    result = subprocess.run([docker, "compose", "-f", str(COMPOSE_FILE), "config", "-q"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- init-databases.sql


def test_init_script_creates_one_database_per_service():
    assert created_databases() == set(SERVICES)


@pytest.mark.postgres
def test_init_script_runs_twice_on_a_fresh_cluster():
    """What the postgres image does with it (psql -v ON_ERROR_STOP=1 -f), then again by hand; the
    thongthin role can then create tables in every database (PostgreSQL 15 locks down public)."""
    psycopg2 = pytest.importorskip("psycopg2")
    from tests.support.postgres import PostgresError, find_pg_bindir, throwaway_postgres
    try:
        psql = find_pg_bindir() / "psql"
    except PostgresError as exc:
        pytest.skip(str(exc))
    if not psql.exists():
        pytest.skip(f"{psql} not found")

    with throwaway_postgres() as cluster:
        for attempt in (1, 2):
            result = subprocess.run(
                [str(psql), "-h", "127.0.0.1", "-p", str(cluster.port), "-U", "postgres", "-d", "postgres",
                 "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(INIT_SQL)],
                capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, f"run {attempt}: {result.stdout}{result.stderr}"
        for name in SERVICES:
            connection = psycopg2.connect(host="127.0.0.1", port=cluster.port, user="thongthin",
                                          password="thongthin", dbname=name)
            try:
                with connection, connection.cursor() as cursor:
                    cursor.execute("CREATE TABLE deploy_probe (id integer)")
                    cursor.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                                   (name,))
                    assert cursor.fetchone() == ("thongthin",)
            finally:
                connection.close()
