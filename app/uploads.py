"""Saving an uploaded file to disk as it streams in: the multipart ``file`` part, or the raw body.

Memory stays bounded whatever the size: the body is read chunk by chunk and written out, keeping
only a tail as long as the multipart boundary (a boundary split across two chunks must still be
found). The file is written by a thread, so a slow disk does not stall the event loop; past
``max_bytes`` the upload is refused and what was written is removed.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from email.message import Message
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import BinaryIO

from fastapi import Request

from schemas.errors import InvalidInput

_MAX_HEADERS = 16 * 1024  # bytes of a part's headers
_FLUSH = 1 << 20  # bytes gathered before one write


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name)[:80] or "upload"


def _boundary(content_type: str) -> bytes:
    message = Message()
    message["content-type"] = content_type
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not 1 <= len(boundary) <= 200:
        raise InvalidInput("file: the multipart body has no boundary")
    return boundary.encode("latin-1")


class _MultipartFile:
    """A push parser keeping the first file part of a ``multipart/form-data`` stream.

    States: ``preamble`` (before the first delimiter), ``headers`` (of a part), ``body`` (of the file
    part: written out), ``skip`` (another part's body), ``done``.
    """

    def __init__(self, boundary: bytes) -> None:
        self.delimiter = b"\r\n--" + boundary
        self.buffer = b"\r\n"  # the first delimiter has no CRLF before it
        self.state = "preamble"
        self.filename: str | None = None
        self.found = False

    def feed(self, data: bytes) -> bytes:
        """Take a chunk; return the bytes of the file part it completes."""
        self.buffer += data
        out = bytearray()
        while True:
            if self.state in {"preamble", "skip", "body"}:
                at = self.buffer.find(self.delimiter)
                if at < 0:
                    keep = len(self.delimiter) + 2  # a delimiter may start in the last bytes
                    if self.state == "body" and len(self.buffer) > keep:
                        out += self.buffer[:-keep]
                    if len(self.buffer) > keep:
                        self.buffer = self.buffer[-keep:]
                    return bytes(out)
                if self.state == "body":
                    out += self.buffer[:at]
                    self.found = True
                rest = self.buffer[at + len(self.delimiter) :]
                if len(rest) < 2:
                    self.buffer = self.buffer[at:]
                    return bytes(out)
                if rest.startswith(b"--") or self.found:
                    self.state, self.buffer = "done", b""
                    return bytes(out)
                self.buffer, self.state = rest, "headers"
            elif self.state == "headers":
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    if len(self.buffer) > _MAX_HEADERS:
                        raise InvalidInput("file: a multipart part has too long headers")
                    return bytes(out)
                headers = BytesHeaderParser().parsebytes(self.buffer[:end].lstrip(b"\r\n") + b"\r\n\r\n")
                self.buffer = self.buffer[end + 4 :]
                disposition = Message()
                disposition["content-disposition"] = headers.get("content-disposition", "")
                filename = disposition.get_param("filename", header="content-disposition")
                name = disposition.get_param("name", header="content-disposition")
                if isinstance(filename, str) or name == "file":
                    self.filename = filename if isinstance(filename, str) else "upload"
                    self.state = "body"
                else:
                    self.state = "skip"
            else:  # done: the epilogue is ignored
                self.buffer = b""
                return bytes(out)


async def save_upload(request: Request, folder: Path, max_bytes: int) -> Path:
    """Stream the uploaded file into ``folder`` and return its path (:class:`InvalidInput` when it is
    empty, larger than ``max_bytes`` or not a readable form)."""
    content_type = request.headers.get("content-type", "")
    multipart = content_type.startswith("multipart/form-data")
    parser = _MultipartFile(_boundary(content_type)) if multipart else None
    name = request.query_params.get("filename", "upload")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex[:12]}.part"
    received = 0
    written = 0
    pending = bytearray()
    file: BinaryIO = await asyncio.to_thread(path.open, "wb")
    try:
        async for chunk in request.stream():
            received += len(chunk)
            data = parser.feed(chunk) if parser is not None else chunk
            written += len(data)
            if written > max_bytes or received > max_bytes + 64 * 1024:
                raise InvalidInput(f"file: larger than {max_bytes} bytes")
            pending += data
            if len(pending) >= _FLUSH:
                await asyncio.to_thread(file.write, bytes(pending))
                pending.clear()
        if pending:
            await asyncio.to_thread(file.write, bytes(pending))
        await asyncio.to_thread(file.close)
        if parser is not None:
            if parser.filename is None:
                raise InvalidInput("file: the form has no file part")
            if not parser.found:
                raise InvalidInput("file: the multipart body could not be read")
            name = parser.filename
        if written == 0:
            raise InvalidInput("file: the upload is empty")
        final = path.with_name(f"{path.stem}-{_safe_name(name)}")
        path.rename(final)
        return final
    except BaseException:
        file.close()
        path.unlink(missing_ok=True)
        raise
