"""shared.runner as a supervisor sees it (issue #17), with real processes: a container that dies
ends the process at once with a non-zero status; /health answers 503 at once while the process
is stopping; a stop never takes longer than its grace."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests
from sqlalchemy import create_engine

from devtools.stack import free_port
from shared.config import REPO_ROOT
from shared.messaging.tables import messaging_metadata
# Not from shared.runner: importing it monkey-patches this pytest process with eventlet, which
# then blocks every threaded test server that runs after it (tests/unit/test_ops.py hung so).
from shared.observability.lifecycle import EXIT_CONTAINER_DIED, EXIT_STOP_FORCED, EXIT_STOPPED

PROBE = "tests.unit.runner_probe:RunnerProbe"


class Probe:
    def __init__(self, tmp_path, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        database = f"sqlite:///{tmp_path / 'probe.db'}"
        engine = create_engine(database)
        messaging_metadata.create_all(engine)  # the relay polls the outbox
        engine.dispose()
        self.log = open(tmp_path / "probe.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "shared.runner", PROBE], cwd=REPO_ROOT, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "RUNNERPROBE_HTTP_ADDRESS": f"127.0.0.1:{self.port}",
                 "RUNNERPROBE_DATABASE_URL": database, "AMQP_URI": f"amqp://guest:guest@127.0.0.1:{free_port()}/",
                 "PYTHONPATH": str(REPO_ROOT), **env})
        self.log_path = tmp_path / "probe.log"

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"probe exited {self.process.returncode}: {self.log_text()}"
            try:
                if requests.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"probe not healthy after {timeout}s: {self.log_text()}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.log.close()


@pytest.fixture
def probe_factory(tmp_path):
    made = []

    def make(**env) -> Probe:
        probe = Probe(tmp_path, **env)
        made.append(probe)
        return probe
    yield make
    for probe in made:
        probe.close()


def test_a_container_that_dies_ends_the_process_at_once_with_a_failure_status(probe_factory):
    probe = probe_factory()
    probe.wait_healthy()
    requests.post(f"{probe.url}/die", timeout=5)
    started = time.monotonic()
    code = probe.process.wait(10)
    assert code == EXIT_CONTAINER_DIED, probe.log_text()
    assert time.monotonic() - started < 5
    assert "container_died" in probe.log_text()
    with pytest.raises(requests.ConnectionError):  # refused, not a socket that never answers
        requests.get(f"{probe.url}/health", timeout=2)


def test_health_answers_503_at_once_while_stopping_and_the_running_request_finishes(probe_factory):
    probe = probe_factory()
    probe.wait_healthy()
    answers = {}
    slow = threading.Thread(target=lambda: answers.update(
        slow=requests.get(f"{probe.url}/slow", params={"s": 4}, timeout=30)))
    slow.start()
    time.sleep(0.5)  # the slow request is in its worker
    probe.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 3
    health = None
    while time.monotonic() < deadline:
        asked = time.monotonic()
        health = requests.get(f"{probe.url}/health", timeout=2)
        took = time.monotonic() - asked
        if health.status_code == 503:
            break
        time.sleep(0.05)
    assert health is not None and health.status_code == 503, health.text if health else None
    assert took < 1.0
    assert health.json()["status"] == "stopping"
    assert probe.process.wait(20) == EXIT_STOPPED, probe.log_text()
    slow.join(10)
    assert answers["slow"].status_code == 200  # finished, not cut off


def test_a_stop_that_cannot_finish_ends_within_the_grace(probe_factory):
    probe = probe_factory(THONGTHIN_STOP_GRACE_S="3")
    probe.wait_healthy()
    def hold_a_request():
        try:
            requests.get(f"{probe.url}/slow", params={"s": 60}, timeout=90)
        except requests.RequestException:
            pass  # cut off by the forced stop: expected
    threading.Thread(target=hold_a_request, daemon=True).start()
    time.sleep(0.5)
    started = time.monotonic()
    probe.process.send_signal(signal.SIGTERM)
    code = probe.process.wait(15)
    took = time.monotonic() - started
    assert code == EXIT_STOP_FORCED, probe.log_text()
    assert took < 3.5, f"stop took {took:.1f}s with a 3 s grace"
    assert "stop_grace_exceeded" in probe.log_text()
