"""Idempotent writes: a client that sends ``Idempotency-Key: <its own unique value>`` with a write
may send the same request again — after a timeout, a 503, a dropped connection — and gets the
first answer back instead of a second effect.

What is guaranteed, per caller and key (kept ``THONGTHIN_IDEMPOTENCY_TTL_H``, 24 h):

* A request answered with a final response (2xx, 4xx) is answered again with that response
  (``Idempotent-Replayed: true``), without calling any service.
* The same key with another method, path or body is refused (422 ``idempotency_key_reused``);
  while the first request is still running, a second copy is refused (409
  ``idempotency_in_progress``, ``Retry-After``) — never run twice at once.
* A request that ended in 5xx (the 503 of a lost reply) stores nothing: the retry runs again. Nor
  does one answered with a file: the retry answers it again.
* An answer that set cookies (logout) is replayed without them: the body is the same.
  The service may have committed the first attempt all the same, so every write RPC carries a
  key derived from (caller, key) in its worker context; the service stores its result with the
  effect, in one transaction (``shared.service_base.run_command``), and returns the stored
  result to the retry. A write sent without a key gets a fresh one per request, so that the
  broker redelivering a request whose reply was lost does not apply it twice either.

So: one effect per (caller, key) for the services' write RPCs (``run_command``); the gateway's
own writes (API tokens) are covered by the stored response only.
"""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta

import structlog
from nameko.extensions import DependencyProvider
from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from services.gateway.models import idempotency_keys
from shared.contracts import utcnow
from shared.errors import InputError
from shared.messaging.nameko_ext import DatabaseExtension
from shared.messaging.rpc import IDEMPOTENCY_KEY

log = structlog.get_logger(__name__)
_NOT_KEPT = object()

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 200


