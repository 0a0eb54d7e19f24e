"""Benchmark: one directive issued to every LAO of the national registry.

    python -m bench.directive_fanout [--db sqlite|postgres] [--scale 1.0]

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

from bench.common import (MemorySampler, bench_platform, load_registry, login, machine, outbox_pending, report,
                          wait_queues_empty)
from devtools.demo import DEMO_USERS, create_users


def issue_to_all_laos(stack, central, due: datetime, *, number: str = "มท ๐๘๑๐.๓/ว ๑๒๓๔",
                      urgency: str = "very_urgent", period: str = "2570-01") -> dict:
    """POST one directive to every LAO under DLA with a one-off report due at ``due``."""
    response = central.post(f"{stack.gateway_url}/api/v1/directives", timeout=300, json={
        "document_number": number, "document_date": "2026-11-21", "urgency": urgency,
        "subject_th": "ขอให้รายงานผลการเบิกจ่ายงบประมาณ", "text_th": "ให้ทุก อปท. รายงานผลการเบิกจ่าย",
        "addressees": {"level": "lao", "within": "DLA"},
        "reporting": {"indicator_code": "BUD-DISBURSED-PCT", "indicator_name_th": "ร้อยละการเบิกจ่าย",
                      "period": period, "due_at": due.isoformat()}})
    response.raise_for_status()
    return response.json()


def measure(stack, node, central) -> dict:
    """Step: one directive to every LAO; the registry is loaded and drained."""
    due = datetime.now(timezone.utc) + timedelta(days=10)
    started = time.monotonic()
    issued = issue_to_all_laos(stack, central, due)
    issue_s = time.monotonic() - started
    assignments = issued["assignment_count"]
    while outbox_pending(stack.database_urls["plans"]):
        time.sleep(0.05)
    fanout_s = time.monotonic() - started
    wait_queues_empty(node, stack)
    drained_s = time.monotonic() - started
    return {"directive_id": issued.get("directive_id"), "assignments": assignments, "issue_s": round(issue_s, 2),
            "directive_fanout_s": round(fanout_s, 2), "directive_consumers_drained_s": round(drained_s, 2),
            "directive_events_per_s_published": round(assignments / fanout_s, 1)}


def rows(figures: dict) -> list[tuple[str, str, str]]:
    fanout_s = figures["directive_fanout_s"]
    return [
        ("assignments", f"{figures['assignments']}", ""),
        ("issue (API call, one transaction)", f"{figures['issue_s']:.2f} s", ""),
        ("all assignment_created confirmed", f"{fanout_s:.2f} s",
         "target <= 30 s: " + ("met" if fanout_s <= 30 else "MISSED")),
        ("all consumers done (notifications queued)", f"{figures['directive_consumers_drained_s']:.2f} s", ""),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--scale", type=float, default=1.0, help="share of the registry's LAOs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tt-bench-") as work, \
            bench_platform(args.db, Path(work)) as (node, stack):
        create_users(stack.database_urls["gateway"])
        stack.start()
        with MemorySampler(stack) as memory:
            started = time.monotonic()
            load_registry(stack, Path(work), args.scale)
            registry_s = time.monotonic() - started
            while outbox_pending(stack.database_urls["plans"]):
                time.sleep(0.1)
            wait_queues_empty(node, stack)
            registry_drained_s = time.monotonic() - started
            central = login(stack, "central", DEMO_USERS[0][1])
            figures = measure(stack, node, central)
        figures.update({"db": args.db, "laos": figures["assignments"], "registry_load_s": round(registry_s, 2),
                        "registry_drained_s": round(registry_drained_s, 2),
                        "max_rss_mb": {name: round(mb, 1) for name, mb in memory.peak.items()},
                        "machine": machine()})
        report(f"Directive fan-out to every LAO ({args.db})", rows(figures) + [
            ("registry load / drained", f"{registry_s:.1f} / {registry_drained_s:.1f} s", ""),
            ("peak RSS (max service)", f"{max(memory.peak.values()):.0f} MB", "target < 300 MB"),
        ], figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
