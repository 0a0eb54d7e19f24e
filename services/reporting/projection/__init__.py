"""Projection: the one writer of reporting's read models, fed by the events reporting consumes (the
live consumer and rebuild share it).

``PROJECTORS`` is the one place that names the event kinds: for each, the function that folds a
run of events of that kind into the read models (``many(session, [(envelope, event), ...])``) and
whether such an event may be gathered with the runs of other kinds. ``project(e)`` is
``project_many([e])``. The projectors live with their family:

- ``obligations`` (rm_obligations, rm_periods, rm_indicators), ``values`` (rm_values, rm_achievement);
- ``directives`` (the cascade: rm_directives, rm_directive_units);
- ``registry`` (rm_unit_versions, rm_units, and the keys they give every row; indicators, targets);
- ``notifications`` (rm_deliveries, reminder counts);
- ``lpa`` (the Local Performance Assessment: rm_lpa_rounds, rm_lpa_results with their ranks,
  rm_lpa_follow_ups); ``sql`` holds what they share.

Every statement is an upsert or a conditional update keyed by what the event is about, so that
- several events projected in one transaction (even for the same row) simply apply in turn;
- events arriving out of order converge to the same rows: each fact is kept as a min/max/flag
  (first and last submission, latest miss, latest extension...) and an obligation's status is a
  column the database computes from those facts on every write (models.STATUS_SQL);
- the inbox guarantees one projection per message; nothing here commits.
Statements are built once per dialect (shared.db.prepared): this runs for every platform event.
A run of events is written set-based (executemany in rounds, DBAPI upserts): the benchmarks and
rebuild depend on it, and it gives exactly the rows of one event at a time.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy import insert

from services.reporting.models import event_log
from services.reporting.projection import directives, lpa, notifications, obligations, registry
from shared.contracts import Envelope
from shared.contracts.events import (AssignmentAcknowledged, AssignmentCreated, AssignmentStateChanged,
                                     DeadlineMissed, DirectiveForwarded, DirectiveIssued, Event, ExtensionGranted,
                                     IndicatorSubmitted, LpaAssessmentFinalised, LpaAssessmentReturned,
                                     LpaFollowUpClosed, LpaFollowUpOpened, LpaResultsPublished, LpaRoundOpened,
                                     LpaSelfAssessmentSubmitted, NotificationFailed, NotificationSent, ObligationCancelled,
                                     ObligationOpened, OrgUnitChanged, PlanPublished, ReportingRulePublished,
                                     SubmissionReviewed, TargetSet)
from shared.db import UnitOfWork
from shared.messaging.inbox import handles_many

Items = list[tuple[Envelope, Event]]


@dataclass(frozen=True)
class Projector:
    """How one kind of event is folded into the read models.

    ``many(session, items)`` projects events of this kind, in their order. ``gathers(event)`` is
    True when the event's statements commute with those of every other gathered event but its own
    kind (each writes facts kept as min/max/flag/sum, or its own rows): project_many may then gather
    it with the other kinds' events of a run. Any other event is applied on its own, in place."""
    many: Callable[..., None]
    gathers: Callable[[Event], bool] = lambda event: False


def _each(*parts: Callable[..., None]) -> Callable[..., None]:
    def many(session, items: Items) -> None:
        for part in parts:
            part(session, items)
    return many


def _always(event: Event) -> bool:
    return True


