"""The platform under fault: every service a real process on a RabbitMQ node and a PostgreSQL cluster
owned by the test, a steady load through the gateway, and the reconciliation of what happened.

Reconciliation (the figures every scenario prints):
  * lost       = (consumer, message) deliveries owed but missing: for every record in every
                 service's outbox, each subscribed service (shared/messaging/topology.py) must hold
                 it in its inbox; plus requests the gateway accepted (201) that left no row, plus
                 outbox records still pending at the end;
  * unexpected = inbox records of messages no outbox ever held, and dead letters nobody expected;
  * duplicated = effects applied twice: two events for one natural key (assignment_created per
                 assignment, obligation_opened / deadline_missed per obligation, indicator_submitted
                 per submission, notification_sent per recipient+subject+step+channel), event_log
                 rows per message, and reporting's reminder counters above the notifications sent.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import amqp
import requests
from sqlalchemy import create_engine, text

from devtools.stack import Stack
from shared.config import REPO_ROOT, SERVICES
from shared.messaging import topology as topo
from shared.messaging.publisher import connection_params
from ops.status import scrape_metrics

FAULT_DIR = Path(__file__).parent / "faultinject"
CONSUMERS = tuple(topo.SUBSCRIPTIONS)                      # services with a work queue
LAOS = [f"LAO-18{n:04d}" for n in range(101, 113)]         # twelve LAOs under one district
UNITS = [
    dict(code="MOI", level="ministry", name_th="กระทรวงมหาดไทย"),
    dict(code="DLA", level="department", parent_code="MOI", name_th="กรมส่งเสริมการปกครองท้องถิ่น"),
    dict(code="PLO-09", level="provincial_office", parent_code="DLA", name_th="สถจ.ชัยนาท",
         contact_email="saraban@plo-09.thongthin.test"),
    dict(code="DLO-0115", level="district_office", parent_code="PLO-09", name_th="สถอ.เมืองชัยนาท",
         contact_email="saraban@dlo-0115.thongthin.test"),
] + [dict(code=code, level="lao", lao_type="sao", parent_code="DLO-0115", name_th=f"อบต.ทดสอบ {code}",
          contact_email=f"saraban@{code.lower()}.thongthin.test") for code in LAOS]
# One event of each kind is about one thing: a second one is a duplicated effect.
NATURAL_KEYS = {
    "plans.assignment_created.v1": ("assignment_id",),
    "assessments.obligation_opened.v1": ("obligation_id",),
    "assessments.deadline_missed.v1": ("obligation_id",),
    "assessments.indicator_submitted.v1": ("submission_id",),
    "notifications.notification_sent.v1": ("recipient_code", "subject_ref", "step", "channel"),
}
SERVICE_ENV = {
    # short backoff, but its sum (15 s) outlasts the 10 s database outage of scenario 6
    "THONGTHIN_RETRY_DELAYS_MS": "250,1000,4000,10000",
    "THONGTHIN_RELAY_INTERVAL_S": "0.2",
    "THONGTHIN_SWEEP_INTERVAL_S": "1", "THONGTHIN_SCHEDULER_INTERVAL_S": "1",
    # The steady load escalates to the LAO head only (fewer messages per tick); test_12 covers
    # the district digest reaching reporting on PostgreSQL.
    "THONGTHIN_REMINDER_LADDER": "-PT1H", "THONGTHIN_ESCALATION_LADDER": "lao_head=PT0S",
    "THONGTHIN_QUIET_HOURS": "", "THONGTHIN_WORKING_DAYS_ONLY": "0", "THONGTHIN_DAILY_CAP": "100000",
    "THONGTHIN_MAX_WORKERS": "6",
    # a lost reply is a 503 after 6 s (the load's HTTP timeout is 15 s); a stop with the broker
    # away ends after 8 s (the product default is 20 s: the scenarios would wait that long)
    "THONGTHIN_RPC_TIMEOUT_S": "6", "THONGTHIN_STOP_GRACE_S": "8",
}


@dataclass
class Proc:
    name: str           # service
    key: str            # process key: the service, or "<service>#2" for a replica
    process: subprocess.Popen
    log_path: Path
    port: int
    clean: bool = True  # started without a fault, an environment override or another broker address


class FaultStack(Stack):
    """devtools.stack.Stack plus per-process faults, broker address and replicas."""

    procs: dict

    def __post_init__(self):
        super().__post_init__()
        self.procs = {}

    def env(self, fault: str | None = None, amqp_uri: str | None = None, port: int | None = None,
            name: str | None = None, fault_log: Path | None = None) -> dict[str, str]:
        env = super().env()
        env["PYTHONPATH"] = os.pathsep.join([str(FAULT_DIR), str(REPO_ROOT)])
        env.pop("THONGTHIN_FAULT", None)
        if fault:
            env["THONGTHIN_FAULT"] = fault
            env["THONGTHIN_FAULT_LOG"] = str(fault_log)
        if amqp_uri:
            env["AMQP_URI"] = amqp_uri
        if port and name:
            env[f"{name.upper()}_HTTP_ADDRESS"] = f"127.0.0.1:{port}"
        return env

    def start_service(self, name: str, *, key: str | None = None, fault: str | None = None,
                      amqp_uri: str | None = None, port: int | None = None,
                      env: dict[str, str] | None = None) -> Proc:
        key = key or name
        port = port or self.ports[name]
        log_path = self.var_dir / "logs" / f"{key.replace('#', '-')}.log"
        fault_log = self.var_dir / "logs" / f"{key.replace('#', '-')}.faults.jsonl"
        log = open(log_path, "ab")
        log.write(f"\n==== start {key} fault={fault} at {time.time():.3f}\n".encode())
        log.flush()
        process = subprocess.Popen([sys.executable, "-m", "shared.runner", name],
                                   env={**self.env(fault, amqp_uri, port, name, fault_log), **(env or {})},
                                   cwd=REPO_ROOT,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        proc = Proc(name, key, process, log_path, port, clean=not (fault or amqp_uri or env))
        self.procs[key] = proc
        self.processes[key] = process
        return proc

    def fault_records(self, key: str) -> list[dict]:
        path = self.var_dir / "logs" / f"{key.replace('#', '-')}.faults.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def clear_fault_records(self, key: str) -> None:
        path = self.var_dir / "logs" / f"{key.replace('#', '-')}.faults.jsonl"
        path.unlink(missing_ok=True)

    def wait_process_healthy(self, key: str, timeout: float = 60) -> None:
        proc = self.procs[key]
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if proc.process.poll() is not None:
                raise RuntimeError(f"{key} exited with {proc.process.returncode}; see {proc.log_path}")
            try:
                response = requests.get(f"http://127.0.0.1:{proc.port}/health", timeout=2)
                if response.status_code == 200:
                    return
                last = response.text
            except requests.RequestException as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise TimeoutError(f"{key} not healthy after {timeout}s: {last}")

    def wait_exit(self, key: str, timeout: float) -> int:
        proc = self.procs[key]
        try:
            return proc.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{key} still running after {timeout}s; see {proc.log_path}") from None

    def sigkill(self, key: str) -> int:
        proc = self.procs[key]
        os.killpg(proc.process.pid, signal.SIGKILL)
        return proc.process.wait(30)

    def restart(self, key: str, **kwargs) -> Proc:
        """Start the process again (after it died or was killed) and wait until it is healthy."""
        old = self.procs[key]
        if old.process.poll() is None:
            self.sigkill(key)
        proc = self.start_service(old.name, key=key, port=old.port, **kwargs)
        self.wait_process_healthy(key)
        return proc

    def stop_process(self, key: str, grace: float = 20) -> int:
        proc = self.procs.pop(key)
        self.processes.pop(key, None)
        if proc.process.poll() is not None:
            return proc.process.returncode
        proc.process.send_signal(signal.SIGTERM)
        try:
            return proc.process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.process.pid, signal.SIGKILL)
            return proc.process.wait()

    def stop(self, grace: float = 20) -> None:
        super().stop(grace)
        self.procs.clear()


# --- load --------------------------------------------------------------------------------------------

def login(gateway_url: str, username: str, password: str) -> requests.Session:
    response = requests.post(f"{gateway_url}/api/v1/auth/token",
                             json={"username": username, "password": password}, timeout=30)
    assert response.status_code == 200, response.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {response.json()['token']}"
    return session


class Load(threading.Thread):
    """A steady, modest load through the gateway: a directive to every LAO about once a second
    (each one -> 12 assignments -> 12 obligations due a few seconds later -> reminders), and a
    submission for one open obligation per tick. Requests the platform refuses while a fault is
    on (5xx, timeouts) are counted, not retried: only what the gateway accepted must arrive."""

    def __init__(self, gateway_url: str, session: requests.Session, *, interval: float = 1.0,
                 due_in_s: float = 4.0):
        super().__init__(name="reliability-load", daemon=True)
        self.gateway = gateway_url
        self.session = session
        self.interval = interval
        self.due_in_s = due_in_s
        self.directives: list[str] = []
        self.submissions: list[str] = []
        self.refused = Counter()
        self._run = threading.Event()
        self._stop = threading.Event()
        self._tick = 0

    def resume(self) -> None:
        self._run.set()

    def pause(self) -> None:
        self._run.clear()
        time.sleep(0.05)

    def shutdown(self) -> None:
        self._stop.set()
        self._run.set()

    def run(self) -> None:
        while not self._stop.is_set():
            self._run.wait()
            if self._stop.is_set():
                return
            started = time.monotonic()
            try:
                self.step()
            except Exception as exc:  # the platform is being hurt on purpose; keep going
                self.refused[type(exc).__name__] += 1
            time.sleep(max(0.0, self.interval - (time.monotonic() - started)))

    def period(self) -> str:
        """A month of its own for each directive: a unit owes one report per indicator and period, so
        directives repeating a period would open no obligation (and publish no event to fault)."""
        return f"{2570 + (self._tick // 12) % 100}-{self._tick % 12 + 1:02d}"

    def step(self) -> None:
        self._tick += 1
        due = datetime.now(timezone.utc) + timedelta(seconds=self.due_in_s)
        response = self.session.post(f"{self.gateway}/api/v1/directives", timeout=15, json={
            "document_number": f"มท ๐๘๐๑.๒/ว {self._tick}-{uuid.uuid4().hex[:6]}", "document_date": "2025-11-03",
            "urgency": "urgent", "subject_th": "รายงานผลการเบิกจ่ายงบประมาณ", "text_th": "ให้รายงานผล",
            "addressees": {"level": "lao", "within": "DLO-0115"},
            "reporting": {"indicator_code": "BUD-DISBURSED-PCT", "indicator_name_th": "ร้อยละการเบิกจ่าย",
                          "period": self.period(), "due_at": due.isoformat()}})
        if response.status_code == 201:
            self.directives.append(response.json()["directive_id"])
        else:
            self.refused[f"directive {response.status_code}"] += 1
        unit = LAOS[self._tick % len(LAOS)]
        listing = self.session.get(f"{self.gateway}/api/v1/obligations", timeout=15,
                                   params={"unit_code": unit, "state": "open", "limit": 1})
        if listing.status_code != 200:
            self.refused[f"list {listing.status_code}"] += 1
            return
        for obligation in listing.json()["items"][:1]:
            submitted = self.session.post(
                f"{self.gateway}/api/v1/obligations/{obligation['id']}/submissions", timeout=15,
                json={"unit_code": unit, "values": [{"indicator_code": "BUD-DISBURSED-PCT", "value": 50.0}]})
            if submitted.status_code == 201:
                self.submissions.append(submitted.json().get("submission_id") or submitted.json().get("id"))
            else:
                self.refused[f"submit {submitted.status_code}"] += 1


class KeyedWriters:
    """Clients that write as a careful client should: every directive with its own
    Idempotency-Key, and a write that got no final answer (503, 409 in progress, a timeout, a
    refused connection) sent again, same key, same body, until it gets one. Their books: for
    every key, what the client was finally told, and how often it had to retry."""

    RETRYABLE = (409, 502, 503, 504)

    def __init__(self, gateway_url: str, session_headers: dict, *, writers: int = 3, give_up_after_s: float = 120):
        self.gateway = gateway_url
        self.headers = dict(session_headers)
        self.writers = writers
        self.give_up_after_s = give_up_after_s
        self.final: dict[str, dict] = {}              # key -> {"status", "directive_id", "document_number"}
        self.attempts: Counter = Counter()           # key -> requests sent
        self.answers: Counter = Counter()            # "503", "201", "timeout", ... over every attempt
        self.problems: list[dict] = []               # 503 bodies (they must carry a correlation id)
        self._writing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        self._writing.set()
        for n in range(self.writers):
            thread = threading.Thread(target=self._write_until_stopped, args=(n,), daemon=True,
                                      name=f"keyed-writer-{n}")
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 150) -> None:
        """No new writes; each writer finishes (retries to a final answer) the one it holds."""
        self._writing.clear()
        for thread in self._threads:
            thread.join(timeout)
        assert not any(t.is_alive() for t in self._threads), "a writer never got a final answer"

    def _write_until_stopped(self, writer: int) -> None:
        session = requests.Session()
        session.headers.update(self.headers)
        n = 0
        while self._writing.is_set():
            n += 1
            key = f"reliability-{writer}-{n}-{uuid.uuid4().hex[:8]}"
            self._write_one(session, key, {
                "document_number": f"มท ๐๘๐๑.๕/ว {key}", "document_date": "2025-11-03", "urgency": "urgent",
                "subject_th": "ขอให้รายงานผล (ทดสอบการเขียนซ้ำ)", "text_th": "ให้รายงานผล",
                "addressees": {"level": "lao", "within": "DLO-0115"}})

    def _write_one(self, session, key: str, body: dict) -> None:
        deadline = time.monotonic() + self.give_up_after_s
        pause = 0.2
        while True:
            with self._lock:
                self.attempts[key] += 1
            try:
                response = session.post(f"{self.gateway}/api/v1/directives", json=body, timeout=15,
                                        headers={"Idempotency-Key": key})
                answer = str(response.status_code)
            except requests.RequestException as exc:
                response, answer = None, type(exc).__name__
            with self._lock:
                self.answers[answer] += 1
                if response is not None and response.status_code == 503:
                    self.problems.append(response.json())
            if response is not None and response.status_code not in self.RETRYABLE:
                with self._lock:
                    self.final[key] = {"status": response.status_code, "document_number": body["document_number"],
                                       "directive_id": response.json().get("directive_id"),
                                       "replayed": response.headers.get("Idempotent-Replayed") == "true"}
                return
            if time.monotonic() > deadline:
                with self._lock:
                    self.final[key] = {"status": None, "document_number": body["document_number"],
                                       "directive_id": None, "replayed": False}
                return
            time.sleep(pause)
            pause = min(pause * 2, 2.0)

    def books(self, dbs: "Databases") -> dict:
        """lost = keys answered 2xx whose directive is not there exactly as answered, or with no
        final answer at all; duplicated = directives beyond the first for one key."""
        numbers = [f["document_number"] for f in self.final.values()]
        rows = dbs.rows("plans", "SELECT d.number_printed AS number, dir.id AS directive_id FROM directives dir "
                                 "JOIN documents d ON d.id = dir.document_id WHERE d.number_printed = ANY(:n)", n=numbers)
        by_number: dict[str, list[str]] = {}
        for row in rows:
            by_number.setdefault(row.number, []).append(row.directive_id)
        lost = duplicated = 0
        for final in self.final.values():
            found = by_number.get(final["document_number"], [])
            duplicated += max(0, len(found) - 1)
            if final["status"] is None or (final["status"] == 201 and final["directive_id"] not in found):
                lost += 1
        retried = [k for k, n in self.attempts.items() if n > 1]
        return {"writes": len(self.final), "lost": lost, "duplicated": duplicated,
                "answered_201": sum(f["status"] == 201 for f in self.final.values()),
                "replayed": sum(f["replayed"] for f in self.final.values()),
                "other_final": {str(f["status"]) for f in self.final.values() if f["status"] != 201},
                "retried_keys": len(retried), "answers": dict(self.answers)}


# --- broker and databases -----------------------------------------------------------------------------

class BrokerView:
    """Queue depths and raw publishes over AMQP (fast; rabbitmqctl takes a second per call)."""

    def __init__(self, amqp_uri: str):
        self.amqp_uri = amqp_uri
        self._connection = None

    def _channel(self):
        if self._connection is None:
            self._connection = amqp.Connection(**connection_params(self.amqp_uri), connect_timeout=5)
            self._connection.connect()
        return self._connection.channel()

    def close(self):
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:
                pass
            self._connection = None

    def depths(self, queues) -> dict[str, int]:
        try:
            channel = self._channel()
            result = {q: channel.queue_declare(q, passive=True).message_count for q in queues}
            channel.close()
            return result
        except Exception:
            self.close()
            raise

    def get_all(self, queue: str, ack: bool = True) -> list[amqp.Message]:
        channel = self._channel()
        messages = []
        while (message := channel.basic_get(queue)) is not None:
            if isinstance(message.body, str):
                message.body = message.body.encode(message.properties.get("content_encoding") or "utf-8")
            messages.append(message)
        if ack:
            for message in messages:
                channel.basic_ack(message.delivery_tag)
        channel.close()  # whatever was not acked goes back to the queue
        return messages

    def publish(self, messages: list[tuple[str, str, bytes, dict]]) -> None:
        """(exchange, routing key, body, properties) with publisher confirms, mandatory."""
        channel = self._channel()
        channel.confirm_select()
        returned = []
        channel.events["basic_return"].add(lambda *args: returned.append(args))
        for exchange, routing_key, body, properties in messages:
            channel.basic_publish_confirm(amqp.Message(body, **properties), exchange=exchange,
                                          routing_key=routing_key, mandatory=True)
        channel.close()
        assert not returned, f"{len(returned)} test publishes were unroutable"

    def purge(self, queue: str) -> None:
        channel = self._channel()
        channel.queue_purge(queue)
        channel.close()

    def unbind(self, queue: str, routing_key: str) -> None:
        channel = self._channel()
        channel.queue_unbind(queue, topo.EVENTS_EXCHANGE, routing_key)
        channel.close()

    def bind(self, queue: str, routing_key: str) -> None:
        channel = self._channel()
        channel.queue_bind(queue, topo.EVENTS_EXCHANGE, routing_key)
        channel.close()


def work_queues() -> list[str]:
    names = []
    for service in CONSUMERS:
        names.append(topo.queue_name(service))
        names.extend(q.name for q in topo.retry_queues(service, [int(x) for x in
                                                                   SERVICE_ENV["THONGTHIN_RETRY_DELAYS_MS"].split(",")]))
    return names


class Databases:
    def __init__(self, urls: dict[str, str]):
        self.engines = {name: create_engine(url, pool_size=2, max_overflow=2, pool_pre_ping=True)
                        for name, url in urls.items()}

    def dispose(self):
        for engine in self.engines.values():
            engine.dispose()

    def rows(self, service: str, sql: str, **params):
        with self.engines[service].connect() as connection:
            return connection.execute(text(sql), params).all()

    def has_table(self, service: str, table: str) -> bool:
        return bool(self.rows(service, "SELECT 1 FROM information_schema.tables WHERE table_name = :t", t=table))

    def outboxes(self) -> dict[str, list]:
        return {s: self.rows(s, "SELECT id, message_id, event_type, published_at, attempts, last_error "
                                "FROM outbox ORDER BY id")
                for s in SERVICES if self.has_table(s, "outbox")}

    def inboxes(self) -> dict[str, list[str]]:
        return {s: [r.message_id for r in self.rows(s, "SELECT message_id FROM inbox WHERE consumer = :c",
                                                    c=topo.queue_name(s))]
                for s in CONSUMERS}


@dataclass
class Tally:
    scenario: str
    lost: int
    unexpected: int
    duplicated: int
    messages: int
    pending: int
    details: dict = field(default_factory=dict)

    def line(self) -> str:
        extra = " ".join(f"{k}={v}" for k, v in self.details.items() if not isinstance(v, (dict, list)))
        return (f"RELIABILITY scenario={self.scenario} lost={self.lost} unexpected={self.unexpected} "
                f"duplicated={self.duplicated} messages={self.messages} pending={self.pending} {extra}").strip()


def reconcile(dbs: Databases, load: Load | None, *, ignore_inbox: set[str] = frozenset()) -> dict:
    """The whole platform's books (see the module docstring)."""
    # inboxes first: a delivery is only ever recorded after its outbox row committed, so reading
    # the outboxes second sees every message an inbox holds even while timers keep publishing
    # (read the other way round, a reminder relayed between the two reads looked "unexpected")
    inboxes = dbs.inboxes()
    outboxes = dbs.outboxes()
    published = {}
    pending = 0
    for service, rows in outboxes.items():
        for row in rows:
            published[row.message_id] = row.event_type
            pending += row.published_at is None
    inbox_sets = {s: set(ids) for s, ids in inboxes.items()}
    subscribers = {t: [s for s in CONSUMERS if t in topo.SUBSCRIPTIONS[s]] for t in set(published.values())}
    missing = [(service, message_id, event_type) for message_id, event_type in published.items()
               for service in subscribers[event_type] if message_id not in inbox_sets[service]]
    unexpected = [(s, mid) for s, ids in inboxes.items() for mid in ids
                  if mid not in published and mid not in ignore_inbox]
    lost_requests = 0
    if load is not None:
        directives = {r.id for r in dbs.rows("plans", "SELECT id FROM directives")}
        lost_requests += sum(1 for d in list(load.directives) if d not in directives)
        submissions = {r.id for r in dbs.rows("assessments", "SELECT id FROM submissions")}
        lost_requests += sum(1 for s in list(load.submissions) if s and s not in submissions)
    return {"published": published, "pending": pending, "missing": missing, "unexpected": unexpected,
            "lost_requests": lost_requests, "messages": len(published)}


