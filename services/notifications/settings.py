"""What notifications can be told: ladders, quiet hours, digests, caps, retries, leases.

A plain frozen value. It is built once, by ``bootstrap.settings_from_env`` (every THONGTHIN_*
knob, see docs/notifications.md), and handed to the use cases that need it; no module reads the
environment at import. Tests build ``Settings(...)`` directly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta

from services.notifications import domain


@dataclass(frozen=True)
class Settings:
    reminder_ladder: list[str] = field(default_factory=lambda: ["-P7D", "-P3D", "-P1D", "MORNING"])
    ack_ladder: list[str] = field(default_factory=lambda: ["-P1D"])
    escalation_ladder: list[tuple[str, timedelta]] = field(default_factory=lambda: [
        ("lao_head", timedelta(days=1)), ("district", timedelta(days=3)), ("province", timedelta(days=7))])
    ack_escalation_after: timedelta = timedelta(days=1)
    # A notice of a new assignment that asks for a report waits this long: if a reminder of that
    # report reaches the recipient first, the notice is not sent (one message, not two).
    directive_notice_delay: timedelta = timedelta(minutes=5)
    quiet_hours: domain.QuietHours | None = domain.QuietHours(time(20, 0), time(7, 0))
    working_days_only: bool = True
    digest_at: time = time(8, 0)
    daily_cap: int = 20
    retry_delays_s: tuple[float, ...] = (30.0, 120.0, 600.0)  # per channel; then the next channel
    claim_lease: timedelta = timedelta(minutes=10)
    late_after: timedelta = timedelta(minutes=15)
    idempotency_window: timedelta = timedelta(hours=23)       # LINE keeps retry keys for 24 h
    batch_size: int = 500
    max_batches: int = 200
    public_url: str = "http://127.0.0.1:8000"
    link_code_ttl: timedelta = timedelta(minutes=15)
    send_concurrency: int = 8                                 # sends in flight at once (green threads)

    def window(self, recipient: dict | None = None) -> domain.SendWindow:
        """The recipient's send window: their own quiet hours if they chose some, else ours."""
        return domain.send_window(self.quiet_hours, self.working_days_only,
                                  recipient.get("quiet_hours") if recipient is not None else None)

    @property
    def attempts_per_channel(self) -> int:
        return len(self.retry_delays_s) + 1

    def link(self, path: str) -> str:
        """An absolute link into the web application."""
        return f"{self.public_url.rstrip('/')}/{path.lstrip('/')}"
