"""COinS (ContextObjects in Spans): an OpenURL 1.0 context object in each search hit of the web page,
``<span class="Z3988" title="ctx_ver=Z39.88-2004&…">``, so Zotero and other reference managers offer
to save the items of a result page, and a reader's link resolver can link each one."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment
from markupsafe import Markup

_FORMATS = {
    "article": ("info:ofi/fmt:kev:mtx:journal", "article", "rft.atitle"),
    "journal": ("info:ofi/fmt:kev:mtx:journal", "journal", "rft.jtitle"),
    "book": ("info:ofi/fmt:kev:mtx:book", "book", "rft.btitle"),
    "thesis": ("info:ofi/fmt:kev:mtx:dissertation", None, "rft.title"),
    "conference": ("info:ofi/fmt:kev:mtx:book", "proceeding", "rft.btitle"),
    "report": ("info:ofi/fmt:kev:mtx:book", "report", "rft.btitle"),
}
_OTHER = ("info:ofi/fmt:kev:mtx:dc", None, "rft.title")


def _get(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def context_object(item: Any, site_url: str | None = None) -> str:
    """The KEV context object of a hit (or anything with a hit's fields: work_id, title, subtitle,
    authors, year, type, isbn, issn, doi); ``site_url`` (any URL of the site) gives the work page's link."""
    fmt, genre, title_key = _FORMATS.get(_get(item, "type") or "", _OTHER)
    pairs: list[tuple[str, str]] = [
        ("ctx_ver", "Z39.88-2004"),
        ("rft_val_fmt", fmt),
        ("rfr_id", "info:sid/lienhop"),
    ]
    if genre:
        pairs.append(("rft.genre", genre))
    title = _get(item, "title")
    subtitle = _get(item, "subtitle")
    if title:
        pairs.append((title_key, f"{title}: {subtitle}" if subtitle else title))
    for author in _get(item, "authors") or []:
        pairs.append(("rft.au" if fmt != _OTHER[0] else "rft.creator", author))
    if _get(item, "year"):
        pairs.append(("rft.date", str(_get(item, "year"))))
    pairs += [("rft.isbn", v) for v in _get(item, "isbn") or []]
    pairs += [("rft.issn", v) for v in _get(item, "issn") or []]
    pairs += [("rft_id", f"info:doi/{v}") for v in _get(item, "doi") or []]
    if site_url and _get(item, "work_id"):
        parts = urlsplit(site_url)
        pairs.append(("rft_id", f"{parts.scheme}://{parts.netloc}/work/{_get(item, 'work_id')}"))
    return urlencode(pairs)


def coins(item: Any, site_url: str | None = None) -> Markup:
    """The COinS span of a hit (empty, as the convention wants, and hidden from assistive technology)."""
    return Markup('<span class="Z3988" title="{}" aria-hidden="true"></span>').format(
        context_object(item, site_url)
    )


def install(env: Environment) -> None:
    """Make ``coins(hit, site_url)`` available to the page templates."""
    env.globals["coins"] = coins
