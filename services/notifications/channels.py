"""Delivery channels (adapters). ``send`` returns a SendResult or raises ChannelError.

Each channel says whether its provider de-duplicates on our idempotency key (``idempotent``):
only then may an attempt whose outcome is unknown be repeated (with the same key).

* e-mail: SMTP (smtplib), connections kept and reused across messages; no idempotency key in
  SMTP, so a failure after the message data was handed over is *uncertain* and never repeated.
  The Message-ID is derived from the key, so a copy would at least be recognisable.
* LINE: Messaging API push (one id) and multicast (several user ids) through line-bot-sdk, with
  ``X-Line-Retry-Key`` derived from the key: LINE answers 409 to a repeat it already accepted.
* SMS: a configurable HTTP gateway (contract in docs/notifications.md) with an
  ``Idempotency-Key`` header; idempotent only if the operator says the gateway honours it.
* in-app: written in the same database transaction that records the message as sent.
"""
from __future__ import annotations

import queue
import smtplib
import socket
import time
import uuid
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr

import requests

from services.notifications.rendering import Rendered

KEY_NAMESPACE = uuid.UUID("6f1f0a52-3c1e-4e5e-9d0a-6a1b7c1d2e3f")


def provider_key(dedupe_key: str, part: int | str = 0) -> str:
    """A UUID derived from the message's unique key: the same message always gets the same key."""
    return str(uuid.uuid5(KEY_NAMESPACE, f"{dedupe_key}|{part}"))


class _StaleConnection(Exception):
    """A kept SMTP connection turned out closed before anything was handed over."""


class ChannelError(Exception):
    """permanent: retrying this channel is pointless (fall back). uncertain: the provider may
    have accepted the message. retry_after: seconds the provider asked us to wait."""

    def __init__(self, reason: str, *, permanent: bool = False, uncertain: bool = False,
                 retry_after: float | None = None):
        super().__init__(reason)
        self.permanent, self.uncertain, self.retry_after = permanent, uncertain, retry_after


@dataclass(frozen=True)
class SendResult:
    provider_id: str | None = None
    duplicate: bool = False     # the provider had already accepted this key (a repeat absorbed)


def _retry_after(value) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


# --- e-mail -------------------------------------------------------------------------------------

