"""Benchmark: a reminder to every LAO of the national registry, through a real SMTP server.

    python -m bench.reminder_fanout [--db sqlite|postgres] [--scale 1.0] [--concurrency 8]

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
import tempfile
import time
from contextlib import nullcontext
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import create_engine, func, select

from bench.common import (MemorySampler, Sampler, bench_platform, cpu_by_service, load_registry, login,
                          machine, report, wait_queues_empty)
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


class ReminderClock(Sampler):
    """Watches the mail sink and notes the wall time at which each reminder arrived (only mail
    that arrives after it starts)."""

    interval = 0.05

    def __init__(self, sink: MailSink):
        super().__init__()
        self.sink = sink
        self.arrivals: list[float] = []
        self.keys: list[str] = []
        self._seen = len(sink.messages)

    def sample(self) -> None:
        messages = self.sink.messages
        now = time.time()
        for message in messages[self._seen:]:
            if str(message["Subject"]).startswith(REMINDER_PREFIX):
                self.arrivals.append(now)
                self.keys.append(message["X-Thongthin-Key"])
        self._seen = len(messages)


def env(smtp_port: int, concurrency: int = 8) -> dict:
    """Settings of the notifications service for this benchmark: the ladder's only step (T-1d) is
    already due when an obligation due in two hours opens, so every LAO is reminded at once."""
    return {"SMTP_PORT": str(smtp_port), "THONGTHIN_REMINDER_LADDER": "-P1D", "THONGTHIN_QUIET_HOURS": "",
            "THONGTHIN_WORKING_DAYS_ONLY": "0", "THONGTHIN_SCHEDULER_INTERVAL_S": "1",
            "THONGTHIN_SEND_CONCURRENCY": str(concurrency)}


def measure(stack, node, central, sink: MailSink, timeout: float = 600) -> dict:
    """Step: a directive due in two hours to every LAO; until the SMTP server has every reminder."""
    from bench.directive_fanout import issue_to_all_laos
    due = datetime.now(timezone.utc) + timedelta(hours=2)
    cpu_before = cpu_by_service(stack)
    opened_before, _, _ = outbox_stats(stack.database_urls["assessments"], "assessments.obligation_opened.v1")
    with ReminderClock(sink) as clock:
        issued_at = time.time()
        issued = issue_to_all_laos(stack, central, due, number="มท ๐๘๑๐.๓/ว ๒๒๒๒", urgency="urgent",
                                   period="2570-02")
        laos = issued["assignment_count"]
        deadline = time.monotonic() + timeout
        while len(clock.arrivals) < laos and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # anything beyond one per LAO would be a duplicate
        arrivals, keys = sorted(clock.arrivals), list(clock.keys)
    cpu = {name: round(seconds - cpu_before.get(name, 0.0), 1) for name, seconds in cpu_by_service(stack).items()}
    # This directive's obligations are the newest: the first of them opened after ``issued_at``.
    first_opened, last_opened = _opened_between(stack.database_urls["assessments"], issued_at)
    opened, _, _ = outbox_stats(stack.database_urls["assessments"], "assessments.obligation_opened.v1")
    wait_queues_empty(node, stack)
    reminders = len(arrivals)
    start = first_opened.timestamp() if first_opened else issued_at
    fanout_s = (arrivals[-1] - start) if arrivals else float("nan")
    first_s = (arrivals[0] - start) if arrivals else float("nan")
    return {"reminder_laos": laos, "reminders": reminders, "reminder_duplicates": len(keys) - len(set(keys)),
            "reminder_obligations_opened": opened - opened_before,
            "reminder_fanout_s": round(fanout_s, 2), "first_reminder_s": round(first_s, 2),
            "issue_to_last_reminder_s": round(arrivals[-1] - issued_at, 2) if arrivals else None,
            "reminders_per_s": round(reminders / fanout_s, 1) if arrivals else 0,
            "obligations_opened_over_s": round((last_opened - first_opened).total_seconds(), 2)
            if first_opened and last_opened else None,
            "last_opened_to_last_reminder_s": round(arrivals[-1] - last_opened.timestamp(), 2)
            if arrivals and last_opened else None,
            "reminder_cpu_s": cpu}


def _opened_between(url: str, since: float) -> tuple[datetime | None, datetime | None]:
    engine = create_engine(url)
    with engine.connect() as connection:
        first, last = connection.execute(
            select(func.min(outbox.c.created_at), func.max(outbox.c.created_at))
            .where(outbox.c.event_type == "assessments.obligation_opened.v1",
                   outbox.c.created_at >= datetime.fromtimestamp(since, timezone.utc))).one()
    engine.dispose()
    return _aware(first), _aware(last)


def met(figures: dict) -> bool:
    return figures["reminders"] == figures["reminder_laos"] and figures["reminder_fanout_s"] <= 60


def rows(figures: dict) -> list[tuple[str, str, str]]:
    f = figures
    return [
        ("LAOs / obligations opened", f"{f['reminder_laos']} / {f['reminder_obligations_opened']}", ""),
        ("reminders received (duplicates)", f"{f['reminders']} ({f['reminder_duplicates']})", "one per LAO, no duplicate"),
        ("first obligation_opened -> first reminder", f"{f['first_reminder_s']:.2f} s", ""),
        ("first obligation_opened -> last reminder", f"{f['reminder_fanout_s']:.2f} s",
         "target <= 60 s: " + ("met" if met(f) else "MISSED")),
        ("  of which assessments opening them all", f"{f['obligations_opened_over_s']} s", ""),
        ("  last obligation_opened -> last reminder", f"{f['last_opened_to_last_reminder_s']} s", ""),
        ("CPU s notifications / all services",
         f"{f['reminder_cpu_s'].get('notifications', 0)} / {sum(f['reminder_cpu_s'].values()):.1f}", ""),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--scale", type=float, default=1.0, help="share of the registry's LAOs")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent SMTP sends in notifications")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--keep", type=Path, help="keep the work directory (logs, SQLite files) here")
    args = parser.parse_args()
    sink = MailSink(port=free_port()).start()
    try:
        with (nullcontext(str(args.keep)) if args.keep else tempfile.TemporaryDirectory(prefix="tt-bench-")) as work, \
                bench_platform(args.db, Path(work), extra_env=env(sink.port, args.concurrency)) as (node, stack):
            create_users(stack.database_urls["gateway"])
            stack.start()
            with MemorySampler(stack) as memory:
                started = time.monotonic()
                load_registry(stack, Path(work), args.scale)
                wait_queues_empty(node, stack)
                registry_s = time.monotonic() - started
                central = login(stack, "central", DEMO_USERS[0][1])
                figures = measure(stack, node, central, sink, args.timeout)
                sent_events, _, _ = outbox_stats(stack.database_urls["notifications"],
                                                 "notifications.notification_sent.v1")
        figures.update({"db": args.db, "laos": figures["reminder_laos"], "notification_sent_events": sent_events,
                        "registry_drained_s": round(registry_s, 2), "send_concurrency": args.concurrency,
                        "max_rss_mb": {name: round(mb, 1) for name, mb in memory.peak.items()},
                        "machine": machine()})
        report(f"Reminder to every LAO through SMTP ({args.db})", rows(figures) + [
            ("peak RSS notifications", f"{memory.peak.get('notifications', 0):.0f} MB", "target < 300 MB"),
            ("peak RSS (max service)", f"{max(memory.peak.values()):.0f} MB", "target < 300 MB"),
        ], figures)
        return 0 if met(figures) else 1
    finally:
        sink.stop()


if __name__ == "__main__":
    raise SystemExit(main())
