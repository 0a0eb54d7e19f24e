"""The channels against real peers: a real SMTP server (aiosmtpd), and local HTTP servers that
check the LINE Messaging API and SMS gateway request contracts and answer 429/500/400/409.
The dispatcher runs on SQLite and PostgreSQL, also as two replicas at once."""
from __future__ import annotations

import json
import socketserver
import threading
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update
from werkzeug.wrappers import Response

from devtools.mailsink import MailSink
from devtools.stack import free_port
from services.notifications import bootstrap, dispatch
from services.notifications.channels import (ChannelError, Channels, EmailChannel, LineChannel, SmsChannel,
                                             provider_key)
from services.notifications.models import deliveries, metadata, recipients
from services.notifications.rendering import Rendered
from services.notifications.settings import Settings
from shared.contracts import encode
from shared.contracts.events import DeadlineMissed, ObligationOpened, OrgUnitChanged
from shared.db import Database
from shared.messaging.inbox import ReliableConsumer
from shared.messaging.tables import messaging_metadata

TOKEN = "test-channel-token"
USER_A, USER_B = "U" + "1" * 32, "U" + "2" * 32
DUE = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)
MESSAGE = Rendered("[แจ้งเตือน] ขอให้รายงาน ร้อยละการเบิกจ่าย ภายใน ๓ ธ.ค. ๒๕๖๙", "เรียน อบต.หนึ่ง\n\nรายละเอียด\n",
                   "http://127.0.0.1:8000/obligations/o-1")


@pytest.fixture
def sink():
    mail = MailSink(port=free_port()).start()
    yield mail
    mail.stop()


# --- e-mail ---------------------------------------------------------------------------------------

def test_email_goes_through_a_real_smtp_server_on_one_reused_connection(sink):
    channel = EmailChannel(sink.host, sink.port, "Thongthin <no-reply@thongthin.test>")
    for i in range(5):
        channel.send(f"lao{i}@x.test", MESSAGE, f"LAO-{i}|o-{i}|reminder:-P7D")
    assert channel._idle.qsize() == 1          # one connection served all five
    channel.close()
    received = sink.wait_for(lambda ms: len(ms) == 5)
    first = [m for m in received if str(m["To"]) == "lao0@x.test"][0]
    assert first["Subject"] == MESSAGE.subject and "เรียน อบต.หนึ่ง" in first.get_content()
    assert first["X-Thongthin-Key"] == provider_key("LAO-0|o-0|reminder:-P7D")
    # the same key always gives the same Message-ID: a copy would be recognisable
    again = channel.build("lao0@x.test", MESSAGE, "LAO-0|o-0|reminder:-P7D")
    assert again["Message-ID"] == first["Message-ID"]


class _Refusing:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody@"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if envelope.rcpt_tos[0].startswith("busy@"):
            return "451 4.3.0 try again later"
        return "250 OK"


def test_email_refusals_are_clear_answers_permanent_or_transient():
    port = free_port()
    controller = Controller(_Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        channel = EmailChannel("127.0.0.1", port, "no-reply@thongthin.test")
        with pytest.raises(ChannelError) as refused:
            channel.send("nobody@x.test", MESSAGE, "k1")
        assert refused.value.permanent and not refused.value.uncertain
        with pytest.raises(ChannelError) as later:
            channel.send("busy@x.test", MESSAGE, "k2")
        assert not later.value.permanent and not later.value.uncertain
        channel.send("ok@x.test", MESSAGE, "k3")   # the connection survived both refusals
        channel.close()
    finally:
        controller.stop()


class _DropAfterData(socketserver.StreamRequestHandler):
    """Speaks just enough SMTP, then hangs up after the message data without answering."""

    def handle(self):
        self.wfile.write(b"220 fake\r\n")
        while line := self.rfile.readline():
            command = line.strip().upper()
            if command.startswith((b"EHLO", b"HELO")):
                self.wfile.write(b"250 fake\r\n")
            elif command.startswith((b"MAIL", b"RCPT", b"NOOP", b"RSET")):
                self.wfile.write(b"250 OK\r\n")
            elif command == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                while self.rfile.readline() not in (b".\r\n", b""):
                    pass
                return  # the message was handed over; no reply


def test_email_failure_after_the_data_was_handed_over_is_uncertain_and_before_it_is_not():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _DropAfterData)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        channel = EmailChannel("127.0.0.1", server.server_address[1], "no-reply@thongthin.test", timeout=3)
        with pytest.raises(ChannelError) as dropped:
            channel.send("a@x.test", MESSAGE, "k")
        assert dropped.value.uncertain
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(ChannelError) as down:
        EmailChannel("127.0.0.1", free_port(), "no-reply@thongthin.test", timeout=2).send("a@x.test", MESSAGE, "k")
    assert not down.value.uncertain and not down.value.permanent