# In the order a gathered run is written (kinds commute, so the order only makes the rows the same
# one run after another). Registry, plans, targets, directives and assignments are applied one at
# a time; so is a directive's obligation opening, which gives its cascade row the obligation id
# that notifications are counted by (counting before or after it differs).
PROJECTORS: dict[type[Event], Projector] = {
    ObligationOpened: Projector(_each(directives.obligation_opened, obligations.opened),
                                gathers=lambda event: not event.directive_id),
    IndicatorSubmitted: Projector(_each(directives.obligation_submitted, obligations.submitted), _always),
    DeadlineMissed: Projector(_each(directives.obligation_missed, obligations.missed), _always),
    ExtensionGranted: Projector(obligations.extended, _always),
    ObligationCancelled: Projector(obligations.cancelled, _always),
    SubmissionReviewed: Projector(obligations.returned, _always),
    NotificationSent: Projector(notifications.sent, _always),
    NotificationFailed: Projector(notifications.failed, _always),
    DirectiveIssued: Projector(directives.issued),
    AssignmentCreated: Projector(directives.assignment_created),
    AssignmentAcknowledged: Projector(directives.acknowledged),
    DirectiveForwarded: Projector(directives.forwarded),
    AssignmentStateChanged: Projector(directives.state_changed),
    OrgUnitChanged: Projector(registry.org_unit_changed),
    PlanPublished: Projector(registry.indicators_published),
    ReportingRulePublished: Projector(registry.indicators_published),
    TargetSet: Projector(registry.target_set),
    # the LPA: every fact kept by its event's time (projection.lpa), so each kind gathers; ranks are
    # recomputed after a run that may change them, whatever the order
    LpaRoundOpened: Projector(lpa.round_opened, _always),
    LpaSelfAssessmentSubmitted: Projector(lpa.self_assessment_submitted, _always),
    LpaAssessmentFinalised: Projector(lpa.assessment_finalised, _always),
    LpaAssessmentReturned: Projector(lpa.assessment_returned, _always),
    LpaResultsPublished: Projector(lpa.results_published, _always),
    LpaFollowUpOpened: Projector(lpa.follow_up_opened, _always),
    LpaFollowUpClosed: Projector(lpa.follow_up_closed, _always),
}


def project(session, envelope: Envelope, event: Event) -> None:
    """Fold one event into every read model it touches: ``project_many`` of one."""
    project_many(session, [(envelope, event)])


def project_many(session, items: Items) -> None:
    """Fold many events into the read models: exactly the rows ``project`` gives for each in turn,
    with a few set-based statements per kind of event instead of several per event (a consumer's
    batch, rebuild, bulk loads). Runs of gathered events are grouped by kind, each kind in its
    order; any other event is projected on its own, in place, so that it sees every event before it
    and none after. A kind without a projector changes no read model (it is only logged)."""
    run: dict[type, Items] = {}
    for envelope, event in items:
        projector = PROJECTORS.get(type(event))
        if projector is None:
            continue
        if projector.gathers(event):
            run.setdefault(type(event), []).append((envelope, event))
            continue
        _flush(session, run)
        projector.many(session, [(envelope, event)])
    _flush(session, run)


def _flush(session, run: dict[type, Items]) -> None:
    for kind, projector in PROJECTORS.items():
        if run.get(kind):
            projector.many(session, run[kind])
    run.clear()


# --- the consumer's handler: keep the event, then project it ---------------------------------------

_LOG_INSERT = insert(event_log)


def log_row(envelope: Envelope) -> dict:
    """The event_log row of an envelope (rebuild replays the log)."""
    return {"message_id": envelope.message_id, "event_type": envelope.type, "occurred_at": envelope.occurred_at,
            "correlation_id": envelope.correlation_id, "envelope": envelope.model_dump_json()}


def record_and_project_many(uow: UnitOfWork, items: Items) -> None:
    """Many events in one go (a consumer's batch, bulk loads): the log rows in one executemany, the
    read models through project_many (the rows record_and_project gives one at a time)."""
    if items:
        uow.session.execute(_LOG_INSERT, [log_row(envelope) for envelope, _ in items])
        project_many(uow.session, items)


@handles_many(record_and_project_many)
def record_and_project(event: Event, uow: UnitOfWork, envelope: Envelope) -> None:
    """Keep the event (rebuild replays the log) and fold it into the read models; never commits."""
    uow.session.execute(_LOG_INSERT, log_row(envelope))
    project(uow.session, envelope, event)
