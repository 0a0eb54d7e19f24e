"""Users and API tokens: argon2 password hashes, hashed bearer tokens, lockout."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from services.gateway.models import api_tokens, login_failures, users
from shared.contracts import utcnow
from shared.errors import InputError

_hasher = PasswordHasher()
LOCKOUT_AFTER = 5
LOCKOUT_FOR = timedelta(minutes=15)
TOKEN_LIFETIME = timedelta(days=30)
SESSION_LIFETIME = timedelta(hours=12)
ROLES = ("central", "province", "district", "lao", "reviewer", "ops")


def wrong_credentials() -> InputError:
    return InputError("invalid_credentials", "password", "ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง",
                      "wrong username or password", status=401)


def unauthorized() -> InputError:
    return InputError("unauthorized", "Authorization", "ต้องเข้าสู่ระบบก่อน หรือโทเคนไม่ถูกต้อง",
                      "authentication required or token invalid", status=401)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(session, *, username: str, password: str, role: str, org_code: str,
                display_name: str) -> int:
    if role not in ROLES:
        raise InputError("invalid", "role", "บทบาทไม่ถูกต้อง", f"role must be one of {ROLES}", status=422)
    existing = session.execute(select(users.c.id).where(users.c.username == username)).first()
    values = dict(password_hash=_hasher.hash(password), role=role, org_code=org_code,
                  display_name=display_name, active=True)
    if existing:
        session.execute(update(users).where(users.c.id == existing[0]).values(**values))
        return existing[0]
    return session.execute(insert(users).values(username=username, created_at=utcnow(), **values)
                           ).inserted_primary_key[0]


def locked() -> InputError:
    return InputError("locked", "username", "บัญชีถูกล็อกชั่วคราวเพราะใส่รหัสผ่านผิดหลายครั้ง",
                      "account temporarily locked after repeated failures", status=429)


def login(session, username: str, password: str, *, token_name: str = "login") -> dict:
    """Verify a password and issue a token. Wrong passwords are counted per username whether or not
    the account exists (nothing is created in ``users``): after LOCKOUT_AFTER of them the name is locked
    for LOCKOUT_FOR and answers 429, so neither the answer nor its timing tells who exists."""
    now = utcnow()
    failed = session.execute(select(login_failures).where(login_failures.c.username == username)).mappings().first()
    if failed and failed["locked_until"] and failed["locked_until"] > now:
        raise locked()
    user = session.execute(select(users).where(users.c.username == username)).mappings().first()
    try:
        if user is None or not user["active"]:
            _hasher.hash(password)  # same cost as a real check: no user enumeration by timing
            raise VerifyMismatchError()
        _hasher.verify(user["password_hash"], password)
    except (VerifyMismatchError, InvalidHashError):
        _count_failure(session, username, failed, now)
        raise wrong_credentials() from None
    if failed:
        session.execute(delete(login_failures).where(login_failures.c.username == username))
    token = secrets.token_urlsafe(32)
    lifetime = SESSION_LIFETIME if token_name == "web-session" else TOKEN_LIFETIME
    session.execute(insert(api_tokens).values(token_hash=hash_token(token), user_id=user["id"],
                                              name=token_name, created_at=now, expires_at=now + lifetime))
    return {"token": token, "token_type": "Bearer", "expires_at": (now + lifetime).isoformat(),
            "user": principal(user)}


def _count_failure(session, username: str, failed, now) -> None:
    stale = failed is None or failed["last_failed_at"] < now - LOCKOUT_FOR  # an old run of failures is forgotten
    failures = 1 if stale else failed["failures"] + 1
    values = dict(failures=failures, last_failed_at=now,
                  locked_until=now + LOCKOUT_FOR if failures >= LOCKOUT_AFTER else None)
    session.execute(delete(login_failures).where(login_failures.c.last_failed_at < now - 2 * LOCKOUT_FOR))
    if failed is not None:
        session.execute(update(login_failures).where(login_failures.c.username == username).values(**values))
        return
    try:
        with session.begin_nested():  # two first failures at once: the second one counts as an update
            session.execute(insert(login_failures).values(username=username, **values))
    except IntegrityError:
        session.execute(update(login_failures).where(login_failures.c.username == username).values(
            failures=login_failures.c.failures + 1, last_failed_at=now))


def revoke(session, token: str) -> None:
    session.execute(update(api_tokens).where(api_tokens.c.token_hash == hash_token(token),
                                             api_tokens.c.revoked_at.is_(None)).values(revoked_at=utcnow()))


def principal(user, scopes: str = "read,write") -> dict:
    return {"username": user["username"], "role": user["role"], "org_code": user["org_code"],
            "display_name": user["display_name"], "scopes": scopes.split(",")}


def authenticate(session, authorization: str | None) -> dict:
    if not authorization or not authorization.startswith("Bearer "):
        raise unauthorized()
    row = session.execute(
        select(users, api_tokens.c.expires_at, api_tokens.c.revoked_at, api_tokens.c.scopes)
        .join(api_tokens, api_tokens.c.user_id == users.c.id)
        .where(api_tokens.c.token_hash == hash_token(authorization.removeprefix("Bearer ").strip()))
    ).mappings().first()
    if row is None or row["revoked_at"] or not row["active"] or (
            row["expires_at"] and row["expires_at"] < utcnow()):
        raise unauthorized()
    return principal(row, row["scopes"])


def create_token(session, username: str, *, name: str, scopes: list[str], days: int) -> dict:
    """A named API token for a machine client; only its hash is stored, the token is shown once."""
    if not set(scopes) <= {"read", "write"} or not scopes:
        raise InputError("invalid", "scopes", "scopes ต้องเป็น read หรือ read,write", "scopes must be read or read,write",
                         status=422)
    if not 1 <= days <= 366:
        raise InputError("invalid", "expires_in_days", "อายุโทเคนต้องอยู่ระหว่าง 1 ถึง 366 วัน",
                         "expires_in_days must be 1..366", status=422)
    user_id = session.execute(select(users.c.id).where(users.c.username == username)).scalar_one()
    token, now = secrets.token_urlsafe(32), utcnow()
    normalized = ",".join(sorted(set(scopes)))
    token_id = session.execute(insert(api_tokens).values(
        token_hash=hash_token(token), user_id=user_id, name=name[:64], scopes=normalized, created_at=now,
        expires_at=now + timedelta(days=days))).inserted_primary_key[0]
    return {"id": token_id, "token": token, "name": name[:64], "scopes": normalized.split(","),
            "expires_at": (now + timedelta(days=days)).isoformat()}


def list_tokens(session, username: str) -> list[dict]:
    rows = session.execute(select(api_tokens).join(users, users.c.id == api_tokens.c.user_id)
                           .where(users.c.username == username, api_tokens.c.name != "web-session")
                           .order_by(api_tokens.c.created_at.desc())).mappings().all()
    return [{"id": r["id"], "name": r["name"], "scopes": r["scopes"].split(","),
             "created_at": r["created_at"].isoformat(), "expires_at": r["expires_at"].isoformat() if r["expires_at"] else None,
             "revoked": r["revoked_at"] is not None} for r in rows]


def revoke_token(session, username: str, token_id: int) -> None:
    row = session.execute(select(api_tokens.c.id).join(users, users.c.id == api_tokens.c.user_id)
                          .where(users.c.username == username, api_tokens.c.id == token_id)).first()
    if row is None:
        raise InputError("not_found", "token_id", "ไม่พบโทเคน", "token not found", status=404)
    session.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=utcnow()))
