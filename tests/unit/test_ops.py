"""The operator command's parsing and wiring (the broker parts: tests/integration/test_ops_cli.py)."""
from __future__ import annotations

import json
import tomllib
from datetime import datetime, timezone
from pathlib import Path

import amqp
import pytest

from ops import cli
from ops.deadletters import FAILURE_HEADERS, DeadLetter
from ops.status import service_url

REPO = Path(__file__).resolve().parents[2]


def message(body, headers=None, **properties) -> amqp.Message:
    msg = amqp.Message(body, application_headers=headers or {}, **properties)
    msg.delivery_info = {"delivery_tag": 7}
    return msg


def test_a_dead_letter_from_a_consumer_that_gave_up():
    body = json.dumps({"message_id": "m-1", "type": "plans.directive_issued.v1", "payload": {"title_th": "ข้อสั่งการ"}},
                      ensure_ascii=False)
    letter = DeadLetter.from_message(message(
        body, {"x-thongthin-reason": "FatalError: bad", "x-thongthin-queue": "notifications.events",
               "x-thongthin-failed-at": 1767225600.5, "x-thongthin-replays": 2},
        message_id="m-1", type="plans.directive_issued.v1", content_encoding="utf-8"))
    assert (letter.message_id, letter.event_type, letter.queue, letter.reason, letter.replays) == (
        "m-1", "plans.directive_issued.v1", "notifications.events", "FatalError: bad", 2)
    assert letter.failed_at == datetime(2026, 1, 1, 0, 0, 0, 500000, tzinfo=timezone.utc)
    assert letter.detail()["body"]["payload"]["title_th"] == "ข้อสั่งการ"
    assert letter.delivery_tag == 7


def test_a_dead_letter_the_broker_made_at_the_delivery_limit():
    """No x-thongthin-* headers: where and why come from RabbitMQ's x-death (newest first)."""
    died = datetime(2026, 1, 2, 3, 4, 5)
    letter = DeadLetter.from_message(message(b'{"message_id": "m-2", "type": "t.v1"}', {
        "x-first-death-queue": "reporting.events", "x-first-death-reason": "delivery_limit",
        "x-death": [{"queue": "reporting.events", "reason": "delivery_limit", "time": died, "count": 1}]}))
    assert (letter.message_id, letter.event_type, letter.queue, letter.reason) == (
        "m-2", "t.v1", "reporting.events", "delivery_limit")
    assert letter.failed_at == died.replace(tzinfo=timezone.utc)
    assert letter.detail()["headers"]["x-death"][0]["time"] == "2026-01-02T03:04:05+00:00"
    assert "x-death" in FAILURE_HEADERS  # a replayed copy starts with a clean history


def test_a_body_that_is_not_json_is_shown_as_text():
    letter = DeadLetter.from_message(message(b"\xff not json"))
    assert letter.message_id is None and letter.event_type is None and letter.queue is None
    assert letter.detail()["body"].endswith("not json")


@pytest.mark.parametrize("address, url", [
    ("127.0.0.1:8003", "http://127.0.0.1:8003"),
    ("0.0.0.0:8003", "http://127.0.0.1:8003"),          # a wildcard bind is reached on loopback
    ("notifications:8003", "http://notifications:8003"),
])
def test_service_urls_come_from_the_services_own_variables(monkeypatch, address, url):
    monkeypatch.setenv("NOTIFICATIONS_HTTP_ADDRESS", address)
    assert service_url("notifications") == url


def test_replay_needs_ids_or_all(capsys):
    assert cli.main(["--amqp-uri", "amqp://guest:guest@127.0.0.1:1/", "dead-letters", "replay"]) == cli.FAILURE
    assert "--all" in capsys.readouterr().err


def test_an_unreachable_broker_is_reported_not_raised(capsys):
    from devtools.stack import free_port
    code = cli.main(["dead-letters", "list", "--amqp-uri", f"amqp://guest:guest@127.0.0.1:{free_port()}/"])
    assert code == cli.FAILURE
    assert "cannot reach the broker" in capsys.readouterr().err


def test_the_console_script_is_registered():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["thongthin"] == "ops.cli:main"
    assert any(dep.startswith("rich==") for dep in project["dependencies"])


@pytest.mark.parametrize("scrapes, consumed_per_s, published_per_s", [
    ([(10, 4), (16, 8)], 12.0, 8.0),
    ([(10, 4), (16, 1)], 12.0, None),   # published went down: the process restarted in between
])
def test_rates_come_from_two_scrapes_of_a_real_metrics_endpoint(httpserver, monkeypatch, scrapes,
                                                                consumed_per_s, published_per_s):
    """/health and /metrics served by a local HTTP peer, scraped twice: consumed and published per
    second; a counter that went down gives no rate rather than a negative one."""
    from ops.status import services_status
    totals = iter(scrapes)  # (processed, published) per scrape

    def metrics_page(request):
        from werkzeug import Response
        processed, published = next(totals)
        return Response(
            "# TYPE thongthin_messages_consumed_total counter\n"
            f'thongthin_messages_consumed_total{{service="reporting",event_type="t",outcome="processed"}} {processed}\n'
            f'thongthin_messages_consumed_total{{service="other",event_type="t",outcome="processed"}} 999\n'
            "# TYPE thongthin_outbox_published_total counter\n"
            f'thongthin_outbox_published_total{{service="reporting"}} {published}\n'
            "# TYPE thongthin_outbox_pending gauge\n"
            'thongthin_outbox_pending{service="reporting"} 3\n', content_type="text/plain")
    httpserver.expect_request("/health").respond_with_json({"service": "reporting", "status": "ok"})
    httpserver.expect_request("/metrics").respond_with_handler(metrics_page)
    monkeypatch.setenv("REPORTING_HTTP_ADDRESS", f"127.0.0.1:{httpserver.port}")
    (status,) = services_status(rate_window=0.5, services=("reporting",))
    assert status.healthy and status.outbox_pending == 3
    assert status.consumed == {"processed": 16}          # only this service's samples
    assert (status.consumed_per_s, status.published_per_s) == (consumed_per_s, published_per_s)
