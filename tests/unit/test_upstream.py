"""What the gateway answers for a call to a service that failed or got no answer (issue #17)."""
from __future__ import annotations

import kombu.exceptions
from nameko.exceptions import RemoteError, UnknownService

from services.gateway.upstream import problem_body, problem_headers, upstream_problem
from shared.messaging.rpc import RpcUnavailable


def test_a_call_without_an_answer_is_a_503_with_the_correlation_id_and_retry_after():
    for error in (RpcUnavailable("plans", "issue_directive", "no reply within 60s"),
                  kombu.exceptions.OperationalError("[Errno 111] ECONNREFUSED"),
                  ConnectionRefusedError(111, "ECONNREFUSED"), UnknownService("plans")):
        problem = upstream_problem(error)
        assert problem is not None and problem.status == 503, error
        body = problem_body(problem, "corr-123")
        assert body["code"] == "service_unavailable" and body["correlation_id"] == "corr-123"
        assert body["message_th"] and "Idempotency-Key" in body["message_en"]
        assert problem_headers(problem) == {"Retry-After": "2"}


def test_a_service_that_failed_is_a_502_naming_the_error_type():
    problem = upstream_problem(RemoteError("IntegrityError", "boom"))
    assert problem.status == 502 and "IntegrityError" in problem_body(problem, None)["detail"]
    assert problem_headers(problem) == {}


def test_anything_else_is_not_the_upstream_s_business():
    assert upstream_problem(ValueError("a bug")) is None
    assert upstream_problem(KeyError("x")) is None


# --- the LINE webhook (public, so it maps errors itself) answers like every other route -----------------

import base64  # noqa: E402
import hashlib  # noqa: E402
import hmac  # noqa: E402
import json  # noqa: E402

import pytest  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402

from services.gateway.notifications_api import NotificationsRoutes  # noqa: E402

SECRET = "line-secret"


class _Gateway(NotificationsRoutes):
    """Just what the webhook uses: the notifications proxy, the correlation id and the audit log."""
    context = "corr-line-1"

    def __init__(self, failure: BaseException):
        self.failure, self.audited = failure, []

        class Notifications:
            def complete_line_link(_, code, line_id):
                raise failure
        self.notifications = Notifications()

    def _audit(self, request, user, status, result):
        self.audited.append((status, result))


def _webhook(gateway: _Gateway):
    raw = json.dumps({"events": [{"type": "message", "source": {"type": "user", "userId": "U1"},
                                  "message": {"type": "text", "text": "TT-ABCD-EFGH"}}]}).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    request = EnvironBuilder(method="POST", path="/api/v1/line/webhook", data=raw,
                             headers={"X-Line-Signature": signature, "Content-Type": "application/json"}
                             ).get_request()
    return gateway.notification_line_webhook(request)


@pytest.mark.parametrize("failure", [RpcUnavailable("notifications", "complete_line_link", "no reply within 60s"),
                                     ConnectionRefusedError(111, "ECONNREFUSED")])
def test_a_lost_reply_to_the_line_webhook_is_a_503_with_the_correlation_id(monkeypatch, failure):
    monkeypatch.setenv("LINE_CHANNEL_SECRET", SECRET)
    gateway = _Gateway(failure)
    status, headers, text = _webhook(gateway)
    body = json.loads(text)
    assert status == 503 and headers["Retry-After"] == "2"
    assert headers["Content-Type"].startswith("application/problem+json")
    assert body["code"] == "service_unavailable" and body["correlation_id"] == "corr-line-1"
    assert body["message_th"] and body["message_en"]
    assert gateway.audited == [(503, body)]


def test_a_failed_notifications_service_behind_the_line_webhook_is_a_502(monkeypatch):
    monkeypatch.setenv("LINE_CHANNEL_SECRET", SECRET)
    gateway = _Gateway(RemoteError("IntegrityError", "boom"))
    status, _, text = _webhook(gateway)
    assert status == 502 and json.loads(text)["code"] == "upstream"
    assert json.loads(text)["correlation_id"] == "corr-line-1"
