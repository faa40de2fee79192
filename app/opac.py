"""Deep links into a member's OPAC, from its ``opac_url_template`` and a record's identifiers."""

from __future__ import annotations

import re
from urllib.parse import quote

from schemas.member import Member
from schemas.record import Record

_PLACEHOLDER = re.compile(r"\{(local_id|oai_identifier|isbn)\}")


def local_id(record: Record) -> str:
    """The member's own id of a record: MARC 001, else the last part of the OAI identifier."""
    return record.identifiers.local_id or _last_part(record.oai_identifier)


def _last_part(oai_identifier: str) -> str:
    return re.split(r"[:/]", oai_identifier)[-1]


def opac_url(member: Member, oai_identifier: str, local: str | None, isbn: str | None) -> str | None:
    """The deep link of a record given by its identifiers (``local``: MARC 001 when known; ``isbn``:
    its first ISBN-13), or None without a template or a value the template needs."""
    template = member.opac_url_template
    if not template:
        return None
    values = {
        "local_id": local or _last_part(oai_identifier),
        "oai_identifier": oai_identifier,
        "isbn": isbn or "",
    }
    needed = _PLACEHOLDER.findall(template)
    if any(not values[name] for name in needed):
        return None
    return _PLACEHOLDER.sub(lambda m: quote(values[m.group(1)], safe=""), template)


def opac_link(member: Member, record: Record) -> str | None:
    """The deep link into the member's OPAC, or None without a template or a value it needs."""
    ids = record.identifiers
    return opac_url(member, record.oai_identifier, ids.local_id, ids.isbn[0] if ids.isbn else None)
