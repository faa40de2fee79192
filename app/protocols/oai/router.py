"""``/oai``: the union catalogue's OAI-PMH 2.0 endpoint (GET or POST, as the protocol allows)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from ...deps import SettingsDep, StoreDep
from ..get_and_post import add_get_and_post, parameter
from .arguments import VERBS
from .catalogue import CatalogueRepository
from .provider import answer

router = APIRouter(tags=["protocols"])


_PARAMETERS: list[dict[str, Any]] = [
    parameter("verb", "The OAI-PMH verb", type="string", enum=list(VERBS)),
    parameter("metadataPrefix", "oai_dc or marcxml", type="string", enum=["oai_dc", "marcxml"]),
    parameter("identifier", "oai:<host>:<record id>, host from LIENHOP_PUBLIC_URL", type="string"),
    parameter("from", "Changed on or after (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ)", type="string"),
    parameter("until", "Changed on or before, same granularity as from", type="string"),
    parameter("set", "member:<CODE> or type:<type> (ListSets lists them)", type="string"),
    parameter("resumptionToken", "From the previous page; exclusive, never expires", type="string"),
]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An OAI-PMH 2.0 response document. Protocol errors (badArgument, badVerb, "
        "badResumptionToken, cannotDisseminateFormat, idDoesNotExist, noRecordsMatch) are its "
        "<error code=...> element, in a 200 answer as OAI-PMH prescribes.",
        "content": {"text/xml": {"schema": {"type": "string"}}},
    }
}


async def oai(request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    """All six verbs over every member record (deletions persistent), sets per member and per type,
    ``oai_dc`` and ``marcxml``, resumption tokens that never expire. POST takes a form body."""
    repository = CatalogueRepository(store, settings.public_url)
    return await answer(repository, request, repository.base_url)


add_get_and_post(
    router,
    "/oai",
    oai,
    responses=_RESPONSES,
    parameters=_PARAMETERS,
    summary="OAI-PMH 2.0 provider of the union catalogue",
)