class IdempotentRequest:
    """One HTTP request's claim on its key; ``begin`` before the write, ``finish`` after it."""

    def __init__(self, worker_ctx, database, ttl: timedelta, lease: timedelta):
        self.worker_ctx, self.database, self.ttl, self.lease = worker_ctx, database, ttl, lease
        self.claim: dict | None = None     # username, key of the row we hold in progress

    def begin(self, request, user) -> tuple[int, dict] | None:
        """None to go ahead with the write, or the stored (status, body) to answer again.
        Raises InputError for a bad key, a key reused for another request, or one in progress."""
        key = request.headers.get(HEADER)
        if key is None:
            self.worker_ctx.data[IDEMPOTENCY_KEY] = uuid.uuid4().hex  # this request's RPCs, once each
            return None
        if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
            raise InputError("invalid", HEADER, f"{HEADER} ต้องเป็นอักขระ ASCII 1–{MAX_KEY_LENGTH} ตัว",
                             f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters", status=400)
        username = user["username"]
        self.worker_ctx.data[IDEMPOTENCY_KEY] = hashlib.sha256(f"{username}\n{key}".encode()).hexdigest()
        row = dict(username=username, key=key, method=request.method, path=request.path[:400],
                   request_hash=_request_hash(request))
        for _ in range(4):
            now = utcnow()
            try:
                with self.database.unit_of_work() as uow:
                    uow.session.execute(insert(idempotency_keys).values(
                        state="in_progress", created_at=now, locked_until=now + self.lease,
                        expires_at=now + self.ttl, **row))
                    uow.commit()
                self.claim = {"username": username, "key": key}
                return None
            except IntegrityError:
                pass  # the key is known: what became of it?
            stored = self._read(username, key)
            if stored is None:
                continue  # expired and purged meanwhile
            if stored["expires_at"] <= now:
                self._delete(username, key, expired_before=now)
                continue
            if (stored["method"], stored["path"], stored["request_hash"]) != (
                    row["method"], row["path"], row["request_hash"]):
                raise InputError("idempotency_key_reused", HEADER,
                                 f"{HEADER} นี้ใช้กับคำขออื่นไปแล้ว กรุณาใช้ค่าใหม่สำหรับคำขอใหม่",
                                 f"this {HEADER} was used for a different request; use a new key for a new request",
                                 status=422)
            if stored["state"] == "done":
                log.info("idempotent_replay", key=key, status=stored["status"])
                return stored["status"], json.loads(stored["response"]) if stored["response"] else None
            if stored["locked_until"] and stored["locked_until"] > now:
                raise InputError("idempotency_in_progress", HEADER,
                                 "คำขอเดียวกันนี้กำลังดำเนินการอยู่ กรุณาลองใหม่ภายหลัง",
                                 "a request with this key is still being processed; retry later", status=409)
            if self._take_over(username, key, stored["locked_until"], now):
                self.claim = {"username": username, "key": key}
                return None
        raise InputError("idempotency_in_progress", HEADER, "คำขอเดียวกันนี้กำลังดำเนินการอยู่ กรุณาลองใหม่ภายหลัง",
                         "a request with this key is still being processed; retry later", status=409)

    def finish(self, status: int, body) -> None:
        """Keep a final answer (< 500) for the retries; forget a failed attempt so it can run again.
        Never raises: the response has been decided already."""
        if self.claim is None:
            return
        claim, self.claim = self.claim, None
        if isinstance(body, Response):  # a complete answer (a file, cookies): kept only when it is JSON
            body = json.loads(body.get_data()) if body.mimetype in ("application/json", "application/problem+json") \
                else _NOT_KEPT
        try:
            if status < 500 and body is not _NOT_KEPT:
                with self.database.unit_of_work() as uow:
                    uow.session.execute(update(idempotency_keys).where(
                        idempotency_keys.c.username == claim["username"], idempotency_keys.c.key == claim["key"])
                        .values(state="done", status=status, locked_until=None,
                                response=json.dumps(body, ensure_ascii=False, default=str) if body is not None
                                else None))
                    uow.commit()
            else:
                self._delete(claim["username"], claim["key"])
        except Exception:  # noqa: BLE001 - the claim lapses with its lease; the answer stands
            log.warning("idempotency_finish_failed", status=status, exc_info=True)

    def _read(self, username: str, key: str) -> dict | None:
        with self.database.session() as session:
            row = session.execute(select(idempotency_keys).where(
                idempotency_keys.c.username == username, idempotency_keys.c.key == key)).mappings().first()
        return dict(row) if row else None

    def _delete(self, username: str, key: str, expired_before=None) -> None:
        condition = and_(idempotency_keys.c.username == username, idempotency_keys.c.key == key)
        if expired_before is not None:
            condition = and_(condition, idempotency_keys.c.expires_at <= expired_before)
        with self.database.unit_of_work() as uow:
            uow.session.execute(delete(idempotency_keys).where(condition))
            uow.commit()

    def _take_over(self, username: str, key: str, lapsed_lock, now) -> bool:
        """A claim whose lease lapsed (its gateway died mid-request) goes to the first retry."""
        with self.database.unit_of_work() as uow:
            taken = uow.session.execute(update(idempotency_keys).where(
                idempotency_keys.c.username == username, idempotency_keys.c.key == key,
                idempotency_keys.c.state == "in_progress", idempotency_keys.c.locked_until == lapsed_lock)
                .values(locked_until=now + self.lease)).rowcount
            uow.commit()
        return taken == 1


def _request_hash(request) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path, request.query_string or b""):
        digest.update(part if isinstance(part, bytes) else part.encode("utf-8"))
        digest.update(b"\0")
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def replayed_response(status: int, body) -> tuple:
    media = "application/problem+json" if status >= 400 else "application/json"  # as the first answer was
    return status, {"Content-Type": f"{media}; charset=utf-8", REPLAYED_HEADER: "true"}, json.dumps(
        body, ensure_ascii=False, default=str)


class Idempotency(DependencyProvider):
    """Gives a gateway worker ``self.idempotency``: the request's ``IdempotentRequest``."""

    database_ext = DatabaseExtension()

    def setup(self):
        config = self.container.config
        self.ttl = timedelta(hours=float(config.get("IDEMPOTENCY_TTL_H", 24)))
        # a claim outlives the longest wait on a service, so a live request is never taken over
        self.lease = timedelta(seconds=float(config.get("RPC_TIMEOUT_S", 60)) * 2 + 30)
        self._last_purge = None

    def get_dependency(self, worker_ctx):
        self._purge_expired()
        return IdempotentRequest(worker_ctx, self.database_ext.database, self.ttl, self.lease)

    def _purge_expired(self) -> None:
        now = utcnow()
        if self._last_purge is not None and now - self._last_purge < timedelta(minutes=10):
            return
        self._last_purge = now
        try:
            with self.database_ext.database.unit_of_work() as uow:
                uow.session.execute(delete(idempotency_keys).where(idempotency_keys.c.expires_at <= now))
                uow.commit()
        except Exception:  # noqa: BLE001 - purging is housekeeping; expired keys are ignored anyway
            log.warning("idempotency_purge_failed", exc_info=True)
