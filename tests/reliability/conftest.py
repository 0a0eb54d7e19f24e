"""One platform for the whole reliability tier: a RabbitMQ node and a PostgreSQL cluster of its own
(so the tests may stop, kill and cut them), every service a real process, a steady load. Each
scenario hurts one part, then settles and reconciles the books of the whole platform."""
from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from devtools.demo import create_users
from devtools.mailsink import MailSink
from devtools.stack import free_port
from shared.config import SERVICES
from shared.messaging import topology as topo
from tests.reliability.platform import (SERVICE_ENV, UNITS, BrokerView, Databases, FaultStack, Load, Tally,
                                        duplicated_effects, login, reconcile, work_queues)

RESULTS: list[Tally] = []
# the running scenario's test item: its RELIABILITY line rides on the item's report (user_properties),
# which pytest-xdist carries from the worker to the run's summary (tests/conftest.py prints them)
RUNNING: dict = {}


class Platform:
    def __init__(self, node, vhost, pg, stack, sink, dbs, broker, load, results_path):
        self.node, self.vhost, self.pg, self.stack, self.sink = node, vhost, pg, stack, sink
        self.dbs, self.broker, self.load, self.results_path = dbs, broker, load, results_path
        self.expected_dead: int = 0          # dead letters a scenario has left on purpose
        self.ignore_inbox: set[str] = set()  # test-made messages no outbox holds
        self._messages_before = 0
        # what a failed scenario left broken (missing deliveries, ...): the next one is judged without it
        self.inherited: dict = {"missing": set(), "unexpected": set(), "lost_requests": 0, "duplicated": {}}

    def url(self, key: str) -> str:
        return f"http://127.0.0.1:{self.stack.procs[key].port}"

    def begin(self) -> None:
        self._messages_before = sum(len(rows) for rows in self.dbs.outboxes().values())
        self.load.resume()

    def ensure_healthy(self, *, after_failure: bool) -> list[str]:
        """Bring the platform back to its healthy start: the broker and PostgreSQL up, the load
        paused, no replica left over, every service its own clean process answering /health
        (restarted if not). After a failed scenario, also wait for what it left in flight and take
        what it broke as inherited, so that the next scenario fails only for its own faults."""
        repaired = []
        self.load.pause()
        if not self.node.is_running():
            self.node.start()
            repaired.append("broker")
        if not self.pg.is_running():
            self.pg.start()
            repaired.append("postgres")
        for key in [k for k in self.stack.procs if k not in SERVICES]:
            self.stack.stop_process(key)
            repaired.append(key)
        for name in SERVICES:
            proc = self.stack.procs.get(name)
            if proc is None:
                self.stack.start_service(name)
                self.stack.wait_process_healthy(name, timeout=90)
                repaired.append(name)
            elif not (proc.clean and proc.process.poll() is None and self._answers_health(proc.port)):
                self.stack.restart(name)
                repaired.append(name)
        if after_failure:
            self._inherit_damage()
            repaired.append("inherited damage recorded")
        self.expected_dead = 0
        return repaired

    @staticmethod
    def _answers_health(port: int, timeout: float = 15) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.3)
        return False

    def _inherit_damage(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:  # let what is in flight arrive (no verdict here)
            try:
                books = reconcile(self.dbs, self.load, ignore_inbox=self.ignore_inbox)
                queued = any(self.broker.depths(work_queues()).values())
            except Exception:  # noqa: BLE001
                time.sleep(1)
                continue
            if not books["pending"] and not queued:
                break
            time.sleep(1)
        books = reconcile(self.dbs, self.load, ignore_inbox=self.ignore_inbox)
        self.broker.purge(topo.DEAD_LETTER_QUEUE)
        self.inherited = {"missing": set(books["missing"]), "unexpected": set(books["unexpected"]),
                          "lost_requests": books["lost_requests"], "duplicated": duplicated_effects(self.dbs)}

    def settle(self, scenario: str, *, timeout: float = 75, pause_load: bool = True, lost: int = 0,
               duplicated: int = 0, **details) -> Tally:
        """Stop the load, wait until every outbox is drained, every owed delivery is in its
        consumer's inbox and every work queue is empty (twice in a row), then count."""
        if pause_load:
            self.load.pause()
        deadline = time.monotonic() + timeout
        quiet, settled = 0, False
        books = None
        all_depths: dict[str, int] = {}
        while time.monotonic() < deadline:
            try:
                books = reconcile(self.dbs, self.load, ignore_inbox=self.ignore_inbox)
                depths = self.broker.depths(work_queues())
            except Exception:  # a scenario may still be bringing something back
                time.sleep(0.5)
                continue
            busy = books["pending"] or books["missing"] or any(depths.values())
            quiet = 0 if busy else quiet + 1
            if quiet >= 2:
                # ready + unacknowledged, from the broker itself (passive declares count ready only);
                # timers (deadline sweep, reminders) may still be adding a few messages, so the
                # books must still balance after the broker said it holds nothing
                all_depths = self.node.queue_depths(self.vhost)
                if not any(n for q, n in all_depths.items() if q != topo.DEAD_LETTER_QUEUE):
                    books = reconcile(self.dbs, self.load, ignore_inbox=self.ignore_inbox)
                    if not (books["pending"] or books["missing"]):
                        settled = True
                        break
                quiet = 0
            time.sleep(0.4)
        if not settled:  # timed out: count what is there now
            books = reconcile(self.dbs, self.load, ignore_inbox=self.ignore_inbox)
            all_depths = self.node.queue_depths(self.vhost)
        busy_queues = {q: n for q, n in all_depths.items() if q != topo.DEAD_LETTER_QUEUE and n}
        dead = all_depths.get(topo.DEAD_LETTER_QUEUE, 0)
        settle_by = time.monotonic() + 10
        while dead != self.expected_dead and time.monotonic() < settle_by:
            time.sleep(0.5)  # a replay's acks may still be landing: the depth was read mid-way once
            dead = self.node.queue_depths(self.vhost).get(topo.DEAD_LETTER_QUEUE, 0)
        inherited = self.inherited
        books["missing"] = [m for m in books["missing"] if m not in inherited["missing"]]
        books["unexpected"] = [m for m in books["unexpected"] if m not in inherited["unexpected"]]
        books["lost_requests"] = max(0, books["lost_requests"] - inherited["lost_requests"])
        duplicated_by_kind = {kind: n - inherited["duplicated"].get(kind, 0)
                              for kind, n in duplicated_effects(self.dbs).items()}
        duplicated_by_kind = {kind: n for kind, n in duplicated_by_kind.items() if n > 0}
        tally = Tally(
            scenario=scenario,
            lost=len(books["missing"]) + books["lost_requests"] + books["pending"] + lost,
            unexpected=len(books["unexpected"]) + max(0, dead - self.expected_dead),
            duplicated=sum(duplicated_by_kind.values()) + duplicated,
            messages=books["messages"] - self._messages_before,
            pending=books["pending"],
            details={"dead_letters": dead, "queued": sum(busy_queues.values()),
                     "directives": len(self.load.directives), "submissions": len(self.load.submissions),
                     **details})
        if duplicated_by_kind:
            tally.details["duplicated_by_kind"] = duplicated_by_kind
        if books["missing"]:
            tally.details["missing_sample"] = [list(m) for m in books["missing"][:5]]
        if books["unexpected"]:
            tally.details["unexpected_sample"] = [list(m) for m in books["unexpected"][:5]]
        if dead != self.expected_dead:
            tally.details["dead_letter_reasons"] = self.dead_letter_reasons()
        RESULTS.append(tally)
        print("\n" + tally.line())
        self.save_results()
        if RUNNING.get("item") is not None:
            RUNNING["item"].user_properties.append(("RELIABILITY", tally.line()))
        assert not busy_queues, f"work queues not empty: {busy_queues}"
        assert dead == self.expected_dead, (f"dead-letter queue holds {dead}, expected {self.expected_dead}: "
                                            f"{tally.details.get('dead_letter_reasons')}")
        assert (tally.lost, tally.unexpected, tally.duplicated) == (0, 0, 0), tally.line() + f" {tally.details}"
        return tally

    def dead_letter_reasons(self, limit: int = 200) -> dict[str, int]:
        """Reason -> count of what sits in the dead-letter queue (looked at, left there)."""
        reasons: dict[str, int] = {}
        for message in self.broker.get_all(topo.DEAD_LETTER_QUEUE, ack=False)[:limit]:
            headers = message.headers or {}
            key = f"{headers.get('x-thongthin-queue')}: {str(headers.get('x-thongthin-reason'))[:160]}"
            reasons[key] = reasons.get(key, 0) + 1
        return reasons

    def save_results(self) -> None:
        self.results_path.write_text(json.dumps(
            [{"scenario": t.scenario, "lost": t.lost, "unexpected": t.unexpected, "duplicated": t.duplicated,
              "messages": t.messages, "pending": t.pending, **t.details} for t in RESULTS],
            ensure_ascii=False, indent=1, default=str))


@pytest.fixture(scope="session")
def reliability_node(request):
    """The run's throwaway node if it is one (this tier runs last and may stop it), else our own."""
    from tests.support.rabbitmq import RabbitNode, throwaway_rabbitmq
    shared = request.getfixturevalue("rabbit")
    if isinstance(shared, RabbitNode):
        yield shared
        return
    with throwaway_rabbitmq() as node:
        yield node


@pytest.fixture(scope="session")
def reliability_pg():
    """A cluster of our own: scenario 6 stops it, which a shared or external server must not see."""
    from tests.support.postgres import throwaway_postgres
    with throwaway_postgres() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def platform(reliability_node, reliability_pg, tmp_path_factory):
    node, pg = reliability_node, reliability_pg
    vhost = f"reliability-{uuid.uuid4().hex[:8]}"
    node.ctl("add_vhost", vhost)
    node.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    amqp_uri = node.amqp_uri.rstrip("/") + "/" + vhost
    started = time.monotonic()
    urls = {name: pg.create_database(name) for name in SERVICES}
    sink = MailSink(port=free_port()).start()
    var = tmp_path_factory.mktemp("reliability")
    stack = FaultStack(amqp_uri=amqp_uri, var_dir=var, database_urls=dict(urls),
                       extra_env={"SMTP_PORT": str(sink.port), **SERVICE_ENV})
    stack.migrate()
    create_users(urls["gateway"])
    dbs = Databases(urls)
    broker = BrokerView(amqp_uri)
    load = None
    print(f"\nRELIABILITY databases migrated and users made in {time.monotonic() - started:.1f}s")
    started = time.monotonic()
    try:
        for name in SERVICES:
            stack.start_service(name)
        for name in SERVICES:
            stack.wait_process_healthy(name, timeout=120)
        central = login(stack.gateway_url, "central", "central-demo-2569")
        created = central.post(f"{stack.gateway_url}/api/v1/org-units", json={"units": UNITS}, timeout=60)
        assert created.status_code == 200, created.text
        load = Load(stack.gateway_url, central)
        load.start()
        print(f"\nRELIABILITY platform up in {time.monotonic() - started:.1f}s (services healthy, units loaded)")
        results_path = var / "reliability-results.json"
        yield Platform(node, vhost, pg, stack, sink, dbs, broker, load, results_path)
    finally:
        if load is not None:
            load.shutdown()
        stack.stop()
        sink.stop()
        broker.close()
        dbs.dispose()


_PREVIOUS = {"failed": False}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and "platform" in item.fixturenames:
        _PREVIOUS["failed"] = report.failed


@pytest.fixture(autouse=True)
def scenario_starts_healthy(request):
    """Every scenario starts from a platform checked healthy (see Platform.ensure_healthy)."""
    if "platform" not in request.fixturenames:
        yield
        return
    platform = request.getfixturevalue("platform")
    RUNNING["item"] = request.node
    started = time.monotonic()
    repaired = platform.ensure_healthy(after_failure=_PREVIOUS["failed"])
    if repaired:
        print(f"\nRELIABILITY repaired before {request.node.name} in {time.monotonic() - started:.1f}s: "
              f"{', '.join(repaired)}")
    yield
