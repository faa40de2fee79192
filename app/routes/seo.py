"""What search engines and social networks read: schema.org JSON-LD and Open Graph tags of a record
page, ``/robots.txt`` (crawlers kept out of faceted search URLs) and ``/sitemap.xml`` (an index of
``/sitemap-N.xml`` files of at most 50,000 work pages each)."""

from __future__ import annotations

import json
import math
from typing import Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from markupsafe import Markup

from schemas.errors import NotFound
from schemas.member import Member
from store.records import StoredRecord

from ..catalog import MemberHoldings
from ..deps import StoreDep
from ..i18n import HTML_LANG, PageText

router = APIRouter(include_in_schema=False)

SITEMAP_URLS = 50_000
SCHEMA_TYPES = {"book": "Book", "article": "ScholarlyArticle", "thesis": "Thesis", "report": "Report",
                "journal": "Periodical", "dataset": "Dataset", "conference": "ScholarlyArticle"}  # fmt: skip


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def record_metadata(
    request: Request,
    stored: StoredRecord,
    member: Member,
    opac_url: str | None,
    others: list[MemberHoldings],
    text: PageText,
    path: str | None = None,
) -> dict[str, Any]:
    """The canonical URL, the description, and the JSON-LD of one record page (or of a work page,
    at ``path``, described by its fullest record), holders included."""
    record = stored.record
    url = f"{_base(request)}{path or f'/record/{stored.id}'}"
    holders = [member.name_vi] + [m.name_vi for m in others]
    title = record.title or text.gettext("(untitled)")
    description = "; ".join(
        part
        for part in (
            ", ".join(record.authors[:3]),
            str(record.year) if record.year else "",
            text.ngettext("Held by %(num)d library", "Held by %(num)d libraries", len(holders))
            + ": "
            + ", ".join(holders),
        )
        if part
    )
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": SCHEMA_TYPES.get(record.type, "CreativeWork"),
        "@id": url,
        "url": url,
        "name": title,
        "author": [{"@type": "Person", "name": a} for a in record.authors],
    }
    if record.year:
        data["datePublished"] = str(record.year)
    if record.identifiers.isbn:
        data["isbn"] = (
            record.identifiers.isbn[0] if len(record.identifiers.isbn) == 1 else record.identifiers.isbn
        )
    if record.identifiers.issn:
        data["issn"] = record.identifiers.issn[0]
    if record.identifiers.doi:
        data["sameAs"] = [f"https://doi.org/{d}" for d in record.identifiers.doi]
    if record.language:
        data["inLanguage"] = HTML_LANG.get(record.language, record.language)
    if record.publisher:
        data["publisher"] = {"@type": "Organization", "name": record.publisher}
    if record.subjects:
        data["keywords"] = ", ".join(record.subjects)
    # Holdings as a library's lending offer (the pattern library catalogues publish to schema.org).
    offers = [_offer(member.name_vi, opac_url)]
    offers += [_offer(m.name_vi, next((h.opac_url for h in m.holdings if h.opac_url), None)) for m in others]
    data["offers"] = offers
    # "</" would close the script element: JSON allows "<\/" for it.
    json_ld = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    return {
        "canonical": url,
        "title": title,
        "description": description,
        "type": "book" if record.type == "book" else "article",
        "json_ld": Markup(json_ld),
    }


def _offer(library: str, url: str | None) -> dict[str, Any]:
    offer: dict[str, Any] = {
        "@type": "Offer",
        "businessFunction": "http://purl.org/goodrelations/v1#LeaseOut",
        "offeredBy": {"@type": "Library", "name": library},
    }
    if url:
        offer["url"] = url
    return offer


@router.get("/robots.txt", response_class=PlainTextResponse)
async def robots(request: Request) -> PlainTextResponse:
    """Record pages and the sitemap for crawlers; search result URLs (endless facet combinations),
    the API and the admin endpoints not."""
    lines = [
        "User-agent: *",
        "Allow: /$",
        "Allow: /work/",
        "Allow: /record/",
        "Disallow: /?",
        "Disallow: /search",
        "Disallow: /autocomplete",
        "Disallow: /lookup",
        "Disallow: /admin/",
        "Disallow: /widget/",
        f"Sitemap: {_base(request)}/sitemap.xml",
        "",
    ]
    return PlainTextResponse("\n".join(lines))


def _xml(body: str) -> Response:
    head = '<?xml version="1.0" encoding="UTF-8"?>\n'
    return Response(head + body, media_type="application/xml")


@router.get("/sitemap.xml")
async def sitemap_index(request: Request, store: StoreDep) -> Response:
    """The sitemap index: one ``/sitemap-N.xml`` per 50,000 works (a work page is the canonical page
    of the item, whichever members hold it)."""
    files = max(1, math.ceil(await store.count_live_works() / SITEMAP_URLS))
    base = _base(request)
    entries = "".join(f"<sitemap><loc>{base}/sitemap-{n}.xml</loc></sitemap>" for n in range(1, files + 1))
    return _xml(f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>')


@router.get("/sitemap-{number}.xml")
async def sitemap_file(request: Request, number: int, store: StoreDep) -> Response:
    """The work pages ``(number-1)*50,000`` to ``number*50,000`` in store order."""
    if number < 1:
        raise NotFound(f"no sitemap {number}")
    skip, urls = (number - 1) * SITEMAP_URLS, []
    base = _base(request)
    async for batch in store.iter_live_works(batch=5000):
        if skip >= len(batch):
            skip -= len(batch)
            continue
        for work_id, held in batch[skip:]:
            stamps = [s.record.datestamp for s in held if s.record.datestamp]
            lastmod = f"<lastmod>{max(stamps).date().isoformat()}</lastmod>" if stamps else ""
            urls.append(f"<url><loc>{escape(f'{base}/work/{work_id}')}</loc>{lastmod}</url>")
        skip = 0
        if len(urls) >= SITEMAP_URLS:
            break
    if not urls and number > 1:
        raise NotFound(f"no sitemap {number}")
    body = "".join(urls[:SITEMAP_URLS])
    return _xml(f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>')
