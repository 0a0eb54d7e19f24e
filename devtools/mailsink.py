"""A real SMTP server for development and tests (aiosmtpd) that keeps what it receives.

    python -m devtools.mailsink --port 8025 --dir var/mail     # every message saved as .eml
"""
from __future__ import annotations

import argparse
import email
import email.policy
import threading
import time
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller


class _Collector:
    def __init__(self, directory: Path | None):
        self.messages: list[EmailMessage] = []
        self.directory = directory
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)
            if self.directory is not None:
                self.directory.mkdir(parents=True, exist_ok=True)
                name = f"{time.time_ns()}-{len(self.messages)}.eml"
                (self.directory / name).write_bytes(envelope.content)
        return "250 OK"


class MailSink:
    def __init__(self, host: str = "127.0.0.1", port: int = 8025, directory: Path | None = None):
        self.collector = _Collector(directory)
        self.controller = Controller(self.collector, hostname=host, port=port)
        self.host, self.port = host, port

    def start(self) -> "MailSink":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        with self.collector.lock:
            return list(self.collector.messages)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    def wait_for(self, predicate, timeout: float = 30.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.messages):
                return self.messages
            time.sleep(0.2)
        raise TimeoutError(f"mail condition not met in {timeout}s; got {len(self.messages)} messages")


def main() -> None:
    parser = argparse.ArgumentParser(description="local SMTP sink")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", type=Path, default=Path("var/mail"))
    args = parser.parse_args()
    sink = MailSink(args.host, args.port, args.dir).start()
    print(f"mail sink on {args.host}:{args.port}, saving to {args.dir}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sink.stop()


if __name__ == "__main__":
    main()
