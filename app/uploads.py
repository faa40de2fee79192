"""Reading an uploaded file without a form-parsing dependency: multipart ``file`` part or raw body."""

from __future__ import annotations

import re
import uuid
from email import policy
from email.parser import BytesParser
from pathlib import Path

from fastapi import Request

from schemas.errors import InvalidInput


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name)[:80] or "upload"


def split_multipart(content_type: str, body: bytes) -> tuple[str, bytes]:
    """The first file part of a ``multipart/form-data`` body: (file name, bytes)."""
    message = BytesParser(policy=policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    if not message.is_multipart():
        raise InvalidInput("file: the multipart body could not be read")
    for part in message.iter_parts():
        filename = part.get_filename()
        if filename or part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return filename or "upload", payload if isinstance(payload, bytes) else b""
    raise InvalidInput("file: the form has no file part")


async def read_upload(request: Request, folder: Path, max_bytes: int) -> Path:
    """Save the uploaded file under ``folder`` and return its path."""
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise InvalidInput(f"file: larger than {max_bytes} bytes")
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        name, data = split_multipart(content_type, bytes(body))
    else:
        name, data = request.query_params.get("filename", "upload"), bytes(body)
    if not data:
        raise InvalidInput("file: the upload is empty")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex[:12]}-{_safe_name(name)}"
    path.write_bytes(data)
    return path
