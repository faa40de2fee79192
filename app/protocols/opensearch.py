"""``/opensearch.xml``: the OpenSearch 1.1 description that lets a browser add the union catalogue as a
search engine, and ``/opensearch/suggestions`` in the suggestions format browsers read.

``/autocomplete`` answers a plain list of titles; browsers want ``[query, [completions]]``
(``application/x-suggestions+json``), so the suggestions URL is a small adapter over the same search.
Template URLs are absolute, from ``LIENHOP_PUBLIC_URL``.
"""

from __future__ import annotations

import json
from typing import Annotated
from xml.sax.saxutils import quoteattr

from fastapi import APIRouter, Query, Response

from ..deps import SearchDep, SettingsDep

router = APIRouter(tags=["protocols"])

DESCRIPTION_TYPE = "application/opensearchdescription+xml"
SUGGESTIONS_TYPE = "application/x-suggestions+json"


def description_document(public_url: str) -> bytes:
    base = public_url.rstrip("/")
    search = quoteattr(f"{base}/?q={{searchTerms}}")
    suggest = quoteattr(f"{base}/opensearch/suggestions?q={{searchTerms}}")
    itself = quoteattr(f"{base}/opensearch.xml")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<OpenSearchDescription xmlns="http://a9.com/-/spec/opensearch/1.1/">
  <ShortName>Lienhop</ShortName>
  <Description>Mục lục liên hợp KH&amp;CN Việt Nam – union catalogue of the Vietnam Library \
Consortium on S&amp;T information</Description>
  <Tags>thư viện library catalogue Vietnam</Tags>
  <InputEncoding>UTF-8</InputEncoding>
  <OutputEncoding>UTF-8</OutputEncoding>
  <Language>vi</Language>
  <Language>en</Language>
  <Url type="text/html" method="get" template={search}/>
  <Url type="{SUGGESTIONS_TYPE}" method="get" template={suggest}/>
  <Url type="{DESCRIPTION_TYPE}" rel="self" template={itself}/>
</OpenSearchDescription>
""".encode()


@router.get(
    "/opensearch.xml",
    response_class=Response,
    responses={200: {"description": "OpenSearch 1.1 description", "content": {DESCRIPTION_TYPE: {}}}},
)
async def opensearch_description(settings: SettingsDep) -> Response:
    """The OpenSearch description document: browsers offer the catalogue's search box from it."""
    return Response(description_document(settings.public_url), media_type=DESCRIPTION_TYPE)


@router.get(
    "/opensearch/suggestions",
    response_class=Response,
    responses={
        200: {
            "description": "[query, [titles]] (OpenSearch suggestions)",
            "content": {SUGGESTIONS_TYPE: {"schema": {"type": "array"}}},
        }
    },
)
async def opensearch_suggestions(
    service: SearchDep, q: Annotated[str, Query(min_length=1, max_length=200)]
) -> Response:
    """Titles starting with what was typed, in the form browsers show under the search box."""
    titles = await service.autocomplete(q, field="title", size=10)
    return Response(json.dumps([q, titles], ensure_ascii=False), media_type=SUGGESTIONS_TYPE)