# --- LINE -----------------------------------------------------------------------------------------

class LineContract:
    """A local LINE Messaging API: checks each request and answers like LINE, including 409 for a
    retry key it accepted before. ``script`` holds forced answers (status, headers) in order."""

    def __init__(self, httpserver):
        self.requests: list[dict] = []
        self.accepted: dict[str, str] = {}
        self.script: list[tuple[int, dict]] = []
        for path in ("/v2/bot/message/push", "/v2/bot/message/multicast"):
            httpserver.expect_request(path, method="POST").respond_with_handler(self.handle)
        self.url = httpserver.url_for("/").rstrip("/")

    def handle(self, request):
        body = json.loads(request.get_data())
        key = request.headers.get("X-Line-Retry-Key")
        assert request.headers.get("Authorization") == f"Bearer {TOKEN}"
        assert request.headers.get("Content-Type", "").startswith("application/json")
        assert key and uuid.UUID(key)
        assert body["messages"] and all(m["type"] == "text" and m["text"] for m in body["messages"])
        if request.path.endswith("/push"):
            assert isinstance(body["to"], str) and body["to"][0] in "UCR"
        else:
            assert isinstance(body["to"], list) and 1 <= len(body["to"]) <= 500
        self.requests.append({"path": request.path, "key": key, "to": body["to"], "text": body["messages"][0]["text"]})
        if key in self.accepted:
            return Response(json.dumps({"message": "The retry key is already accepted"}), status=409,
                            headers={"x-line-accepted-request-id": self.accepted[key]},
                            content_type="application/json")
        if self.script:
            status, headers = self.script.pop(0)
            return Response(json.dumps({"message": f"forced {status}"}), status=status, headers=headers,
                            content_type="application/json")
        request_id = str(uuid.uuid4())
        self.accepted[key] = request_id
        return Response(json.dumps({"sentMessages": [{"id": "1", "quoteToken": "q"}]}), status=200,
                        headers={"x-line-request-id": request_id}, content_type="application/json")


@pytest.fixture
def line(httpserver):
    return LineContract(httpserver)


def test_line_push_and_multicast_follow_the_contract(line):
    channel = LineChannel(line.url, TOKEN)
    one = channel.send(USER_A, MESSAGE, "LAO-1|o-1|reminder:-P7D")
    many = channel.send(f"{USER_A},{USER_B}", MESSAGE, "LAO-2|o-2|reminder:-P7D")
    assert one.provider_id and many.provider_id and not one.duplicate
    push, multicast = line.requests
    assert push["path"].endswith("/push") and push["to"] == USER_A and MESSAGE.subject in push["text"]
    assert multicast["path"].endswith("/multicast") and multicast["to"] == [USER_A, USER_B]
    # the same message repeated: same retry key, LINE answers 409, we record it as already sent
    again = channel.send(USER_A, MESSAGE, "LAO-1|o-1|reminder:-P7D")
    assert again.duplicate and line.requests[-1]["key"] == push["key"]


def test_line_429_and_500_are_retryable_and_400_is_permanent(line):
    channel = LineChannel(line.url, TOKEN)
    line.script = [(429, {"Retry-After": "7"}), (500, {}), (400, {})]
    with pytest.raises(ChannelError) as limited:
        channel.send(USER_A, MESSAGE, "k")
    assert not limited.value.permanent and limited.value.retry_after == 7
    with pytest.raises(ChannelError) as broken:
        channel.send(USER_A, MESSAGE, "k")
    assert not broken.value.permanent
    with pytest.raises(ChannelError) as bad:
        channel.send(USER_A, MESSAGE, "k")
    assert bad.value.permanent
    assert len({r["key"] for r in line.requests}) == 1   # every attempt carried the same retry key


