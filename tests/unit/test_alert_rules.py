"""The Prometheus alert rules: valid, unit-tested with promtool, and built only from metrics that
really exist (the services' own, and the RabbitMQ plugin's per-queue families).

promtool comes with Debian's `prometheus` package (scripts/install-system-deps.sh test installs
it for `make test`); without it these tests fail rather than skip, so the rules cannot go untested.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from services.notifications import dispatch
from services.notifications.channels import ChannelError, Channels, InAppChannel
from services.notifications.rendering import Rendered
from shared.observability import broker_metrics, metrics

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))

# PromQL words that are not metric names.
PROMQL_WORDS = {"sum", "max", "min", "avg", "count", "by", "without", "on", "ignoring", "group_left",
                "group_right", "and", "or", "unless", "rate", "irate", "increase", "deriv", "delta",
                "time", "histogram_quantile", "clamp_min", "clamp_max", "abs", "offset", "bool",
                "topk", "bottomk", "le", "absent", "vector", "scalar", "label_replace"}
# Series Prometheus makes itself for every target.
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, ("promtool not found: install Debian's 'prometheus' package "
                  "(scripts/install-system-deps.sh test)")
    return path


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: words outside {...} label matchers, strings and
    [...] ranges that are not functions, keywords or label names of by/on/without lists."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)        # strings
    text = re.sub(r"\{[^}]*\}", "{}", text)                 # label matchers
    text = re.sub(r"\[[^\]]*\]", "[]", text)                # range selectors
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    words = set(re.findall(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", text))
    return {word for word in words if word not in PROMQL_WORDS}


def known_metric_names() -> set[str]:
    return metrics.exported_names() | set(broker_metrics.QUEUE_METRICS) | PROMETHEUS_SERIES


def alert_rules() -> list[dict]:
    return [rule for path in RULE_FILES for group in yaml.safe_load(path.read_text())["groups"]
            for rule in group["rules"] if "alert" in rule]


def test_metric_name_parser():
    assert metric_names('sum by (vhost, queue) (rate(a_total{x=~".+\\\\.events"}[5m])) / b > 0.2 '
                        'unless on (job) c') == {"a_total", "b", "c"}


def test_promtool_accepts_the_rules():
    assert RULE_FILES
    result = subprocess.run([promtool(), "check", "rules", *map(str, RULE_FILES)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_rule_unit_tests_pass():
    assert RULE_TESTS
    result = subprocess.run([promtool(), "test", "rules", *map(str, RULE_TESTS)],
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alerts_the_operators_asked_for_exist():
    names = {rule["alert"] for rule in alert_rules()}
    assert {"ThongthinServiceDown", "ThongthinOutboxBacklog", "ThongthinDeadLetterQueueNotEmpty",
            "ThongthinConsumerLagGrowing", "ThongthinNotificationFailureRate",
            "ThongthinDeadlineSweepLate"} <= names, names


def test_every_alert_has_a_case_that_fires_and_one_that_stays_quiet():
    fires, quiet = set(), set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    for rule in alert_rules():
        assert rule["alert"] in fires, f"no test where {rule['alert']} fires"
        assert rule["alert"] in quiet, f"no test where {rule['alert']} stays quiet"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_alert_uses_only_exported_metrics_and_documents_itself(rule):
    used = metric_names(rule["expr"])
    assert used, rule["expr"]
    unknown = used - known_metric_names()
    assert not unknown, f"{rule['alert']} queries metrics nobody exports: {unknown}"
    assert rule["labels"]["severity"] in ("critical", "warning")
    anchor = rule["annotations"]["runbook"].split("#", 1)[1]
    headings = re.findall(r"^#+\s+(\S+)", (REPO / "docs" / "operations.md").read_text(), flags=re.M)
    assert anchor in {heading.lower() for heading in headings}, f"docs/operations.md has no {anchor}"


def _sample(channel: str, kind: str, result: str) -> float:
    return REGISTRY.get_sample_value("thongthin_notifications_total", {
        "service": "notifications", "channel": channel, "kind": kind, "result": result}) or 0.0


class _Refusing:
    name, idempotent = "sms", False

    def __init__(self, **flags):
        self.flags = flags

    def send(self, address, rendered, key):
        raise ChannelError("sms 400: bad number", **self.flags)


@pytest.mark.parametrize("channel, flags, result", [
    (InAppChannel(), None, "sent"),
    (_Refusing(permanent=True), {}, "failed"),
    (_Refusing(uncertain=True), {}, "uncertain"),
])
def test_each_delivery_attempt_is_counted_by_channel_class_and_result(channel, flags, result):
    """The counter the failure-rate alert divides, incremented by the dispatcher's real send step."""
    kind = f"probe-{result}"  # a class of its own per case: the counter is process-wide
    job = dispatch.Job(message={"kind": kind, "dedupe_key": f"k-{result}"}, delivery_id="d",
                       channel=channel.name, address="0800000000",
                       rendered=Rendered(subject="ทดสอบ", body="ทดสอบ", link=""))
    dispatch.send_job(Channels(channel), job)
    assert _sample(channel.name, kind, result) == 1
    others = [other for other in metrics.NOTIFICATION_RESULTS if other != result]
    # the other results exist at 0 from the first attempt, so rate() sees their first increment
    assert [_sample(channel.name, kind, other) for other in others] == [0, 0]
    assert REGISTRY.get_sample_value("thongthin_notifications_total", {
        "service": "notifications", "channel": channel.name, "kind": kind, "result": others[0]}) == 0.0
