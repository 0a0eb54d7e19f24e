"""Delivery channels (adapters). Each send either succeeds or raises ChannelError."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formataddr, make_msgid


class ChannelError(Exception):
    def __init__(self, reason: str, *, permanent: bool = False):
        super().__init__(reason)
        self.permanent = permanent


class EmailChannel:
    name = "email"

    def __init__(self, host: str, port: int, mail_from: str, timeout: float = 10.0):
        self.host, self.port, self.mail_from, self.timeout = host, port, mail_from, timeout

    def send(self, address: str, subject: str, body: str, *, idempotency_key: str) -> str:
        message = EmailMessage()
        message["From"] = self.mail_from
        message["To"] = address
        message["Subject"] = subject
        # The same key always gives the same Message-ID: a copy is recognisable as one.
        message["Message-ID"] = make_msgid(idstring=idempotency_key.replace("|", "."),
                                           domain="thongthin.test")
        message.set_content(body, charset="utf-8")
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise ChannelError(f"recipient refused: {exc.recipients}", permanent=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelError(f"smtp: {exc!r}") from exc
        return message["Message-ID"]


__all__ = ["ChannelError", "EmailChannel", "formataddr"]
