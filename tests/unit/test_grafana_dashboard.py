"""The provisioned Grafana dashboard: valid JSON, every query valid PromQL (checked by promtool)
over metrics that really exist, on the provisioned datasource, and wired into docker-compose."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.unit.test_alert_rules import known_metric_names, metric_names, promtool

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "thongthin.yml"
# Series Prometheus itself makes from the alert rules.
RULE_SERIES = {"ALERTS", "ALERTS_FOR_STATE"}


def panels(dashboard: dict) -> list[dict]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # panels inside a collapsed row
    return out


def queries(dashboard: dict) -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in panels(dashboard)
            for target in panel.get("targets", [])]


@pytest.fixture(scope="module")
def datasource() -> dict:
    (source,) = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    return source


@pytest.fixture(scope="module", params=DASHBOARDS, ids=lambda path: path.name)
def dashboard(request) -> dict:
    return json.loads(request.param.read_text())


def test_there_is_a_dashboard():
    assert [path.name for path in DASHBOARDS] == ["thongthin-overview.json"]


def test_dashboard_shape(dashboard):
    assert dashboard["uid"] and dashboard["title"]
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(dashboard):
        assert panel["type"] in ("row", "timeseries", "stat", "table", "gauge", "bargauge"), panel["type"]
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, (panel["title"], grid)
        if panel["type"] != "row":
            assert panel.get("targets"), f"{panel['title']} has no query"


def test_every_query_uses_the_provisioned_datasource(dashboard, datasource):
    assert datasource["type"] == "prometheus"
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        for item in [panel, *panel["targets"]]:
            assert item["datasource"] == {"type": "prometheus", "uid": datasource["uid"]}, panel["title"]


def test_every_query_uses_only_exported_metrics(dashboard):
    known = known_metric_names() | RULE_SERIES
    used = set()
    for title, expr in queries(dashboard):
        names = metric_names(expr)
        assert names, (title, expr)
        assert not names - known, f"{title!r} queries metrics nobody exports: {names - known}"
        used |= names
    # what the operators asked to see: throughput, latency, lag, outbox, DLQ, deliveries per channel
    assert {"thongthin_messages_consumed_total", "thongthin_handler_duration_seconds_bucket",
            "rabbitmq_detailed_queue_messages_ready", "thongthin_outbox_pending",
            "thongthin_outbox_oldest_age_seconds", "rabbitmq_detailed_queue_messages",
            "thongthin_notifications_total"} <= used


def test_every_query_is_valid_promql(dashboard, tmp_path):
    """promtool parses each query as a recording rule ($__rate_interval is Grafana's: replaced)."""
    rules = [{"record": f"dashboard:query_{i}", "expr": expr.replace("$__rate_interval", "1m")}
             for i, (_, expr) in enumerate(queries(dashboard))]
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_provisioning_is_mounted_where_grafana_reads_it(datasource):
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    grafana = compose["grafana"]
    assert grafana["image"].split(":")[0] == "grafana/grafana" and ":" in grafana["image"], "pin the image"
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in grafana["volumes"]}
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    (provider,) = yaml.safe_load(PROVIDERS.read_text())["providers"]
    assert mounts[provider["options"]["path"]] == "./deploy/grafana/dashboards"
    # The datasource points at the compose prometheus service, which Grafana waits for.
    assert datasource["url"] == "http://prometheus:9090"
    assert "prometheus" in compose and "prometheus" in grafana["depends_on"]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(provider["options"]["path"] + "/")
    assert (GRAFANA / "dashboards" / home.rsplit("/", 1)[1]).exists()
    assert any(str(port).startswith("127.0.0.1:") for port in grafana["ports"]), "loopback only"