# --- SMS ------------------------------------------------------------------------------------------

class SmsContract:
    def __init__(self, httpserver):
        self.requests: list[dict] = []
        self.script: list[tuple[int, dict]] = []
        self.delay = 0.0
        httpserver.expect_request("/sms", method="POST").respond_with_handler(self.handle)
        self.url = httpserver.url_for("/sms")

    def handle(self, request):
        body = json.loads(request.get_data())
        assert request.headers.get("Authorization") == "Bearer sms-token"
        assert uuid.UUID(request.headers["Idempotency-Key"]) and body["reference"] == request.headers["Idempotency-Key"]
        assert body["to"].startswith("+66") and body["text"] and body["sender"] == "Thongthin"
        self.requests.append(body)
        if self.delay:
            time.sleep(self.delay)
        if self.script:
            status, headers = self.script.pop(0)
            return Response("{}", status=status, headers=headers, content_type="application/json")
        return Response(json.dumps({"id": f"sms-{len(self.requests)}"}), status=201, content_type="application/json")


def test_sms_gateway_contract_and_its_failures(httpserver):
    sms = SmsContract(httpserver)
    channel = SmsChannel(sms.url, "sms-token", "Thongthin", timeout=0.5)
    assert channel.send("+66812345678", MESSAGE, "k").provider_id == "sms-1"
    assert len(sms.requests[0]["text"]) <= 280 and MESSAGE.link in sms.requests[0]["text"]
    sms.script = [(429, {"Retry-After": "3"}), (503, {}), (400, {}), (409, {})]
    with pytest.raises(ChannelError) as limited:
        channel.send("+66812345678", MESSAGE, "k")
    assert limited.value.retry_after == 3 and not limited.value.permanent
    with pytest.raises(ChannelError) as down:
        channel.send("+66812345678", MESSAGE, "k")
    assert not down.value.permanent and not down.value.uncertain
    with pytest.raises(ChannelError) as bad:
        channel.send("+66812345678", MESSAGE, "k")
    assert bad.value.permanent
    assert channel.send("+66812345678", MESSAGE, "k").duplicate      # 409: the gateway had it
    sms.delay = 1.0   # it takes the message but answers too late: we cannot know
    with pytest.raises(ChannelError) as slow:
        channel.send("+66812345678", MESSAGE, "k")
    assert slow.value.uncertain
    channel.close()


# --- the dispatcher with real channels ------------------------------------------------------------

def make_database(url: str) -> Database:
    database = Database(url)
    messaging_metadata.create_all(database.engine)
    metadata.create_all(database.engine)
    return database


class Platform:
    def __init__(self, url, channels, **settings):
        self.database = make_database(url)
        self.settings = replace(Settings(quiet_hours=None, working_days_only=False,
                                                  retry_delays_s=(1.0, 2.0)), **settings)
        self.channels = channels
        self.now = DUE - timedelta(days=10)
        self.consumer = ReliableConsumer("notifications.events", self.database,
                                         bootstrap.event_handlers(self.settings, clock=lambda: self.now), [10])

    def deliver(self, event_or_body):
        body = event_or_body if isinstance(event_or_body, bytes) else encode(event_or_body, correlation_id="c").to_json()
        outcome = self.consumer.process(body)
        assert outcome.outcome in ("processed", "duplicate"), outcome

    def dispatch(self, at):
        self.now = at
        return dispatch.dispatch_due(self.database, self.channels, self.settings, now=at)

    def ledger(self):
        with self.database.session() as session:
            return session.execute(select(deliveries.c.channel, deliveries.c.status, deliveries.c.provider_key)
                                   .order_by(deliveries.c.started_at, deliveries.c.attempt)).all()


def lao(i, email=True) -> OrgUnitChanged:
    return OrgUnitChanged(code=f"LAO-{i}", level="lao", parent_code="DLO-1", name_th=f"อบต.{i}",
                          contact_email=f"lao{i}@x.test" if email else None, valid_from="2000-01-01")


