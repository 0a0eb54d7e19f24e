"""The one composition root of notifications: settings, channels, clock and the event-handler map.

``bootstrap(config)`` is called once per service container when it sets up (never at import):
it reads every THONGTHIN_* knob (``settings_from_env``, see docs/notifications.md; nonsense fails
fast), builds the channel adapters from the container config and the environment, and binds each
event handler of ``planning.EVENT_HANDLERS`` to the settings and clock it asks for by keyword (the
Inbox calls them as ``(event, uow, envelope)``). Tests call ``event_handlers(Settings(...),
clock=...)`` with their own settings and clock.
"""
from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Callable

from services.notifications import domain, planning
from services.notifications.channels import Channels, EmailChannel, LineChannel, SmsChannel
from services.notifications.settings import Settings
from shared.config import env
from shared.contracts import utcnow


def _raw(name: str) -> str | None:
    """The variable as set: unlike ``env``, an empty string is a value (e.g. no quiet hours)."""
    return os.environ.get(name)


def settings_from_env(public_url: str | None = None) -> Settings:
    """Every THONGTHIN_* knob of notifications (see docs/notifications.md). Fails fast on nonsense."""
    defaults = Settings()
    ladder = env("THONGTHIN_REMINDER_LADDER")
    ack_ladder = env("THONGTHIN_ACK_REMINDER_LADDER")
    escalation = env("THONGTHIN_ESCALATION_LADDER")
    quiet = _raw("THONGTHIN_QUIET_HOURS")
    retry = env("THONGTHIN_NOTIFY_RETRY_S")
    return Settings(
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
        public_url=public_url or env("THONGTHIN_PUBLIC_URL", defaults.public_url),
        send_concurrency=int(env("THONGTHIN_SEND_CONCURRENCY", str(defaults.send_concurrency))))


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


def _bind(handler, **dependencies):
    """``handler`` as ``(event, uow, envelope)``: the dependencies it names among its parameters
    are given by keyword (cosmicpython's inject_dependencies). A set-based twin (``handles_many``)
    stays attached."""
    wanted = {name: value for name, value in dependencies.items()
              if name in inspect.signature(handler).parameters}
    if not wanted:
        return handler
    bound = partial(handler, **wanted)
    if hasattr(handler, "many"):
        bound.many = _bind(handler.many, **dependencies)
    return bound


def event_handlers(settings: Settings, clock: Callable[[], datetime] = utcnow) -> dict:
    """Event type -> ``(event, uow, envelope)`` handler, for the service's Inbox."""
    return {event_type: _bind(handler, settings=settings, clock=clock)
            for event_type, handler in planning.EVENT_HANDLERS.items()}


@dataclass(frozen=True)
class Notifications:
    """What the service's entrypoints are given: built once per container."""
    settings: Settings
    channels: Channels
    event_handlers: dict
    clock: Callable[[], datetime] = utcnow


def bootstrap(config: dict, *, settings: Settings | None = None, channels: Channels | None = None,
              clock: Callable[[], datetime] = utcnow) -> Notifications:
    """Settings from the environment (unless given), channels from ``config`` (unless given), and
    the event handlers bound to both."""
    settings = settings or settings_from_env()
    return Notifications(settings=settings, channels=channels or channels_from_config(config),
                         event_handlers=event_handlers(settings, clock), clock=clock)
