"""Shared pieces of the benchmarks: a throwaway broker and stack, memory sampling, reporting."""
from __future__ import annotations

import functools
import json
import math
import os
import platform
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, func, select

from devtools.stack import Stack
from shared.config import REPO_ROOT, SERVICES
from shared.messaging.tables import outbox


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (from /proc: no extra dependency)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (from /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (FileNotFoundError, IndexError, ValueError):
        return 0.0


def cpu_by_service(stack: Stack) -> dict[str, float]:
    return {name: cpu_seconds(process.pid) for name, process in stack.processes.items()}


class Sampler:
    """Calls ``sample()`` every ``interval`` seconds in a background thread while in a with-block."""

    interval = 0.5

    def __init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        raise NotImplementedError

    def _run(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class MemorySampler(Sampler):
    """Samples every service's RSS in the background; keeps the maximum per service."""

    def __init__(self, stack: Stack, interval: float = 0.5):
        super().__init__()
        self.stack, self.interval = stack, interval
        self.peak: dict[str, float] = {}

    def sample(self) -> None:
        for name, process in list(self.stack.processes.items()):
            self.peak[name] = max(self.peak.get(name, 0.0), rss_mb(process.pid))


@contextmanager
def bench_platform(db: str, work_dir: Path, extra_env: dict | None = None):
    """A throwaway RabbitMQ node, databases (SQLite files or fresh PostgreSQL databases), the stack."""
    from tests.support.rabbitmq import throwaway_rabbitmq
    with ExitStack() as stack_of:
        node = stack_of.enter_context(throwaway_rabbitmq())
        databases = {}
        if db == "postgres":
            from tests.support.postgres import postgres_for_tests
            server = stack_of.enter_context(postgres_for_tests())
            databases = {name: server.create_database(f"bench_{name}") for name in SERVICES}
            stack_of.callback(lambda: [server.drop_database(url) for url in databases.values()])
        stack = Stack(amqp_uri=node.amqp_uri, var_dir=work_dir, database_urls=dict(databases),
                      extra_env=extra_env or {})
        stack.migrate()
        stack_of.callback(stack.stop)
        yield node, stack


@functools.lru_cache(maxsize=1)
def _registry() -> tuple[dict, ...]:
    from services.plans.cli import registry_rows
    return tuple(registry_rows())


def registry_at_scale(scale: float = 1.0) -> list[dict]:
    """The national registry with ``scale`` x its LAOs under DLA (every office kept): below 1 an
    even sample of each province's LAOs (at least one each, so every province takes part), above 1
    extra LAOs cloned from real ones (``LAO-110104-2``) under the same district."""
    rows = [dict(row) for row in _registry()]
    offices = [row for row in rows if row["level"] != "lao" or row["parent_code"] == "MOI"]  # BMA is not DLA's
    laos = [row for row in rows if row["level"] == "lao" and row["parent_code"] != "MOI"]
    if scale <= 1:
        by_province: dict[str, list[dict]] = {}
        for row in laos:
            by_province.setdefault(row["province_code"], []).append(row)
        chosen = []
        for members in by_province.values():
            wanted = max(1, round(len(members) * scale))
            chosen += [members[math.floor(i * len(members) / wanted)] for i in range(wanted)]
    else:
        chosen = list(laos)
        for i in range(round(len(laos) * scale) - len(laos)):
            row, copy = laos[i % len(laos)], 2 + i // len(laos)
            user, domain = row["contact_email"].split("@")
            chosen.append({**row, "code": f"{row['code']}-{copy}", "name_th": f"{row['name_th']} ({copy})",
                           "contact_email": f"{user}+{copy}@{domain}"})
    return offices + chosen


def load_registry(stack: Stack, work_dir: Path, scale: float = 1.0) -> int:
    """Load the registry at ``scale`` through the plans CLI (one transaction, events through the
    outbox like any change); returns the number of LAOs under DLA."""
    rows = registry_at_scale(scale)
    path = Path(work_dir) / f"registry-{scale:g}.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), "utf-8")
    run_cli(stack, "-m", "services.plans.cli", "import-units", str(path))
    return sum(1 for row in rows if row["level"] == "lao" and row["parent_code"] != "MOI")


def login(stack: Stack, username: str, password: str) -> requests.Session:
    """A requests session carrying a bearer token of ``username``."""
    session = requests.Session()
    response = session.post(f"{stack.gateway_url}/api/v1/auth/token",
                            json={"username": username, "password": password}, timeout=30)
    response.raise_for_status()
    session.headers["Authorization"] = f"Bearer {response.json()['token']}"
    return session


def messages_consumed(stack: Stack) -> dict[str, float]:
    """Messages each service's consumers have settled so far (``thongthin_messages_consumed_total``
    of its /metrics, every event type and outcome)."""
    totals = {}
    for name in stack.processes:
        try:
            text = requests.get(f"{stack.url(name)}/metrics", timeout=10).text
        except requests.RequestException:
            continue
        totals[name] = sum(sample.value for family in text_string_to_metric_families(text)
                           for sample in family.samples if sample.name == "thongthin_messages_consumed_total")
    return totals


def run_cli(stack: Stack, *args: str) -> str:
    result = subprocess.run([sys.executable, *args], env=stack.env(), cwd=REPO_ROOT, check=True,
                            capture_output=True, text=True)
    return result.stdout


def outbox_pending(url: str) -> int:
    """Rows of a service's outbox not yet published."""
    engine = create_engine(url)
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(outbox)
                                   .where(outbox.c.published_at.is_(None))).scalar_one()
    engine.dispose()
    return count


def wait_queues_empty(node, stack=None, timeout: float = 600, vhost: str = "/") -> float:
    """Seconds until the platform is idle: every work queue empty (ready and unacknowledged) and,
    given the stack, every service's outbox published, seen twice in a row. Events written by
    this process (the sweep) wait in an outbox until that service's relay polls: queues alone
    read empty before they are even published."""
    started = time.monotonic()
    idle_once = False
    while time.monotonic() - started < timeout:
        depths = node.queue_depths(vhost)
        idle = all(depth == 0 for name, depth in depths.items() if name.endswith(".events")) and (
            stack is None or not any(outbox_pending(url) for url in stack.database_urls.values()))
        if idle and idle_once:
            return time.monotonic() - started
        idle_once = idle
        time.sleep(0.5)
    raise TimeoutError(f"queues not drained in {timeout}s: {node.queue_depths(vhost)}")


def machine() -> str:
    cpus = os.cpu_count()
    try:
        total = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1]) // 1024 // 1024
    except (OSError, StopIteration):
        total = "?"
    return f"{platform.node()}: {cpus} cores, {total} GiB, {platform.python_implementation()} {platform.python_version()}"


def report(title: str, rows: list[tuple[str, str, str]], figures: dict) -> None:
    """A table for people, then one JSON line with every figure (the last line of output)."""
    width = max(len(r[0]) for r in rows)
    print(f"\n{title}\n{'=' * len(title)}")
    for name, value, target in rows:
        print(f"  {name:<{width}}  {value:>14}  {target}")
    print(json.dumps(figures, ensure_ascii=False))