class EmailChannel:
    name = "email"
    idempotent = False

    def __init__(self, host: str, port: int, mail_from: str, timeout: float = 10.0, max_idle: int = 16):
        self.host, self.port, self.mail_from, self.timeout = host, port, mail_from, timeout
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self.max_idle = max_idle
        name, email_address = parseaddr(mail_from)
        self._from_header = formataddr((name, email_address), charset="utf-8") if name else email_address

    def address(self, recipient: dict) -> str | None:
        return recipient.get("email") or None

    IDLE_CHECK_AFTER_S = 5.0

    def _connection(self) -> smtplib.SMTP:
        while True:
            try:
                connection, idle_since = self._idle.get_nowait()
            except queue.Empty:
                connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                connection.ehlo_or_helo_if_needed()
                return connection
            if time.monotonic() - idle_since < self.IDLE_CHECK_AFTER_S:
                return connection  # just used: a failure shows up as a refused MAIL, before any data
            try:
                if connection.noop()[0] == 250:
                    return connection
            except (smtplib.SMTPException, OSError):
                pass
            self._discard(connection)

    @staticmethod
    def _discard(connection) -> None:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - closing a broken connection
            pass

    def _release(self, connection) -> None:
        if self._idle.qsize() < self.max_idle:
            self._idle.put((connection, time.monotonic()))
        else:
            self._quit(connection)

    def _quit(self, connection) -> None:
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            self._discard(connection)

    def close(self) -> None:
        while True:
            try:
                self._quit(self._idle.get_nowait()[0])
            except queue.Empty:
                return

    def build(self, address: str, rendered: Rendered, key: str, *, eight_bit: bool = True) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.mail_from
        message["To"] = address
        message["Subject"] = rendered.subject
        # The same key always gives the same Message-ID: a copy is recognisable as one.
        message["Message-ID"] = f"<{provider_key(key)}@thongthin.test>"
        message["X-Thongthin-Key"] = provider_key(key)
        message.set_content(rendered.body, charset="utf-8", cte="8bit" if eight_bit else "base64")
        return message

    def encode(self, address: str, rendered: Rendered, key: str) -> tuple[bytes, str]:
        """The message as 8-bit MIME bytes (CRLF), built directly: the email package's generator
        costs more CPU than the SMTP exchange itself when thousands of reminders go out."""
        message_id = f"<{provider_key(key)}@thongthin.test>"
        body = rendered.body.replace("\r\n", "\n").replace("\n", "\r\n")
        if not body.endswith("\r\n"):
            body += "\r\n"
        head = (f"From: {self._from_header}\r\nTo: {address}\r\n"
                f"Subject: {Header(rendered.subject, 'utf-8', maxlinelen=76).encode(linesep=chr(13) + chr(10))}\r\n"
                f"Date: {formatdate(localtime=False)}\r\nMessage-ID: {message_id}\r\n"
                f"X-Thongthin-Key: {provider_key(key)}\r\nMIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
        return (head + body).encode("utf-8"), message_id

    def send(self, address: str, rendered: Rendered, key: str) -> SendResult:
        for attempt in (1, 2):
            try:
                connection = self._connection()
            except (smtplib.SMTPException, OSError) as exc:
                raise ChannelError(f"smtp connect: {exc!r}") from exc
            try:
                return self._transaction(connection, address, rendered, key)
            except _StaleConnection as exc:
                if attempt == 2:
                    raise ChannelError(f"smtp: {exc.__cause__!r}") from exc
        raise AssertionError("unreachable")

    def _transaction(self, connection, address: str, rendered: Rendered, key: str) -> SendResult:
        eight_bit = connection.has_extn("8bitmime") and \
            max(map(len, rendered.body.encode("utf-8").splitlines() or [b""])) < 990
        if eight_bit:
            data, message_id = self.encode(address, rendered, key)
        else:  # a server without 8BITMIME (or very long lines): base64 through the email package
            message = self.build(address, rendered, key, eight_bit=False)
            data, message_id = message.as_bytes(policy=message.policy.clone(linesep="\r\n")), message["Message-ID"]
        handed_over = False
        try:
            try:
                code, reply = connection.mail(self.mail_from, ["BODY=8BITMIME"] if eight_bit else [])
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                # a kept connection the server closed meanwhile: nothing was sent, try a fresh one
                self._discard(connection)
                raise _StaleConnection() from exc
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, reply, self.mail_from)
            code, reply = connection.rcpt(address)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({address: (code, reply)})
            handed_over = True  # from here on the server may keep the message even if we fail
            code, reply = connection.data(data)
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
        except smtplib.SMTPRecipientsRefused as exc:
            self._reset(connection)
            (code, reply), = exc.recipients.values()
            raise ChannelError(f"recipient refused: {code} {reply!r}", permanent=code >= 500) from exc
        except smtplib.SMTPResponseException as exc:
            self._reset(connection)
            # a refusal is a clear answer: nothing was delivered
            raise ChannelError(f"smtp {exc.smtp_code}: {exc.smtp_error!r}",
                               permanent=exc.smtp_code >= 500) from exc
        except (smtplib.SMTPException, OSError, socket.timeout) as exc:
            self._discard(connection)
            raise ChannelError(f"smtp: {exc!r}", uncertain=handed_over) from exc
        self._release(connection)
        return SendResult(provider_id=message_id)

    def _reset(self, connection) -> None:
        try:
            connection.rset()
            self._release(connection)
        except (smtplib.SMTPException, OSError):
            self._discard(connection)


# --- LINE ---------------------------------------------------------------------------------------

