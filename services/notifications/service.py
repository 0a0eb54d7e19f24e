"""notifications: the nameko service. Entrypoints only translate: decode, call a use case, return.

Where each use case lives (two hops from here):
  consume             -> planning.py   (events plan and cancel messages; the map is planning.EVENT_HANDLERS)
  dispatch, *_now     -> dispatch.py   (claim -> send -> record; composing in compose.py)
  preferences, LINE,
  mark_read, chase,
  set_reminder_ladder -> people.py
  get_*, list_*,
  message_counts      -> views.py
The settings, channels and bound event handlers come from bootstrap.py, built once per container
when it sets up (nothing is read from the environment at import).
"""
from __future__ import annotations

import eventlet
from nameko.extensions import DependencyProvider, SharedExtension

from services.notifications import bootstrap, dispatch, people, views
from shared.messaging.nameko_ext import Inbox, config_timer, reliable_event_handler
from shared.service_base import ServiceBase, rpc


class Composition(SharedExtension):
    """The container's one ``bootstrap.Notifications`` (settings, channels, event handlers)."""

    app: bootstrap.Notifications | None = None

    def setup(self):
        self.app = bootstrap.bootstrap(self.container.config)

    def stop(self):
        if self.app is not None:
            self.app.channels.close()

    kill = stop


class App(DependencyProvider):
    """Gives a worker ``self.app``: the settings and channels bootstrap built."""

    composition = Composition()

    def get_dependency(self, worker_ctx):
        return self.composition.app


class BootstrappedInbox(Inbox):
    """The Inbox, with the event handlers bootstrap bound (known once the container has set up)."""

    composition = Composition()

    def __init__(self):
        super().__init__(handlers=None)

    def start(self):
        self.handlers = self.composition.app.event_handlers
        super().start()


class NotificationsService(ServiceBase):
    name = "notifications"
    inbox = BootstrappedInbox()
    app = App()

    @reliable_event_handler()
    def consume(self, messages: list[tuple[bytes, int]]):
        return self.inbox.process_batch(messages)

    def _dispatch(self) -> dict:
        settings = self.app.settings
        pool = eventlet.GreenPool(settings.send_concurrency)
        return dispatch.dispatch_due(self.uow.database, self.app.channels, settings, pool_map=pool.imap,
                                     clock=self.app.clock)

    @config_timer("SCHEDULER_INTERVAL_S", 10)
    def dispatch(self):
        return self._dispatch()

    @rpc
    def dispatch_now(self) -> dict:
        """Send what is due now (the timer does the same every THONGTHIN_SCHEDULER_INTERVAL_S)."""
        return self._dispatch()

    def _run(self, fn, *args, **kwargs):
        with self.uow() as uow:
            result = fn(uow, *args, **kwargs)
            uow.commit()
            return result

    # --- people, preferences, inbox -------------------------------------------------------------
    @rpc
    def get_preferences(self, user: dict) -> dict:
        with self.uow.database.session() as session:
            return views.get_preferences(session, user, self.app.settings)

    @rpc
    def upsert_person(self, user: dict, preferences: dict | None = None) -> dict:
        return self._run(people.upsert_person, user, preferences, self.app.settings)

    @rpc
    def list_inbox(self, user: dict, unread_only: bool = False, limit: int = 50, offset: int = 0) -> dict:
        with self.uow.database.session() as session:
            return views.list_inbox(session, user, unread_only=unread_only, limit=limit, offset=offset)

    @rpc
    def mark_read(self, user: dict, item_id: str) -> dict:
        return self._run(people.mark_read, user, item_id)

    @rpc
    def create_line_link(self, user: dict, target: str = "me") -> dict:
        return self._run(people.create_line_link, user, target, self.app.settings)

    @rpc
    def complete_line_link(self, code: str, line_id: str) -> dict:
        return self._run(people.complete_line_link, code, line_id)

    # --- operations -------------------------------------------------------------------------------
    @rpc
    def list_deliveries(self, filters: dict | None = None) -> dict:
        with self.uow.database.session() as session:
            return views.list_deliveries(session, filters or {})

    @rpc
    def chase(self, obligation_id: str, user: dict, scope_root: str | None) -> dict:
        return self._run(people.chase, obligation_id, user, scope_root, self.app.clock(), self.app.settings)

    @rpc
    def set_reminder_ladder(self, key: str, steps: list, updated_by: str | None = None) -> dict:
        return self._run(people.set_reminder_ladder, key, steps, updated_by)

    @rpc
    def list_reminder_ladders(self) -> dict:
        with self.uow.database.session() as session:
            return views.list_reminder_ladders(session, self.app.settings)

    @rpc
    def message_counts(self) -> dict:
        with self.uow.database.session() as session:
            return views.message_counts(session)
