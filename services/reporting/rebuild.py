"""Rebuild every read model of reporting from the events it kept (event_log).

    python -m services.reporting.rebuild [--batch-size N]     # REPORTING_DATABASE_URL or var/reporting.db

The read models are emptied and the log is replayed, oldest first, through the same projection
code the live consumer runs (projection.project_many: batches of events folded set-based, exactly
the rows of one at a time), in ONE transaction: dashboards keep showing the old numbers until
the new ones commit, and a failure changes nothing. On PostgreSQL the log is locked against new
events for the duration (the live consumer waits and resumes afterwards); SQLite takes its single
writer lock for the same effect.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Callable

from sqlalchemy import delete, func, select, text

from services.reporting.models import (achievement, deliveries, directive_summary, directive_units, event_log,
                                       indicators, lpa_areas, lpa_follow_ups, lpa_results, lpa_rounds, obligations, periods,
                                       targets, unit_versions, units, values)
from services.reporting.projection import project_many
from shared.contracts import ContractError, decode
from shared.db import Database

# Everything projection writes; rebuild empties these and nothing else.
READ_MODELS = (directive_summary, directive_units, unit_versions, units, obligations, periods, indicators, targets,
               values, achievement, deliveries, lpa_rounds, lpa_results, lpa_areas, lpa_follow_ups)


def rebuild(database: Database, *, batch_size: int = 5000,
            progress: Callable[[int, int], None] | None = None) -> dict:
    """Recreate the read models from event_log. Returns {"events", "skipped", "tables": {name: rows},
    "seconds"}; ``progress(done, total)`` is called after every batch of ``batch_size`` events."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    started = time.perf_counter()
    with database.unit_of_work() as uow:
        session = uow.session
        if not database.is_sqlite:
            session.execute(text("LOCK TABLE event_log IN EXCLUSIVE MODE"))
        total = session.execute(select(func.count()).select_from(event_log)).scalar_one()
        for table in READ_MODELS:
            session.execute(delete(table))
        if progress:
            progress(0, total)
        done = skipped = 0
        last_seq = 0
        while True:
            rows = session.execute(select(event_log.c.seq, event_log.c.envelope).where(event_log.c.seq > last_seq)
                                   .order_by(event_log.c.seq).limit(batch_size)).all()
            if not rows:
                break
            items = []
            for _, body in rows:
                try:
                    items.append(decode(body))
                except ContractError:
                    skipped += 1  # a type this version no longer knows: it never reached a read model either
            project_many(session, items)  # the rows project() gives one at a time, set-based
            last_seq = rows[-1][0]
            done += len(rows)
            if progress:
                progress(done, total)
        tables = {table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
                  for table in READ_MODELS}
        uow.commit()
    return {"events": done, "skipped": skipped, "tables": tables,
            "seconds": round(time.perf_counter() - started, 3)}


def main(argv: list[str] | None = None) -> int:
    from shared.config import database_url
    parser = argparse.ArgumentParser(description="Rebuild reporting's read models from its event log")
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args(argv)
    database = Database(database_url("reporting"))

    def show(done: int, total: int) -> None:
        percent = 100 * done / total if total else 100
        print(f"\rreplayed {done:,}/{total:,} events ({percent:.0f} %)", end="", file=sys.stderr, flush=True)
    try:
        result = rebuild(database, batch_size=args.batch_size, progress=show)
    finally:
        database.dispose()
    print(file=sys.stderr)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