def duplicated_effects(dbs: Databases) -> dict[str, int]:
    dup = Counter()
    per_subject = Counter()
    for service in SERVICES:
        if not dbs.has_table(service, "outbox"):
            continue
        keys = Counter()
        for row in dbs.rows(service, "SELECT event_type, body FROM outbox WHERE event_type = ANY(:types)",
                            types=list(NATURAL_KEYS)):
            payload = json.loads(row.body)["payload"]
            keys[(row.event_type, tuple(payload.get(k) for k in NATURAL_KEYS[row.event_type]))] += 1
            if row.event_type == "notifications.notification_sent.v1":
                per_subject[payload["subject_ref"]] += 1
        for (event_type, _), count in keys.items():
            if count > 1:
                dup[event_type] += count - 1
    dup["event_log"] = dbs.rows("reporting", "SELECT count(*) - count(DISTINCT message_id) AS n FROM event_log")[0].n
    # reporting counts each notification_sent once per obligation: more is a double application
    for row in dbs.rows("reporting", "SELECT obligation_id, reminders_sent + escalations_sent AS n "
                                     "FROM rm_directive_units WHERE obligation_id IS NOT NULL"):
        if row.n > per_subject.get(row.obligation_id, 0):
            dup["reporting_counters"] += row.n - per_subject[row.obligation_id]
    return {k: v for k, v in dup.items() if v}


def metric_total(url: str, name: str, **labels) -> float:
    """Sum of a Prometheus counter's samples matching the labels (0 if absent)."""
    samples = scrape_metrics(url, timeout=10)  # the operator command's scrape: thongthin_* samples
    return sum(value for sample_labels, value in samples.get(name, [])
               if all(sample_labels.get(k) == str(v) for k, v in labels.items()))
