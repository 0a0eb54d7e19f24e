"""notifications: the nameko service. Entrypoints only translate: decode, call a handler, return."""
from __future__ import annotations

import os
from datetime import timedelta

import eventlet
from nameko.extensions import DependencyProvider

from services.notifications import domain, handlers
from services.notifications.channels import Channels, EmailChannel, LineChannel, SmsChannel
from shared.config import env
from shared.contracts import utcnow
from shared.messaging.nameko_ext import Inbox, config_timer, reliable_event_handler
from shared.service_base import ServiceBase, rpc


def _raw(name: str) -> str | None:
    """The variable as set: unlike ``env``, an empty string is a value (e.g. no quiet hours)."""
    return os.environ.get(name)


def settings_from_env(public_url: str | None = None) -> handlers.Settings:
    """Every THONGTHIN_* knob of notifications (see docs/notifications.md). Fails fast on nonsense."""
    defaults = handlers.Settings()
    ladder = env("THONGTHIN_REMINDER_LADDER")
    ack_ladder = env("THONGTHIN_ACK_REMINDER_LADDER")
    escalation = env("THONGTHIN_ESCALATION_LADDER")
    quiet = _raw("THONGTHIN_QUIET_HOURS")
    retry = env("THONGTHIN_NOTIFY_RETRY_S")
    return handlers.Settings(
        reminder_ladder=(domain.validate_ladder(ladder.split(","), "THONGTHIN_REMINDER_LADDER") if ladder
                         else defaults.reminder_ladder),
        ack_ladder=(domain.validate_ladder(ack_ladder.split(","), "THONGTHIN_ACK_REMINDER_LADDER") if ack_ladder
                    else defaults.ack_ladder),
        escalation_ladder=(domain.parse_escalation_ladder(escalation) if escalation
                           else defaults.escalation_ladder),
        ack_escalation_after=domain.parse_offset(env("THONGTHIN_ACK_ESCALATION_AFTER", "P1D")),
        directive_notice_delay=domain.parse_offset(env("THONGTHIN_DIRECTIVE_NOTICE_DELAY", "PT5M")),
        quiet_hours=(domain.parse_quiet_hours(quiet, "THONGTHIN_QUIET_HOURS") if quiet is not None
                     else defaults.quiet_hours),
        working_days_only=env("THONGTHIN_WORKING_DAYS_ONLY", "1") not in ("0", "false", "no", "off"),
        digest_at=domain.parse_time(env("THONGTHIN_DIGEST_TIME", "08:00"), "THONGTHIN_DIGEST_TIME"),
        daily_cap=int(env("THONGTHIN_DAILY_CAP", str(defaults.daily_cap))),
        retry_delays_s=tuple(float(x) for x in retry.split(",")) if retry else defaults.retry_delays_s,
        claim_lease=timedelta(seconds=float(env("THONGTHIN_CLAIM_LEASE_S", "600"))),
        batch_size=int(env("THONGTHIN_NOTIFY_BATCH", str(defaults.batch_size))),
        public_url=public_url or env("THONGTHIN_PUBLIC_URL", defaults.public_url))


SETTINGS = settings_from_env()
SEND_CONCURRENCY = int(env("THONGTHIN_SEND_CONCURRENCY", "8"))


def channels_from_config(config: dict) -> Channels:
    """E-mail always; LINE and SMS only when configured (otherwise fallback skips them)."""
    found = [EmailChannel(config["SMTP_HOST"], int(config["SMTP_PORT"]), config["MAIL_FROM"])]
    token = env("LINE_CHANNEL_ACCESS_TOKEN")
    if token:
        found.append(LineChannel(env("LINE_API_BASE_URL", "https://api.line.me"), token))
    sms_url = env("SMS_GATEWAY_URL")
    if sms_url:
        found.append(SmsChannel(sms_url, env("SMS_GATEWAY_TOKEN"), env("SMS_SENDER", "Thongthin"),
                                idempotent=env("SMS_GATEWAY_IDEMPOTENT", "0") in ("1", "true", "yes")))
    return Channels(*found)


class ChannelsProvider(DependencyProvider):
    def setup(self):
        self.channels = channels_from_config(self.container.config)

    def stop(self):
        self.channels.close()

    def kill(self):
        self.channels.close()

    def get_dependency(self, worker_ctx):
        return self.channels


class NotificationsService(ServiceBase):
    name = "notifications"
    inbox = Inbox(handlers.make_event_handlers(SETTINGS))
    channels = ChannelsProvider()

    @reliable_event_handler()
    def consume(self, messages: list[tuple[bytes, int]]):
        return self.inbox.process_batch(messages)

    def _dispatch(self) -> dict:
        pool = eventlet.GreenPool(SEND_CONCURRENCY)
        return handlers.dispatch_due(self.uow.database, self.channels, SETTINGS, pool_map=pool.imap)

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
            return handlers.get_preferences(session, user, SETTINGS)

    @rpc
    def upsert_person(self, user: dict, preferences: dict | None = None) -> dict:
        return self._run(handlers.upsert_person, user, preferences, SETTINGS)

    @rpc
    def list_inbox(self, user: dict, unread_only: bool = False, limit: int = 50, offset: int = 0) -> dict:
        with self.uow.database.session() as session:
            return handlers.inbox(session, user, unread_only=unread_only, limit=limit, offset=offset)

    @rpc
    def mark_read(self, user: dict, item_id: str) -> dict:
        return self._run(handlers.mark_read, user, item_id)

    @rpc
    def create_line_link(self, user: dict, target: str = "me") -> dict:
        return self._run(handlers.create_line_link, user, target, SETTINGS)

    @rpc
    def complete_line_link(self, code: str, line_id: str) -> dict:
        return self._run(handlers.complete_line_link, code, line_id)

    # --- operations -------------------------------------------------------------------------------
    @rpc
    def list_deliveries(self, filters: dict | None = None) -> dict:
        with self.uow.database.session() as session:
            return handlers.list_deliveries(session, filters or {})

    @rpc
    def chase(self, obligation_id: str, user: dict, scope_root: str | None) -> dict:
        return self._run(handlers.chase, obligation_id, user, scope_root, utcnow(), SETTINGS)

    @rpc
    def set_reminder_ladder(self, key: str, steps: list, updated_by: str | None = None) -> dict:
        return self._run(handlers.set_reminder_ladder, key, steps, updated_by)

    @rpc
    def list_reminder_ladders(self) -> dict:
        with self.uow.database.session() as session:
            return handlers.list_reminder_ladders(session, SETTINGS)

    @rpc
    def message_counts(self) -> dict:
        with self.uow.database.session() as session:
            return handlers.message_counts(session)
