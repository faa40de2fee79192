"""``/oai``: the union catalogue's OAI-PMH 2.0 endpoint (GET or POST, as the protocol allows)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from ...deps import SettingsDep, StoreDep
from ..get_and_post import add_get_and_post
from .arguments import VERBS
from .catalogue import CatalogueRepository
from .provider import answer

router = APIRouter(tags=["protocols"])


def _parameter(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


_OPENAPI: dict[str, Any] = {
    "parameters": [
        _parameter("verb", "The OAI-PMH verb", type="string", enum=list(VERBS)),
        _parameter("metadataPrefix", "oai_dc or marcxml", type="string", enum=["oai_dc", "marcxml"]),
        _parameter("identifier", "oai:<host>:<record id>, host from LIENHOP_PUBLIC_URL", type="string"),
        _parameter("from", "Changed on or after (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ)", type="string"),
        _parameter("until", "Changed on or before, same granularity as from", type="string"),
        _parameter("set", "member:<CODE> or type:<type> (ListSets lists them)", type="string"),
        _parameter("resumptionToken", "From the previous page; exclusive, never expires", type="string"),
    ],
}
_FORM: dict[str, Any] = {
    "requestBody": {
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        p["name"]: {**p["schema"], "description": p["description"]}
                        for p in _OPENAPI["parameters"]
                    },
                }
            }
        }
    }
}
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
    openapi_get=_OPENAPI,
    openapi_form=_FORM,
    summary="OAI-PMH 2.0 provider of the union catalogue",
)
