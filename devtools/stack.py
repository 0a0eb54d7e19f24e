"""Start, stop and kill the services as real processes (used by `make run` and the e2e tests)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from shared.config import REPO_ROOT, SERVICES


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    amqp_uri: str
    var_dir: Path
    database_urls: dict[str, str] = field(default_factory=dict)  # default: SQLite under var_dir
    ports: dict[str, int] = field(default_factory=dict)           # default: free ports
    extra_env: dict[str, str] = field(default_factory=dict)
    services: tuple[str, ...] = SERVICES
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    replicas: dict[str, int] = field(default_factory=dict)        # default: one process per service

    def __post_init__(self):
        self.var_dir = Path(self.var_dir)
        (self.var_dir / "logs").mkdir(parents=True, exist_ok=True)
        for name in SERVICES:
            self.ports.setdefault(name, free_port())
            self.database_urls.setdefault(name, f"sqlite:///{self.var_dir / (name + '.db')}")

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update({"AMQP_URI": self.amqp_uri, "THONGTHIN_VAR_DIR": str(self.var_dir),
                    "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1",
                    "THONGTHIN_PUBLIC_URL": self.gateway_url})
        for name in SERVICES:
            env[f"{name.upper()}_DATABASE_URL"] = self.database_urls[name]
            env[f"{name.upper()}_HTTP_ADDRESS"] = f"127.0.0.1:{self.ports[name]}"
        env.update(self.extra_env)
        return env

    def migrate(self) -> None:
        subprocess.run([sys.executable, "-m", "shared.migrate", *SERVICES], env=self.env(), check=True,
                       cwd=REPO_ROOT, stdout=subprocess.DEVNULL)

    def start_service(self, name: str, replica: int = 0) -> subprocess.Popen:
        """Replica 0 is ``processes[name]`` on ``ports[name]``; replica i > 0 is another process of
        the same service (same database and queues), ``processes[f"{name}#{i}"]`` on a port of its own."""
        key = f"{name}#{replica}" if replica else name
        env = self.env()
        if replica:
            env[f"{name.upper()}_HTTP_ADDRESS"] = f"127.0.0.1:{free_port()}"
        log = open(self.var_dir / "logs" / f"{key}.log", "ab")
        process = subprocess.Popen([sys.executable, "-m", "shared.runner", name], env=env,
                                   cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes[key] = process
        return process

    def start(self, timeout: float = 120) -> None:
        for name in self.services:
            for replica in range(self.replicas.get(name, 1)):
                self.start_service(name, replica)
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 120, service: str = "gateway") -> None:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; see "
                                       f"{self.var_dir / 'logs' / (name + '.log')}")
            try:
                response = requests.get(f"{self.url(service)}/health", timeout=2)
                if response.status_code == 200:
                    return
                last = response.text
            except requests.RequestException as exc:
                last = repr(exc)
            time.sleep(0.3)
        raise TimeoutError(f"{service} not healthy after {timeout}s: {last}")

    def stop_service(self, name: str, grace: float = 20) -> int | None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def kill_service(self, name: str) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop(self, grace: float = 20) -> None:
        """SIGTERM to all at once (each finishes its running work), then wait; kill stragglers."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name in list(self.processes):
            process = self.processes.pop(name)
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def log(self, name: str) -> str:
        return (self.var_dir / "logs" / f"{name}.log").read_text("utf-8", errors="replace")
