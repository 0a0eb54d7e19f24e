"""Notifications end to end through the gateway's HTTP API, every service a real process, a real SMTP
server and a local LINE Messaging API: preferences, LINE linking by one-time code (signed webhook),
a reminder whose LINE push keeps failing (500) falling back to the in-app inbox, read/unread,
the ops ledger, and a chase that is never sent twice the same day."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from werkzeug.wrappers import Response

from devtools.demo import create_users
from devtools.mailsink import MailSink
from devtools.stack import Stack, free_port
from services.gateway.notifications_api import NotificationsRoutes
from services.gateway.service import GatewayService
from tests.e2e.test_thin_journey import UNITS, login, wait_until

SECRET = "line-channel-secret-for-tests"
LINE_USER = "U" + "ab" * 16

if NotificationsRoutes in GatewayService.__mro__:
    GATEWAY = "gateway"
else:  # until the gateway includes the mixin, run a gateway that does
    class GatewayWithNotifications(NotificationsRoutes, GatewayService):
        name = "gateway"

    GATEWAY = "tests.e2e.test_notifications_flow:GatewayWithNotifications"


class Line:
    """Answers push with 500 while ``failures`` lasts, then 200; records every request."""

    def __init__(self, httpserver):
        self.requests, self.failures = [], 0
        httpserver.expect_request("/v2/bot/message/push", method="POST").respond_with_handler(self.handle)
        self.url = httpserver.url_for("/").rstrip("/")

    def handle(self, request):
        assert request.headers["Authorization"] == "Bearer line-token" and request.headers["X-Line-Retry-Key"]
        self.requests.append((request.headers["X-Line-Retry-Key"], json.loads(request.get_data())))
        if self.failures:
            self.failures -= 1
            return Response('{"message": "internal"}', status=500, content_type="application/json")
        return Response("{}", status=200, headers={"x-line-request-id": "r"}, content_type="application/json")


@pytest.fixture
def platform(rabbit, tmp_path, httpserver):
    from tests.conftest import new_vhost
    line = Line(httpserver)
    sink = MailSink(port=free_port()).start()
    stack = Stack(amqp_uri=new_vhost(rabbit), var_dir=tmp_path / "var",
                  services=("plans", "assessments", "notifications", "reporting"), extra_env={
        "SMTP_PORT": str(sink.port), "THONGTHIN_SCHEDULER_INTERVAL_S": "0.5", "THONGTHIN_RELAY_INTERVAL_S": "0.2",
        "THONGTHIN_REMINDER_LADDER": "-PT2H", "THONGTHIN_QUIET_HOURS": "", "THONGTHIN_WORKING_DAYS_ONLY": "0",
        "THONGTHIN_NOTIFY_RETRY_S": "0.2,0.2", "LINE_API_BASE_URL": line.url,
        "LINE_CHANNEL_ACCESS_TOKEN": "line-token", "LINE_CHANNEL_SECRET": SECRET})
    stack.migrate()
    create_users(stack.database_urls["gateway"])
    try:
        for name in (*stack.services, GATEWAY):
            stack.start_service(name)
        stack.wait_healthy(120)
        yield stack, sink, line
    finally:
        stack.stop()
        sink.stop()


def signed(body: dict) -> tuple[bytes, dict]:
    raw = json.dumps(body).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    return raw, {"X-Line-Signature": signature, "Content-Type": "application/json"}


def test_preferences_line_link_fallback_inbox_ledger_and_chase(platform):
    stack, sink, line = platform
    api = f"{stack.gateway_url}/api/v1"
    central = login(stack, "central", "central-demo-2569")
    assert central.post(f"{api}/org-units", json={"units": UNITS}).status_code == 200
    lao = login(stack, "lao-180101", "lao-demo-2569")

    # preferences: bad input names the field and changes nothing; good input is stored
    bad = lao.put(f"{api}/me/notification-preferences", json={"opt_out": ["deadline_missed"]})
    assert bad.status_code == 422 and bad.json()["field"] == "opt_out[0]" and bad.json()["message_th"]
    saved = lao.put(f"{api}/me/notification-preferences", json={
        "channels": {"email": "officer@lao-180101.test"}, "fallback_order": ["line", "inapp"], "digest": False,
        "date_digits": "arabic"})
    assert saved.status_code == 200 and saved.json()["fallback_order"] == ["line", "inapp"]

    # LINE: a one-time code, sent by the officer to the official account, arrives by signed webhook
    code = lao.post(f"{api}/me/line-link", json={"target": "me"})
    assert code.status_code == 201, code.text
    event = {"events": [{"type": "message", "message": {"type": "text", "text": f"code {code.json()['code']}"},
                         "source": {"type": "user", "userId": LINE_USER}, "replyToken": "t"}]}
    raw, headers = signed(event)
    forged = requests.post(f"{api}/line/webhook", data=raw, headers={**headers, "X-Line-Signature": "AAAA"})
    assert forged.status_code == 401
    linked = requests.post(f"{api}/line/webhook", data=raw, headers=headers)
    assert linked.status_code == 200 and linked.json() == {"linked": 1, "ignored": 0}
    assert requests.post(f"{api}/line/webhook", data=raw, headers=headers).json() == {"linked": 0, "ignored": 1}
    assert lao.get(f"{api}/me/notification-preferences").json()["channels"]["line"] == {"linked": True, "count": 1}

    # a directive with a report due in an hour: the reminder goes at once; LINE fails 3 times -> in-app
    line.failures = 3
    due = datetime.now(timezone.utc) + timedelta(hours=1)
    issued = central.post(f"{api}/directives", json={
        "document_number": "มท ๐๘๐๑.๒/ว ๙๙", "document_date": "2026-11-20", "urgency": "urgent",
        "subject_th": "รายงานผลการเบิกจ่าย", "text_th": "ให้รายงาน", "addressees": {"level": "lao", "within": "DLO-0115"},
        "reporting": {"indicator_code": "BUD-PCT", "indicator_name_th": "ร้อยละการเบิกจ่าย", "period": "2570-01",
                      "due_at": due.isoformat()}})
    assert issued.status_code == 201, issued.text
    inbox = wait_until(lambda: (box := lao.get(f"{api}/me/inbox").json())["unread"] and box, timeout=60)
    assert inbox["unread"] == 1 and "ร้อยละการเบิกจ่าย" in inbox["items"][0]["subject"]
    assert len(line.requests) == 3 and len({key for key, _ in line.requests}) == 1   # one retry key throughout
    assert line.requests[0][1]["to"] == LINE_USER
    read = lao.post(f"{api}/me/inbox/{inbox['items'][0]['id']}/read")
    assert read.status_code == 200 and lao.get(f"{api}/me/inbox").json()["unread"] == 0
    assert lao.post(f"{api}/me/inbox/not-mine/read").status_code == 404
    # the LAO's own contact point got its reminder by e-mail
    sink.wait_for(lambda ms: any("saraban@lao-180101" in str(m["To"]) for m in ms))

    # the ledger for ops: every attempt, with its channel and outcome
    ops = login(stack, "ops", "ops-demo-2569")
    ledger = ops.get(f"{api}/notifications/deliveries", params={"recipient_code": "user:lao-180101"}).json()
    reminder = [m for m in ledger["items"] if m["kind"] == "reminder"][0]
    assert reminder["status"] == "sent" and reminder["channel"] == "inapp"
    assert [(a["channel"], a["status"]) for a in reminder["attempts"]] == [("line", "failed")] * 3 + [("inapp", "sent")]
    assert lao.get(f"{api}/notifications/deliveries").status_code == 403
    assert ops.get(f"{api}/notifications/deliveries", params={"status": "lost"}).json()["field"] == "status"

    # chase: the district chases one LAO now; a second chase the same day sends nothing more
    obligation = central.get(f"{api}/obligations", params={"unit_code": "LAO-180102"}).json()["items"][0]
    district = login(stack, "muang-chainat", "district-demo-2569")
    first = district.post(f"{api}/notifications/chase", json={"obligation_id": obligation["id"]})
    assert first.status_code == 200 and first.json()["queued"] == 1, first.text
    again = district.post(f"{api}/notifications/chase", json={"obligation_id": obligation["id"]}).json()
    assert again["queued"] == 0 and again["already_chased_today"] == 1
    assert lao.post(f"{api}/notifications/chase", json={"obligation_id": obligation["id"]}).status_code == 403
    missing = district.post(f"{api}/notifications/chase", json={})
    assert missing.status_code == 422 and missing.json()["field"] == "obligation_id"
    sink.wait_for(lambda ms: any(str(m["Subject"]).startswith("[ติดตาม]") for m in ms))
    time.sleep(2)
    chased = [m for m in sink.messages if str(m["Subject"]).startswith("[ติดตาม]")]
    assert len(chased) == 1 and "saraban@lao-180102" in str(chased[0]["To"])


def test_extension_requests_reach_the_reviewers_and_decisions_reach_the_unit(platform):
    """An LAO asks for more time: the district and province offices above it are told (by e-mail to
    their contact points); the district denies it with a reason, then the province grants a second
    request: the LAO is told each decision, in Thai, once."""
    stack, sink, _ = platform
    api = f"{stack.gateway_url}/api/v1"
    central = login(stack, "central", "central-demo-2569")
    assert central.post(f"{api}/org-units", json={"units": UNITS}).status_code == 200
    due = datetime.now(timezone.utc) + timedelta(days=2)
    issued = central.post(f"{api}/directives", json={
        "document_number": "มท ๐๘๑๐.๓/ว ๒๗๔๗", "document_date": "2026-11-20", "urgency": "urgent",
        "subject_th": "รายงานผลการเบิกจ่ายงบประมาณ", "text_th": "ให้รายงาน", "addressees": {"level": "lao", "within": "DLO-0115"},
        "reporting": {"indicator_code": "DISB-PCT", "indicator_name_th": "ร้อยละการเบิกจ่าย", "period": "2570-01",
                      "due_at": due.isoformat()}})
    assert issued.status_code == 201, issued.text
    lao = login(stack, "lao-180101", "lao-demo-2569")
    obligation = wait_until(lambda: lao.get(f"{api}/obligations").json()["items"], timeout=60)[0]

    def ask(reason):
        asked = lao.post(f"{api}/obligations/{obligation['id']}/extension-requests", json={
            "requested_due_at": (due + timedelta(days=7)).isoformat(), "reason": reason})
        assert asked.status_code == 201, asked.text
        return asked.json()["request_id"]

    def mails(prefix, to):
        return [m for m in sink.messages if str(m["Subject"]).startswith(prefix) and to in str(m["To"])]

    first = ask("ระบบไฟฟ้าขัดข้อง ไม่สามารถเข้าระบบ e-LAAS ได้")
    for office in ("saraban@dlo-0115", "saraban@plo-09"):
        sink.wait_for(lambda ms, office=office: mails("[ขอขยายเวลา]", office), timeout=60)
    request_mail = mails("[ขอขยายเวลา]", "saraban@dlo-0115")[0]
    body = request_mail.get_content() if hasattr(request_mail, "get_content") else str(request_mail)
    assert "ระบบไฟฟ้าขัดข้อง" in body and "LAO-180101" in body
    assert not mails("[ขอขยายเวลา]", "saraban@lao-180101")          # not to the unit that asked

    district = login(stack, "muang-chainat", "district-demo-2569")
    denied = district.post(f"{api}/extension-requests/{first}/decision",
                           json={"approve": False, "comment": "ยังมีเวลาเพียงพอ"})
    assert denied.status_code == 200, denied.text
    sink.wait_for(lambda ms: mails("[ไม่อนุมัติขยายเวลา]", "saraban@lao-180101"), timeout=60)

    second = ask("เจ้าหน้าที่การเงินลาป่วย")
    # the offices read the second request before the province decides (a decision taken before
    # the request's message goes cancels that message: on a slow machine the grant overtook it)
    for office in ("saraban@dlo-0115", "saraban@plo-09"):
        sink.wait_for(lambda ms, office=office: len(mails("[ขอขยายเวลา]", office)) == 2, timeout=60)
    province = login(stack, "chainat", "chainat-demo-2569")
    granted = province.post(f"{api}/extension-requests/{second}/decision", json={"approve": True})
    assert granted.status_code == 200, granted.text
    sink.wait_for(lambda ms: mails("[ขยายเวลา]", "saraban@lao-180101"), timeout=60)
    time.sleep(2)   # nothing more arrives: one message per decision and recipient
    assert len(mails("[ไม่อนุมัติขยายเวลา]", "saraban@lao-180101")) == 1
    assert len(mails("[ขยายเวลา]", "saraban@lao-180101")) == 1
    assert len(mails("[ขอขยายเวลา]", "saraban@dlo-0115")) == 2     # one per request
    ops = login(stack, "ops", "ops-demo-2569")
    ledger = ops.get(f"{api}/notifications/deliveries", params={"kind": "extension_request"}).json()
    assert {(m["recipient_code"], m["status"]) for m in ledger["items"]} >= {("DLO-0115", "sent"), ("PLO-09", "sent")}
