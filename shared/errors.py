"""Errors that reach a caller: a stable code, the field at fault, a message in Thai and English.

They cross service boundaries intact (``shared.service_base`` registers them with nameko, which
rebuilds them from their args on the RPC caller's side) and the gateway turns them into
``application/problem+json`` responses. This module imports no framework: domains use it.
"""
from __future__ import annotations


class InputError(Exception):
    """Bad input: nothing was changed."""

    status = 400

    def __init__(self, code: str, field: str | None, message_th: str, message_en: str,
                 status: int | None = None, details: dict | None = None):
        super().__init__(code, field, message_th, message_en, status, details)
        self.code = code
        self.field = None if field in (None, "None") else field  # RPC carries args as strings
        self.message_th = message_th
        self.message_en = message_en
        if status is not None and status != "None":
            self.status = int(status)
        # what the caller needs to act on the error (e.g. the id of the document a duplicate repeats)
        self.details = details if isinstance(details, dict) else None

    def __str__(self) -> str:
        where = f" ({self.field})" if self.field else ""
        return f"{self.code}{where}: {self.message_en}"

    def as_problem(self) -> dict:
        return {"type": f"urn:thongthin:problem:{self.code}", "title": self.message_en,
                "status": self.status, "code": self.code, "field": self.field,
                "message_th": self.message_th, "message_en": self.message_en,
                "detail": f"{self.message_th} / {self.message_en}", **(self.details or {})}


def not_found(field: str, what_th: str, what_en: str, value) -> InputError:
    return InputError("not_found", field, f"ไม่พบ{what_th} {value}", f"{what_en} {value} not found",
                      status=404)


def invalid(field: str, message_th: str, message_en: str) -> InputError:
    return InputError("invalid", field, message_th, message_en, status=422)


def conflict(field: str | None, message_th: str, message_en: str) -> InputError:
    return InputError("conflict", field, message_th, message_en, status=409)


def forbidden(field: str | None, message_th: str, message_en: str) -> InputError:
    return InputError("forbidden", field, message_th, message_en, status=403)
