"""notifications: the nameko service. Entrypoints only translate: decode, call a handler, return."""
from __future__ import annotations

from nameko.extensions import DependencyProvider

from services.notifications import domain, handlers
from services.notifications.channels import EmailChannel
from shared.config import env
from shared.messaging.nameko_ext import Inbox, config_timer, reliable_event_handler
from shared.service_base import ServiceBase, rpc


def settings_from_env(public_url: str) -> handlers.Settings:
    defaults = handlers.Settings()
    ladder = env("THONGTHIN_REMINDER_LADDER")
    escalation = env("THONGTHIN_ESCALATION_LADDER")
    return handlers.Settings(
        reminder_ladder=[s.strip() for s in ladder.split(",")] if ladder else defaults.reminder_ladder,
        escalation_ladder=(domain.parse_escalation_ladder(escalation) if escalation
                           else defaults.escalation_ladder),
        public_url=public_url)


SETTINGS = settings_from_env(env("THONGTHIN_PUBLIC_URL", "http://127.0.0.1:8000"))


class Email(DependencyProvider):
    def setup(self):
        config = self.container.config
        self.channel = EmailChannel(config["SMTP_HOST"], int(config["SMTP_PORT"]), config["MAIL_FROM"])

    def get_dependency(self, worker_ctx):
        return self.channel


class NotificationsService(ServiceBase):
    name = "notifications"
    inbox = Inbox(handlers.make_event_handlers(SETTINGS))
    email = Email()

    @reliable_event_handler()
    def consume(self, body: bytes, attempt: int):
        return self.inbox.process(body, attempt)

    @config_timer("SCHEDULER_INTERVAL_S", 10)
    def dispatch(self):
        return handlers.dispatch_due(self.uow.database, self.email, SETTINGS)

    @rpc
    def message_counts(self) -> dict:
        with self.uow.database.session() as session:
            return handlers.message_counts(session)
