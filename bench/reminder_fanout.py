"""Benchmark: a reminder to every LAO of the national registry, through a real SMTP server.

    python -m bench.reminder_fanout [--db sqlite|postgres] [--concurrency 8]

On a throwaway RabbitMQ node with fresh databases, every service a real process and a local SMTP
server (devtools.mailsink, aiosmtpd) in this process:
  1. the national registry (plans CLI), drained into every consumer (notifications keeps its copy);
  2. one directive to every LAO with a one-off report due in two hours; the reminder ladder is
     ``-P1D`` so its only step is already due when each obligation opens (sent at once, marked late);
  3. measured: from the first ``obligation_opened`` (its outbox time in assessments) until the
     SMTP server has received the last reminder — target <= 60 s — and peak RSS per service.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
from sqlalchemy import create_engine, func, select

from bench.common import MemorySampler, Sampler, bench_platform, machine, report, run_cli, wait_queues_empty
from devtools.demo import DEMO_USERS, create_users
from devtools.mailsink import MailSink
from devtools.stack import free_port
from shared.messaging.tables import outbox

REMINDER_PREFIX = "[แจ้งเตือน]"


def _aware(moment) -> datetime | None:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def outbox_stats(url: str, event_type: str) -> tuple[int, datetime | None, datetime | None]:
    """How many events of a type a service wrote to its outbox, the first and the last time."""
    engine = create_engine(url)
    with engine.connect() as connection:
        count, first, last = connection.execute(
            select(func.count(), func.min(outbox.c.created_at), func.max(outbox.c.created_at))
            .where(outbox.c.event_type == event_type)).one()
    engine.dispose()
    return count, _aware(first), _aware(last)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (from /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (FileNotFoundError, IndexError, ValueError):
        return 0.0


class ReminderClock(Sampler):
    """Watches the mail sink and notes the wall time at which each reminder arrived."""

    interval = 0.05

    def __init__(self, sink: MailSink):
        super().__init__()
        self.sink = sink
        self.arrivals: list[float] = []
        self._seen = 0

    def sample(self) -> None:
        messages = self.sink.messages
        now = time.time()
        for message in messages[self._seen:]:
            if str(message["Subject"]).startswith(REMINDER_PREFIX):
                self.arrivals.append(now)
        self._seen = len(messages)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent SMTP sends in notifications")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--keep", type=Path, help="keep the work directory (logs, SQLite files) here")
    args = parser.parse_args()
    sink = MailSink(port=free_port()).start()
    env = {"SMTP_PORT": str(sink.port), "THONGTHIN_REMINDER_LADDER": "-P1D", "THONGTHIN_QUIET_HOURS": "",
           "THONGTHIN_WORKING_DAYS_ONLY": "0", "THONGTHIN_SCHEDULER_INTERVAL_S": "1",
           "THONGTHIN_SEND_CONCURRENCY": str(args.concurrency)}
    try:
        with (nullcontext(str(args.keep)) if args.keep else tempfile.TemporaryDirectory(prefix="tt-bench-")) as work, \
                bench_platform(args.db, Path(work), extra_env=env) as (node, stack):
            create_users(stack.database_urls["gateway"])
            stack.start()
            with MemorySampler(stack) as memory:
                started = time.monotonic()
                print(run_cli(stack, "-m", "services.plans.cli", "national-registry").strip())
                wait_queues_empty(node)
                registry_s = time.monotonic() - started
                session = requests.Session()
                token = session.post(f"{stack.gateway_url}/api/v1/auth/token",
                                     json={"username": "central", "password": DEMO_USERS[0][1]}).json()["token"]
                session.headers["Authorization"] = f"Bearer {token}"
                due = datetime.now(timezone.utc) + timedelta(hours=2)
                cpu_before = {name: cpu_seconds(p.pid) for name, p in stack.processes.items()}
                with ReminderClock(sink) as clock:
                    issued_at = time.time()
                    response = session.post(f"{stack.gateway_url}/api/v1/directives", timeout=300, json={
                        "document_number": "มท ๐๘๑๐.๓/ว ๒๒๒๒", "document_date": "2026-11-21", "urgency": "urgent",
                        "subject_th": "ขอให้รายงานผลการเบิกจ่ายงบประมาณ", "text_th": "ให้ทุก อปท. รายงานผลการเบิกจ่าย",
                        "addressees": {"level": "lao", "within": "DLA"},
                        "reporting": {"indicator_code": "BUD-DISBURSED-PCT", "indicator_name_th": "ร้อยละการเบิกจ่าย",
                                      "period": "2570-01", "due_at": due.isoformat()}})
                    response.raise_for_status()
                    laos = response.json()["assignment_count"]
                    deadline = time.monotonic() + args.timeout
                    while len(clock.arrivals) < laos and time.monotonic() < deadline:
                        time.sleep(0.2)
                    time.sleep(1.0)  # anything beyond one per LAO would be a duplicate
                    arrivals = sorted(clock.arrivals)
                cpu = {name: round(cpu_seconds(p.pid) - cpu_before.get(name, 0.0), 1)
                       for name, p in stack.processes.items()}
                opened, first_opened, last_opened = outbox_stats(stack.database_urls["assessments"],
                                                                 "assessments.obligation_opened.v1")
                sent_events, _, _ = outbox_stats(stack.database_urls["notifications"],
                                                 "notifications.notification_sent.v1")
                wait_queues_empty(node)
        reminders = len(arrivals)
        keys = [m["X-Thongthin-Key"] for m in sink.messages if str(m["Subject"]).startswith(REMINDER_PREFIX)]
        start = first_opened.timestamp() if first_opened else issued_at
        fanout_s = (arrivals[-1] - start) if arrivals else float("nan")
        first_s = (arrivals[0] - start) if arrivals else float("nan")
        figures = {"db": args.db, "laos": laos, "reminders": reminders, "duplicates": len(keys) - len(set(keys)),
                   "obligations_opened": opened, "notification_sent_events": sent_events,
                   "reminder_fanout_s": round(fanout_s, 2), "first_reminder_s": round(first_s, 2),
                   "issue_to_last_reminder_s": round(arrivals[-1] - issued_at, 2) if arrivals else None,
                   "reminders_per_s": round(reminders / fanout_s, 1) if arrivals else 0,
                   "obligations_opened_over_s": round((last_opened - first_opened).total_seconds(), 2)
                   if first_opened and last_opened else None,
                   "last_opened_to_last_reminder_s": round(arrivals[-1] - last_opened.timestamp(), 2)
                   if arrivals and last_opened else None,
                   "cpu_s_during_fanout": cpu,
                   "registry_drained_s": round(registry_s, 2), "send_concurrency": args.concurrency,
                   "max_rss_mb": {name: round(mb, 1) for name, mb in memory.peak.items()},
                   "machine": machine()}
        met = reminders == laos and fanout_s <= 60
        report(f"Reminder to every LAO through SMTP ({args.db})", [
            ("LAOs / obligations opened", f"{laos} / {opened}", ""),
            ("reminders received (distinct)", f"{reminders} ({len(set(keys))})", "one per LAO, no duplicate"),
            ("first obligation_opened -> first reminder", f"{first_s:.2f} s", ""),
            ("first obligation_opened -> last reminder", f"{fanout_s:.2f} s",
             "target <= 60 s: " + ("met" if met else "MISSED")),
            ("  of which assessments opening them all", f"{figures['obligations_opened_over_s']} s", ""),
            ("  last obligation_opened -> last reminder", f"{figures['last_opened_to_last_reminder_s']} s", ""),
            ("CPU s notifications / all services", f"{cpu.get('notifications', 0)} / {sum(cpu.values()):.1f}", ""),
            ("peak RSS notifications", f"{memory.peak.get('notifications', 0):.0f} MB", "target < 300 MB"),
            ("peak RSS (max service)", f"{max(memory.peak.values()):.0f} MB", "target < 300 MB"),
        ], figures)
        return 0 if met else 1
    finally:
        sink.stop()


if __name__ == "__main__":
    raise SystemExit(main())