def opened(i) -> ObligationOpened:
    return ObligationOpened(obligation_id=f"o-{i}", unit_code=f"LAO-{i}", directive_id="d", indicator_code="BUD-1",
                            indicator_name_th="ร้อยละการเบิกจ่าย", period="2570-01", due_at=DUE)


def test_line_failures_retry_with_backoff_and_the_same_key_then_fall_back_to_email(tmp_path, sink, line):
    email = EmailChannel(sink.host, sink.port, "no-reply@thongthin.test")
    platform = Platform(f"sqlite:///{tmp_path / 'n.db'}", Channels(email, LineChannel(line.url, TOKEN)))
    platform.deliver(OrgUnitChanged(code="DLO-1", level="district_office", name_th="สถอ.", valid_from="2000-01-01"))
    platform.deliver(lao(1))
    with platform.database.unit_of_work() as uow:
        uow.session.execute(update(recipients).where(recipients.c.code == "LAO-1").values(
            line_ids=json.dumps([USER_A]), fallback_order=json.dumps(["line", "email"])))
        uow.commit()
    platform.deliver(opened(1))
    line.script = [(429, {"Retry-After": "5"}), (500, {}), (500, {})]
    at = DUE - timedelta(days=7)
    assert platform.dispatch(at) == {"retrying": 1}
    assert platform.dispatch(at + timedelta(seconds=2)) == {}            # Retry-After 5 s is honoured
    assert platform.dispatch(at + timedelta(seconds=5)) == {"retrying": 1}
    assert platform.dispatch(at + timedelta(seconds=8)) == {"fallback": 1, "sent": 1}
    assert len({r["key"] for r in line.requests}) == 1 and len(line.requests) == 3
    assert [str(m["To"]) for m in sink.wait_for(lambda ms: len(ms) == 1)] == ["lao1@x.test"]
    assert [(c, s) for c, s, _ in platform.ledger()] == [("line", "failed")] * 3 + [("email", "sent")]
    email.close()


def test_a_crash_after_line_accepted_is_absorbed_by_the_retry_key(tmp_path, line):
    platform = Platform(f"sqlite:///{tmp_path / 'n.db'}", Channels(LineChannel(line.url, TOKEN)))
    platform.deliver(lao(1, email=False))
    with platform.database.unit_of_work() as uow:
        uow.session.execute(update(recipients).where(recipients.c.code == "LAO-1").values(
            line_ids=json.dumps([USER_A, USER_B])))
        uow.commit()
    platform.deliver(opened(1))
    at = DUE - timedelta(days=7)
    claim = dispatch.claim_due(platform.database, platform.channels, platform.settings, at)
    dispatch.send_job(platform.channels, claim.jobs[0])            # LINE took it; then the process died
    assert platform.dispatch(at + timedelta(minutes=1)) == {}      # within the lease nothing happens
    assert platform.dispatch(at + timedelta(minutes=11)) == {"requeued": 1, "sent": 1}
    assert len(line.requests) == 2 and len(line.accepted) == 1     # the repeat got 409: one delivery
    assert [(c, s) for c, s, _ in platform.ledger()] == [("line", "uncertain"), ("line", "sent")]


