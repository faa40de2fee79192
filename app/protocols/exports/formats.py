"""The export formats by name and media type, and the choice between them from ``?format=`` or
``Accept``. Every writer is a pure function of a :class:`~schemas.record.Record` and its links."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from schemas.errors import InvalidInput
from schemas.member import Member
from schemas.record import Record

from ...catalog import opac_link
from . import bibtex, csl, dc, marc, ris

Writer = Callable[[Record, Sequence[str]], bytes]
#: Several documents of a format as one (a result page's works): concatenated where the format is a
#: sequence of records (MARC 21, RIS, BibTeX), one container of them where it is a document.
Joiner = Callable[[Sequence[bytes]], bytes]


@dataclass(frozen=True)
class ExportFormat:
    name: str
    media_type: str
    extension: str
    write: Writer
    text: bool = True  # answered with "; charset=utf-8"
    also_accepted: tuple[str, ...] = ()  # other media types an Accept header may name it by
    join: Joiner = b"".join

    @property
    def content_type(self) -> str:
        return f"{self.media_type}; charset=utf-8" if self.text else self.media_type


EXPORTS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("marcxml", marc.MARCXML_MEDIA_TYPE, "xml", marc.to_marcxml, join=marc.join_marcxml),
        ExportFormat("marc", marc.MARC21_MEDIA_TYPE, "mrc", marc.to_marc21, text=False),
        ExportFormat("dc", dc.MEDIA_TYPE, "dc.xml", dc.to_dc, join=dc.join_dc),
        ExportFormat("ris", ris.MEDIA_TYPE, "ris", ris.to_ris),
        ExportFormat(
            "bibtex",
            bibtex.MEDIA_TYPE,
            "bib",
            bibtex.to_bibtex,
            also_accepted=("text/x-bibtex",),
            join=b"\n".join,  # a blank line between entries
        ),
        ExportFormat("csl-json", csl.MEDIA_TYPE, "json", csl.to_csl_json, join=csl.join_csl_json),
    )
}
JSON = "json"  # the record's own JSON, the default
ALLOWED = (JSON, *EXPORTS)
_BY_MEDIA = {m: f for f in EXPORTS.values() for m in (f.media_type, *f.also_accepted)}
_JSON_MEDIA = {"application/json", "*/*", "application/*", "text/html"}


def choose_format(format: str | None, accept: str | None) -> ExportFormat | None:
    """The export asked for, or ``None`` for the JSON record. ``format`` wins over ``Accept``; an
    unknown ``format`` is an :class:`InvalidInput` naming the allowed values; an ``Accept`` naming
    nothing we write keeps the JSON."""
    if format is not None:
        name = format.strip().lower()
        if name == JSON:
            return None
        if name not in EXPORTS:
            raise InvalidInput(f"format: unknown format {format!r} (allowed: {', '.join(ALLOWED)})")
        return EXPORTS[name]
    best: tuple[float, int, ExportFormat | None] | None = None
    for order, (media, quality) in enumerate(_accepted(accept or "")):
        if quality <= 0 or (media not in _BY_MEDIA and media not in _JSON_MEDIA):
            continue
        candidate = (quality, -order, _BY_MEDIA.get(media))
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else None


def _accepted(header: str) -> list[tuple[str, float]]:
    """(media type, q) of each entry of an ``Accept`` header, in order."""
    entries = []
    for part in header.split(","):
        media, *params = part.split(";")
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media.strip():
            entries.append((media.strip().lower(), quality))
    return entries


def record_links(public_url: str, member: Member | None, record: Record) -> list[str]:
    """The record's page in the union catalogue, then the member's OPAC page of it when known."""
    links = [f"{public_url.rstrip('/')}/record/{record.id}"]
    opac = opac_link(member, record) if member is not None else None
    if opac:
        links.append(opac)
    return links