class LineChannel:
    """LINE Messaging API through line-bot-sdk (imported only when LINE is configured)."""

    name = "line"
    idempotent = True
    MULTICAST_LIMIT = 500

    def __init__(self, base_url: str, access_token: str, timeout: float = 10.0):
        from linebot.v3.messaging import ApiClient, Configuration, MessagingApi
        configuration = Configuration(host=base_url.rstrip("/"), access_token=access_token)
        configuration.retries = False  # our own retries, with the same retry key
        self._client = ApiClient(configuration)
        self._api = MessagingApi(self._client)
        self.timeout = timeout

    def address(self, recipient: dict) -> str | None:
        ids = recipient.get("line_ids") or []
        return ",".join(ids) if ids else None

    def send(self, address: str, rendered: Rendered, key: str) -> SendResult:
        from linebot.v3.messaging import MulticastRequest, PushMessageRequest, TextMessage
        ids = [part for part in address.split(",") if part]
        messages = [TextMessage(text=rendered.line_text())]
        users = [i for i in ids if i.startswith("U")]
        calls = [("push", [i], provider_key(key, f"line:{i}")) for i in ids if not i.startswith("U")]
        if len(users) == 1:
            calls.append(("push", users, provider_key(key, f"line:{users[0]}")))
        else:
            for start in range(0, len(users), self.MULTICAST_LIMIT):
                chunk = users[start:start + self.MULTICAST_LIMIT]
                calls.append(("multicast", chunk, provider_key(key, f"line:multicast:{start}")))
        request_ids, duplicates = [], 0
        for method, to, retry_key in calls:
            request_id, duplicate = self._call(method, to, messages, retry_key,
                                               PushMessageRequest, MulticastRequest)
            request_ids.append(request_id or "")
            duplicates += duplicate
        return SendResult(provider_id=",".join(request_ids)[:200], duplicate=duplicates == len(calls))

    def _call(self, method, to, messages, retry_key, push_request, multicast_request) -> tuple[str | None, bool]:
        from linebot.v3.messaging import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error
        try:
            if method == "push":
                response = self._api.push_message_with_http_info(
                    push_request(to=to[0], messages=messages), x_line_retry_key=retry_key,
                    _request_timeout=self.timeout)
            else:
                response = self._api.multicast_with_http_info(
                    multicast_request(to=to, messages=messages), x_line_retry_key=retry_key,
                    _request_timeout=self.timeout)
            return (response.headers or {}).get("x-line-request-id"), False
        except ApiException as exc:
            headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
            if exc.status == 409 and "x-line-accepted-request-id" in headers:
                return headers["x-line-accepted-request-id"], True  # accepted earlier: not resent
            reason = f"line {method} {exc.status}: {(exc.body or b'')[:300]!r}"
            if exc.status == 429 or (exc.status or 500) >= 500:
                raise ChannelError(reason, retry_after=_retry_after(headers.get("retry-after"))) from exc
            raise ChannelError(reason, permanent=True) from exc
        except (Urllib3Error, OSError) as exc:
            # the retry key makes a repeat safe, so an unknown outcome is just retried
            raise ChannelError(f"line {method}: {exc!r}") from exc


# --- SMS ----------------------------------------------------------------------------------------

class SmsChannel:
    """POST {url} JSON {to, text, sender, reference} with Authorization and Idempotency-Key."""

    name = "sms"

    def __init__(self, url: str, token: str | None, sender: str, *, idempotent: bool = False,
                 timeout: float = 10.0):
        self.url, self.token, self.sender, self.timeout = url, token, sender, timeout
        self.idempotent = idempotent
        self._session = requests.Session()

    def address(self, recipient: dict) -> str | None:
        return recipient.get("phone") or None

    def send(self, address: str, rendered: Rendered, key: str) -> SendResult:
        reference = provider_key(key, "sms")
        headers = {"Idempotency-Key": reference}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = self._session.post(self.url, timeout=self.timeout, headers=headers, json={
                "to": address, "text": rendered.sms_text(), "sender": self.sender, "reference": reference})
        except requests.ConnectionError as exc:
            if isinstance(exc, requests.ConnectTimeout) or "NewConnectionError" in repr(exc):
                raise ChannelError(f"sms connect: {exc!r}") from exc
            raise ChannelError(f"sms: {exc!r}", uncertain=True) from exc
        except requests.RequestException as exc:  # read timeout: the gateway may have it
            raise ChannelError(f"sms: {exc!r}", uncertain=True) from exc
        if response.status_code == 409:
            return SendResult(provider_id=_json_id(response), duplicate=True)
        if response.status_code == 429 or response.status_code >= 500:
            raise ChannelError(f"sms {response.status_code}: {response.text[:300]}",
                               retry_after=_retry_after(response.headers.get("Retry-After")))
        if response.status_code >= 400:
            raise ChannelError(f"sms {response.status_code}: {response.text[:300]}", permanent=True)
        return SendResult(provider_id=_json_id(response))

    def close(self) -> None:
        self._session.close()


def _json_id(response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    if isinstance(data, dict):
        value = data.get("id") or data.get("message_id")
        return str(value) if value is not None else None
    return None


# --- in-app -------------------------------------------------------------------------------------

class InAppChannel:
    """The in-app inbox: the dispatcher writes the item when it records the message as sent."""

    name = "inapp"
    idempotent = True

    def address(self, recipient: dict) -> str | None:
        return recipient["code"]

    def send(self, address: str, rendered: Rendered, key: str) -> SendResult:
        return SendResult(provider_id=None)


class Channels:
    """The channels this deployment has; LINE and SMS only when configured."""

    def __init__(self, *channels):
        self.by_name = {channel.name: channel for channel in channels}
        self.by_name.setdefault("inapp", InAppChannel())

    def get(self, name: str):
        return self.by_name.get(name)

    def close(self) -> None:
        for channel in self.by_name.values():
            close = getattr(channel, "close", None)
            if close:
                close()


__all__ = ["ChannelError", "Channels", "EmailChannel", "InAppChannel", "LineChannel", "SendResult",
           "SmsChannel", "provider_key"]