def test_duplicate_deliveries_and_two_replicas_still_give_one_message_per_step(database_url, sink):
    """The same event delivered twice, by two consumers, and two dispatchers racing on one database:
    the SMTP server receives exactly one message per (recipient, obligation, step)."""
    replicas = []
    for _ in range(2):
        email = EmailChannel(sink.host, sink.port, "no-reply@thongthin.test")
        replicas.append(Platform(database_url, Channels(email)))
    first, second = replicas
    first.deliver(OrgUnitChanged(code="DLO-1", level="district_office", name_th="สถอ.", contact_email="dlo@x.test",
                                 valid_from="2000-01-01"))
    for i in range(1, 21):
        first.deliver(lao(i))
        body = encode(opened(i), correlation_id="c").to_json()
        first.deliver(body)
        second.deliver(body)          # redelivered to another replica
        second.deliver(opened(i))     # and announced again in a new envelope
    errors = []
    together = threading.Barrier(len(replicas))   # replicas share one clock: each moment together

    def run(platform, moments):
        try:
            for at in moments:
                together.wait(timeout=60)
                for _ in range(3):
                    platform.dispatch(at)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
            together.abort()

    def both(moments):
        threads = [threading.Thread(target=run, args=(p, moments)) for p in replicas]
        [t.start() for t in threads]
        [t.join() for t in threads]

    both([DUE - timedelta(days=7), DUE - timedelta(days=3)])
    for i in range(1, 11):
        first.deliver(DeadlineMissed(obligation_id=f"o-{i}", unit_code=f"LAO-{i}", directive_id="d",
                                     indicator_code="BUD-1", period="2570-01", due_at=DUE, detected_at=DUE))
    both([DUE + timedelta(days=1, minutes=1), DUE + timedelta(days=3, minutes=1)])
    assert not errors, errors
    # 20 LAOs x 2 reminders (-P7D, -P3D) + 10 LAO heads + 1 district digest
    received = sink.wait_for(lambda ms: len(ms) >= 51)
    time.sleep(0.5)
    keys = [m["X-Thongthin-Key"] for m in sink.messages]
    assert len(keys) == len(set(keys)) == 51
    assert len(sink.to("dlo@x.test")) == 1 and "10 จาก 20" in sink.to("dlo@x.test")[0]["Subject"]
    for platform in replicas:
        platform.channels.close()
        platform.database.dispose()
    assert received


def test_an_lpa_team_reaches_its_community_leader_by_email_once_on_either_store(database_url, sink):
    """issue #19: a community leader without an account (an e-mail address only) gets the team's
    message through a real SMTP server, once, though the event reached two replicas twice; the
    same team finalised again for the same day sends nothing new, and DLA's return reaches the
    lead and the province."""
    from shared.contracts.events import LpaAssessmentReturned, LpaTeamFinalised, LpaTeamMember
    replicas = [Platform(database_url, Channels(EmailChannel(sink.host, sink.port, "no-reply@thongthin.test")))
                for _ in range(2)]
    first, second = replicas
    first.deliver(OrgUnitChanged(code="PLO-1", level="provincial_office", name_th="สถจ.หนึ่ง",
                                 contact_email="plo1@x.test", valid_from="2000-01-01"))
    first.deliver(OrgUnitChanged(code="DLO-1", level="district_office", parent_code="PLO-1", name_th="สถอ.",
                                 valid_from="2000-01-01"))
    first.deliver(lao(1))
    team = LpaTeamFinalised(
        team_id="team-1", round_id="round-2569", year_be=2569, province_code="PLO-1", unit_codes=["LAO-1"],
        visit_on="2026-12-15", members=[
            LpaTeamMember(person="plo1.lead", role="lead", unit_code="PLO-1", email="lead@x.test"),
            LpaTeamMember(person="นายสมชาย ใจดี", role="community_leader", email="leader@x.test")])
    body = encode(team, correlation_id="c").to_json()
    for platform in replicas:
        platform.deliver(body)
        platform.deliver(team)
    at = first.now + timedelta(minutes=1)
    assert first.dispatch(at) == {"sent": 2}
    assert second.dispatch(at) == {}
    received = sink.wait_for(lambda ms: len(ms) == 2)
    leader, = [m for m in received if str(m["To"]) == "leader@x.test"]
    assert "LPA 2569" in leader["Subject"] and "อบต.1 (LAO-1)" in leader.get_content()
    second.deliver(team)                                   # finalised again, the same day: nothing new
    first.deliver(LpaAssessmentReturned(assessment_id="a-1", round_id="round-2569", unit_code="LAO-1",
                                        reason="หลักฐานไม่ครบ", returned_at=at))
    assert second.dispatch(at + timedelta(minutes=1)) == {"sent": 2}
    received = sink.wait_for(lambda ms: len(ms) == 4)
    time.sleep(0.3)
    assert sorted(str(m["To"]) for m in sink.messages[2:]) == ["lead@x.test", "plo1@x.test"]
    assert len(sink.messages) == 4
    for platform in replicas:
        platform.channels.close()
        platform.database.dispose()
