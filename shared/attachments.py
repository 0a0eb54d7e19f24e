"""Files people attach (a document's attachments, an LPA self-assessment's evidence): one set of
limits and one way to read them, so every upload in the platform answers the same way."""
from __future__ import annotations

import base64
import binascii
import hashlib

from shared.errors import InputError, invalid

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


def decode_attachment(content_base64: str, field: str = "content_base64") -> tuple[bytes, str]:
    """(the file's bytes, their SHA-256) from base64, or a 422 (not base64) / 413 (over 10 MB)."""
    try:
        content = base64.b64decode(content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(field, "ไฟล์แนบเสียหาย (base64 ไม่ถูกต้อง)", "attachment is not valid base64") from None
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise InputError("too_large", "file", "ไฟล์แนบใหญ่เกิน 10 MB", "attachment larger than 10 MB", status=413)
    return content, hashlib.sha256(content).hexdigest()


__all__ = ["MAX_ATTACHMENT_BYTES", "decode_attachment"]
