"""`make run`: migrate, start a mail sink and every service, load demo data, wait for Ctrl-C.

The RabbitMQ at AMQP_URI must be reachable (the Makefile starts a local node if it is not).
"""
from __future__ import annotations

import signal
import socket
import sys
import time
from pathlib import Path

from devtools import demo
from devtools.mailsink import MailSink
from devtools.stack import Stack
from shared.config import DEFAULT_HTTP_PORTS, SERVICES, amqp_uri, database_url, env, var_dir


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def main() -> int:
    started = time.monotonic()
    directory = var_dir()
    smtp_host, smtp_port = env("SMTP_HOST", "127.0.0.1"), int(env("SMTP_PORT", "8025"))
    sink = None
    if smtp_host in ("127.0.0.1", "localhost") and not port_open(smtp_host, smtp_port):
        sink = MailSink(smtp_host, smtp_port, Path(directory) / "mail").start()
    ports = {name: int(env(f"{name.upper()}_HTTP_ADDRESS", f"127.0.0.1:{DEFAULT_HTTP_PORTS[name]}")
                       .rsplit(":", 1)[1]) for name in SERVICES}
    busy = [f"{name} ({port})" for name, port in ports.items() if port_open("127.0.0.1", port)]
    if busy:
        print(f"ports already in use: {', '.join(busy)} — is the platform already running?", file=sys.stderr)
        return 1
    stack = Stack(amqp_uri=amqp_uri(), var_dir=directory, ports=ports,
                  database_urls={name: database_url(name) for name in SERVICES},
                  extra_env={"SMTP_HOST": smtp_host, "SMTP_PORT": str(smtp_port)})
    print("migrating databases ...", flush=True)
    stack.migrate()
    print("starting services ...", flush=True)
    stopping = []
    # Explicit handlers: a shell that starts us in the background may have SIGINT ignored.
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    try:
        stack.start(timeout=180)
        demo.load(stack.gateway_url)
        print(f"""
Thongthin is up in {time.monotonic() - started:.0f} s.

  Web UI         {stack.gateway_url}/
  API            {stack.gateway_url}/api/v1/      (health: {stack.gateway_url}/health)
  Services       """ + "  ".join(f"{n} {stack.url(n)}" for n in SERVICES if n != "gateway") + f"""
  Mail sink      smtp://{smtp_host}:{smtp_port}  (messages saved in {directory}/mail)
  Logs           {directory}/logs/

  Demo logins (username / password / role / unit):""", flush=True)
        for username, password, role, org, name in demo.DEMO_USERS:
            print(f"    {username:<15} {password:<20} {role:<9} {org:<11} {name}")
        print("\nPress Ctrl-C to stop.", flush=True)
        while not stopping:
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    print(f"{name} exited ({process.returncode}); see {directory}/logs/{name}.log",
                          file=sys.stderr)
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        print("\nstopping ...", flush=True)
        stack.stop()
        if sink:
            sink.stop()
        print("stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
