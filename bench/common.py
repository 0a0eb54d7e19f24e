"""Shared pieces of the benchmarks: a throwaway broker and stack, memory sampling, reporting."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

from devtools.stack import Stack
from shared.config import REPO_ROOT, SERVICES


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


def run_cli(stack: Stack, *args: str) -> str:
    result = subprocess.run([sys.executable, *args], env=stack.env(), cwd=REPO_ROOT, check=True,
                            capture_output=True, text=True)
    return result.stdout


def wait_queues_empty(node, timeout: float = 600, vhost: str = "/") -> float:
    """Seconds until every work queue of the platform is empty."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        depths = node.queue_depths(vhost)
        if all(depth == 0 for name, depth in depths.items() if name.endswith(".events")):
            return time.monotonic() - started
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
