"""The one composition root of assessments: the settings, read from the environment when the
service starts (never at import), and what ``service.py`` wires from them: the event handler map
of the Inbox and the use cases that take settings, bound to them.

Event handlers are ``(event, uow, envelope)``; the set-based twin of ``AssignmentCreated``
(``handles_many``) is bound too. Command use cases are ``(command, uow)``; the entrypoints call
them through ``App.bind`` when they take settings (``review_submission``, ``decide_extension``).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial, update_wrapper

from nameko.extensions import DependencyProvider, SharedExtension

from services.assessments import copies, obligations
from services.assessments.domain import DEFAULTS, Settings
from shared.contracts.events import (AssignmentAcknowledged, AssignmentCreated, AssignmentStateChanged,
                                     OrgUnitChanged, PlanPublished, ReportingRulePublished, TargetSet)
from shared.messaging.nameko_ext import Inbox

# What the service consumes and the use case each event goes to (settings not yet bound).
EVENT_HANDLERS: Mapping[str, Callable] = {
    OrgUnitChanged.TYPE: copies.on_org_unit_changed,
    AssignmentCreated.TYPE: obligations.on_assignment_created,
    AssignmentAcknowledged.TYPE: obligations.on_assignment_acknowledged,
    AssignmentStateChanged.TYPE: obligations.on_assignment_state_changed,
    ReportingRulePublished.TYPE: obligations.on_reporting_rule_published,
    PlanPublished.TYPE: copies.on_plan_published,
    TargetSet.TYPE: copies.on_target_set,
}
# The use cases above that take ``settings``.
_TAKE_SETTINGS = {OrgUnitChanged.TYPE, AssignmentCreated.TYPE, ReportingRulePublished.TYPE}


def settings_from_env(environ: Mapping[str, str] = os.environ) -> Settings:
    """THONGTHIN_OBLIGATION_HORIZON_DAYS (default 45): how far ahead obligations are opened."""
    return Settings(horizon=timedelta(days=int(environ.get("THONGTHIN_OBLIGATION_HORIZON_DAYS",
                                                           DEFAULTS.horizon.days))))


def bind(use_case: Callable, settings: Settings) -> Callable:
    """``use_case`` with ``settings`` given, under its own name (the idempotency record of a command
    names its handler), and its set-based twin bound the same way."""
    def bound(*args, **kwargs):
        return use_case(*args, settings=settings, **kwargs)
    update_wrapper(bound, use_case)
    many = getattr(use_case, "many", None)
    if many is not None:
        bound.many = partial(many, settings=settings)
    return bound


@dataclass(frozen=True)
class App:
    settings: Settings
    event_handlers: Mapping[str, Callable] = field(default_factory=dict)

    def bind(self, use_case: Callable) -> Callable:
        return bind(use_case, self.settings)


def bootstrap(settings: Settings | None = None) -> App:
    """The service's parts, from ``settings`` (by default the environment's)."""
    settings = settings or settings_from_env()
    handlers = {event_type: bind(handler, settings) if event_type in _TAKE_SETTINGS else handler
                for event_type, handler in EVENT_HANDLERS.items()}
    return App(settings=settings, event_handlers=handlers)


class Composed(SharedExtension):
    """The ``App`` of one service container, bootstrapped once at its first use (after the
    container has started to set up, never at import); shared by the providers below."""

    _app: App | None = None

    @property
    def app(self) -> App:
        if self._app is None:
            self._app = bootstrap()
        return self._app


class Composition(DependencyProvider):
    """Gives each worker the container's ``App`` (settings and bound use cases)."""

    composed = Composed()

    def setup(self):
        self.composed.app  # noqa: B018  (built at setup: a bad setting stops the service from starting)

    def get_dependency(self, worker_ctx):
        return self.composed.app


class AssessmentsInbox(Inbox):
    """The Inbox whose handler map is the container's ``App``'s, not one built at import."""

    composed = Composed()

    def __init__(self):
        super().__init__(handlers={})

    def start(self):
        self.handlers = self.composed.app.event_handlers
        super().start()
