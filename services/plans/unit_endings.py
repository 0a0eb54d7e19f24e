"""What follows from a unit's ending (a closing, or a merger or split): its open assignments.

A unit that has ended keeps no open assignment: each is cancelled with the reason, and when the unit
ended by a merger or split each successor that exists is sent the same directive, unless it has it
already. The work follows the unit that took over; the ended unit's record stays as it was.
``settle_assignments`` runs when the ending is registered (unit_changes.RegistryPlan.write) if it has
taken effect; ``settle_ended_units`` is the timer's sweep for endings dated in the future.
"""
from __future__ import annotations

import json
from datetime import date

from sqlalchemy import select, update

from services.plans import domain
from services.plans.document_actions import create_assignments, draft_reporting
from services.plans.lookups import bangkok_today, domain_units, units_on
from services.plans.models import assignments, directives, documents, org_units
from shared.contracts import utcnow
from shared.contracts.events import AssignmentStateChanged
from shared.db import UnitOfWork

OPEN_STATES = (domain.S.ISSUED, domain.S.RECEIVED, domain.S.ACKNOWLEDGED, domain.S.FORWARDED, domain.S.IN_PROGRESS,
               domain.S.REPORTED)


def settle_assignments(uow: UnitOfWork, code: str, effective: date, kind: str, successors: list[str],
                       reason: str | None, today: date | None = None) -> None:
    """A unit that has ended (on or before today) keeps no open assignment: each is cancelled with
    the reason (AssignmentStateChanged), and when the unit ended by a merger or split each successor
    that exists now is sent the same directive (AssignmentCreated, same parent), unless it has it
    already: the work follows the unit that took over, and the ended unit's record stays as it was."""
    session = uow.session
    rows = session.execute(select(assignments).where(assignments.c.unit_code == code,
                                                     assignments.c.state.in_([str(s) for s in OPEN_STATES]))
                           ).mappings().all()
    if not rows:
        return
    successors_th = ", ".join(successors)
    note = (f"{kind}: {code} ended on {effective.isoformat()}" + (f", taken over by {successors_th}" if successors else "")
            + (f" ({reason})" if reason else ""))
    current = units_on(session, today)
    units = domain_units(current)
    now = utcnow()
    for row in rows:
        cancelled = uow.session.execute(update(assignments).where(
            assignments.c.id == row["id"], assignments.c.state == row["state"]).values(
            state=domain.S.CANCELLED, closed_at=now)).rowcount
        if not cancelled:  # settled meanwhile (another replica's sweep)
            continue
        uow.add_event(AssignmentStateChanged(assignment_id=row["id"], directive_id=row["directive_id"],
                                             unit_code=code, from_state=row["state"], to_state=str(domain.S.CANCELLED),
                                             at=now, note=note[:500]))
        targets = [s for s in successors if s in current]
        if not targets:
            continue
        already = set(session.execute(select(assignments.c.unit_code).where(
            assignments.c.directive_id == row["directive_id"], assignments.c.unit_code.in_(targets))).scalars())
        targets = [s for s in targets if s not in already]
        if not targets:
            continue
        directive = dict(session.execute(select(directives).where(directives.c.id == row["directive_id"])).mappings().one())
        document = dict(session.execute(select(documents).where(documents.c.id == directive["document_id"])).mappings().one())
        reporting = draft_reporting(directive, "reporting") if directive["reporting"] else None
        reporters = set(domain.reporting_units(targets, reporting.reporting_level, units)) & set(targets) \
            if reporting else set()
        create_assignments(uow, directive, document, targets, current, parent_assignment_id=row["parent_assignment_id"],
                           acknowledge_due_at=directive["acknowledge_due_at"], reporting=reporting,
                           reporters=reporters, now=now)


def settle_ended_units(uow: UnitOfWork, today: date | None = None) -> int:
    """The sweep for endings dated in the future when they were registered: every unit that no
    longer exists today (its last version ended on or before today) and still has open assignments
    is settled as on the day it ended (``settle_assignments``). Returns how many units were settled;
    the caller commits (a timer's use case: a unit of work and no message)."""
    today = today or bangkok_today()
    settled = 0
    session = uow.session
    open_codes = set(session.execute(select(assignments.c.unit_code).where(
        assignments.c.state.in_([str(s) for s in OPEN_STATES])).distinct()).scalars())
    for code in sorted(open_codes - set(units_on(session, today))):
        last = session.execute(select(org_units).where(org_units.c.code == code)
                               .order_by(org_units.c.valid_from.desc()).limit(1)).mappings().first()
        if last is None or last["valid_to"] is None or last["valid_to"] > today:
            continue  # not in the registry, or not ended
        settle_assignments(uow, code, last["valid_to"], last["end_kind"] or "closed",
                           json.loads(last["successor_codes"] or "[]"), last["reason"], today)
        settled += 1
    return settled
