"""Periodic work: the deadline sweep (``deadline missed``, once per obligation), the acknowledgement
sweep (``acknowledgement overdue``, once per assignment) and rolling every rule's obligations
forward to the horizon (``extend_all``). Each takes the database and runs its own units of work,
a batch per transaction, so several replicas may run them at once (``FOR UPDATE SKIP LOCKED`` and
conditional updates: tests/integration/test_sweep_replicas.py).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from services.assessments import domain
from services.assessments.domain import DEFAULTS, Settings
from services.assessments.domain import ObligationState as O
from services.assessments.models import obligations, rules, tracked_assignments
from services.assessments.obligations import generate_obligations
from shared.contracts import utcnow
from shared.contracts.events import AcknowledgementOverdue, DeadlineMissed
from shared.db import Database


def sweep_deadlines(database: Database, *, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Flag every obligation past its effective deadline without an accepted or pending
    submission, once, emitting ``deadline missed``.

    Each batch is one transaction. Rows are claimed with ``FOR UPDATE SKIP LOCKED`` and the state
    change is conditional, so two replicas sweeping at the same time never emit the same miss
    twice; a sweep after downtime simply finds everything overdue (catch-up)."""
    now = now or utcnow()
    total = 0
    while True:
        with database.unit_of_work() as uow:
            rows = uow.session.execute(
                select(obligations).where(obligations.c.state.in_(domain.SWEEPABLE), obligations.c.due_at < now)
                .order_by(obligations.c.due_at).limit(batch_size).with_for_update(skip_locked=True)).mappings().all()
            if not rows:
                return total
            missed = {row["id"]: row for row in rows
                      if domain.is_missed(row["state"], now, row["due_at"], row["extended_due_at"])}
            # One conditional statement per batch; only the rows it really changed get an event.
            changed = uow.session.execute(
                update(obligations).where(obligations.c.id.in_(list(missed)),
                                          obligations.c.state.in_(domain.SWEEPABLE))
                .values(state=O.MISSED, missed_at=now).returning(obligations.c.id)).scalars().all() if missed else []
            for obligation_id in changed:
                row = missed[obligation_id]
                uow.add_event(DeadlineMissed(
                    obligation_id=row["id"], unit_code=row["unit_code"], directive_id=row["directive_id"],
                    indicator_code=row["indicator_code"], period=row["period"],
                    due_at=domain.effective_due(row["due_at"], row["extended_due_at"]), detected_at=now),
                    correlation_id=row["correlation_id"])
            total += len(changed)
            uow.commit()
            if len(rows) < batch_size or not missed:
                return total


def sweep_acknowledgements(database: Database, *, now: datetime | None = None, batch_size: int = 1000) -> int:
    """Assignments not acknowledged by their deadline: ``acknowledgement overdue``, once each."""
    now = now or utcnow()
    total = 0
    while True:
        with database.unit_of_work() as uow:
            rows = uow.session.execute(
                select(tracked_assignments).where(tracked_assignments.c.state == "waiting",
                                                  tracked_assignments.c.acknowledge_due_at < now)
                .limit(batch_size).with_for_update(skip_locked=True)).mappings().all()
            for row in rows:
                if uow.session.execute(update(tracked_assignments).where(
                        tracked_assignments.c.assignment_id == row["assignment_id"],
                        tracked_assignments.c.state == "waiting").values(state="overdue", overdue_at=now)).rowcount:
                    uow.add_event(AcknowledgementOverdue(
                        assignment_id=row["assignment_id"], directive_id=row["directive_id"],
                        unit_code=row["unit_code"], acknowledge_due_at=row["acknowledge_due_at"], detected_at=now),
                        correlation_id=row["correlation_id"])
                    total += 1
            uow.commit()
            if len(rows) < batch_size:
                return total



def extend_all(database: Database, *, settings: Settings = DEFAULTS, now: datetime | None = None) -> int:
    """Roll every rule's obligations forward to the horizon (a periodic job)."""
    with database.session() as session:
        rule_ids = session.execute(select(rules.c.id)).scalars().all()
    opened = 0
    for rule_id in rule_ids:
        with database.unit_of_work() as uow:
            opened += generate_obligations(uow, rule_id, settings=settings, now=now)
            uow.commit()
    return opened

