"""Configuration from the environment, with defaults that run everything on one machine."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("plans", "assessments", "notifications", "reporting", "gateway")
DEFAULT_HTTP_PORTS = {"gateway": 8000, "plans": 8001, "assessments": 8002, "notifications": 8003,
                      "reporting": 8004}
DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"


def var_dir() -> Path:
    return Path(os.environ.get("THONGTHIN_VAR_DIR", REPO_ROOT / "var"))


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def database_url(service: str) -> str:
    return env(f"{service.upper()}_DATABASE_URL") or f"sqlite:///{var_dir() / (service + '.db')}"


def http_address(service: str) -> str:
    return env(f"{service.upper()}_HTTP_ADDRESS") or f"127.0.0.1:{DEFAULT_HTTP_PORTS[service]}"


def amqp_uri() -> str:
    return env("AMQP_URI", DEFAULT_AMQP_URI)


def default_workers(service: str) -> int:
    """Concurrent handlers (and the consumer's prefetch). A SQLite database takes one writer at a
    time, so beyond a few green threads they only queue for its lock: measured on the reminder
    fan-out, 10 workers took 80 s and 3-4 about 60 s. The gateway mostly waits on other services."""
    if service != "gateway" and database_url(service).startswith("sqlite"):
        return 4
    return 10


def service_config(service: str) -> dict:
    """The nameko container config of one service."""
    return {
        "SERVICE": service,
        "AMQP_URI": amqp_uri(),
        "WEB_SERVER_ADDRESS": http_address(service),
        "DATABASE_URL": database_url(service),
        "max_workers": int(env("THONGTHIN_MAX_WORKERS", str(default_workers(service)))),
        "HEARTBEAT": int(env("THONGTHIN_AMQP_HEARTBEAT", "30")),
        "RELAY_INTERVAL_S": float(env("THONGTHIN_RELAY_INTERVAL_S", "0.5")),
        # Events handled per transaction when a backlog waits, and batches in flight at once
        # (empty: half the workers). See shared/messaging/nameko_ext.py ReliableEventHandler.
        "CONSUMER_BATCH_SIZE": int(env("THONGTHIN_CONSUMER_BATCH_SIZE", "100")),
        "CONSUMER_CONCURRENCY": int(env("THONGTHIN_CONSUMER_CONCURRENCY", "0")) or None,
        # how long an RPC caller (the gateway) waits for a reply before answering 503
        "RPC_TIMEOUT_S": float(env("THONGTHIN_RPC_TIMEOUT_S", "60")),
        # how long the gateway keeps the response of a write sent with an Idempotency-Key
        "IDEMPOTENCY_TTL_H": float(env("THONGTHIN_IDEMPOTENCY_TTL_H", "24")),
        "SWEEP_INTERVAL_S": float(env("THONGTHIN_SWEEP_INTERVAL_S", "30")),
        "SWEEP_BATCH_SIZE": int(env("THONGTHIN_SWEEP_BATCH_SIZE", "1000")),
        "SCHEDULER_INTERVAL_S": float(env("THONGTHIN_SCHEDULER_INTERVAL_S", "10")),
        "GENERATION_INTERVAL_S": float(env("THONGTHIN_GENERATION_INTERVAL_S", "3600")),
        # how often plans settles the open assignments of units whose dated closing or merger has come
        "REGISTRY_SETTLE_INTERVAL_S": float(env("THONGTHIN_REGISTRY_SETTLE_INTERVAL_S", "3600")),
        "SMTP_HOST": env("SMTP_HOST", "127.0.0.1"),
        "SMTP_PORT": int(env("SMTP_PORT", "8025")),
        "MAIL_FROM": env("MAIL_FROM", "Thongthin <no-reply@thongthin.test>"),
        "PUBLIC_URL": env("THONGTHIN_PUBLIC_URL", f"http://{http_address('gateway')}"),
        # Secure cookies need HTTPS: on behind a TLS proxy, off for http://127.0.0.1 development
        "COOKIE_SECURE": env("THONGTHIN_COOKIE_SECURE", "0") == "1",
        "SERVICE_URLS": {name: f"http://{http_address(name)}" for name in SERVICES},
    }
