"""Benchmark: one directive issued to every LAO of the national registry.

    python -m bench.directive_fanout [--db sqlite|postgres]

Measures, on a throwaway RabbitMQ node and fresh databases:
  * load of the national registry (plans CLI, one transaction, events through the outbox);
  * issue: the API call that creates every assignment (one transaction);
  * fan-out: from the call until every `assignment_created` event is confirmed by the broker
    (outbox empty) — target <= 30 s;
  * drain: until every consumer (assessments, notifications, reporting) has processed them.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
from sqlalchemy import create_engine, func, select

from bench.common import MemorySampler, bench_platform, machine, report, run_cli, wait_queues_empty
from devtools.demo import DEMO_USERS, create_users
from shared.messaging.tables import outbox


def outbox_pending(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))).scalar_one()
    engine.dispose()
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tt-bench-") as work, \
            bench_platform(args.db, Path(work)) as (node, stack):
        create_users(stack.database_urls["gateway"])
        stack.start()
        with MemorySampler(stack) as memory:
            started = time.monotonic()
            print(run_cli(stack, "-m", "services.plans.cli", "national-registry").strip())
            registry_s = time.monotonic() - started
            while outbox_pending(stack.database_urls["plans"]):
                time.sleep(0.1)
            wait_queues_empty(node)
            registry_drained_s = time.monotonic() - started
            session = requests.Session()
            token = session.post(f"{stack.gateway_url}/api/v1/auth/token",
                                 json={"username": "central", "password": DEMO_USERS[0][1]}).json()["token"]
            session.headers["Authorization"] = f"Bearer {token}"
            due = datetime.now(timezone.utc) + timedelta(days=10)
            started = time.monotonic()
            response = session.post(f"{stack.gateway_url}/api/v1/directives", timeout=300, json={
                "document_number": "มท ๐๘๑๐.๓/ว ๑๒๓๔", "document_date": "2026-11-21", "urgency": "very_urgent",
                "subject_th": "ขอให้รายงานผลการเบิกจ่ายงบประมาณ", "text_th": "ให้ทุก อปท. รายงานผลการเบิกจ่าย",
                "addressees": {"level": "lao", "within": "DLA"},
                "reporting": {"indicator_code": "BUD-DISBURSED-PCT", "indicator_name_th": "ร้อยละการเบิกจ่าย",
                              "period": "2570-01", "due_at": due.isoformat()}})
            response.raise_for_status()
            issue_s = time.monotonic() - started
            assignments = response.json()["assignment_count"]
            while outbox_pending(stack.database_urls["plans"]):
                time.sleep(0.05)
            fanout_s = time.monotonic() - started
            wait_queues_empty(node)
            drained_s = time.monotonic() - started
        figures = {"db": args.db, "laos": assignments, "registry_load_s": round(registry_s, 2),
                   "registry_drained_s": round(registry_drained_s, 2), "issue_s": round(issue_s, 2),
                   "directive_fanout_s": round(fanout_s, 2), "consumers_drained_s": round(drained_s, 2),
                   "events_per_s_published": round(assignments / fanout_s, 1),
                   "max_rss_mb": {name: round(mb, 1) for name, mb in memory.peak.items()},
                   "machine": machine()}
        report(f"Directive fan-out to every LAO ({args.db})", [
            ("assignments", f"{assignments}", ""),
            ("issue (API call, one transaction)", f"{issue_s:.2f} s", ""),
            ("all assignment_created confirmed", f"{fanout_s:.2f} s", "target <= 30 s: " + ("met" if fanout_s <= 30 else "MISSED")),
            ("all consumers done", f"{drained_s:.2f} s", ""),
            ("registry load / drained", f"{registry_s:.1f} / {registry_drained_s:.1f} s", ""),
            ("peak RSS (max service)", f"{max(memory.peak.values()):.0f} MB", "target < 300 MB"),
        ], figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
