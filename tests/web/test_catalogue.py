"""The pages' one catalogue: every message the pages and the widget box show has its Vietnamese
translation, query errors read in the page's language, and errors are pages for browsers only.
No browser needed here."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from app.i18n import LOCALE_DIR, PageText, choose_language
from schemas.errors import QuerySyntaxError
from search.query import parse_query
from tests.app.conftest import client, demo_url, harvested  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def _used_messages() -> set[str | tuple[str, ...]]:
    """Every message id in the templates and the app's Python code, as Babel extracts them."""
    method_map = [("templates/**.html", "jinja2"), ("**.py", "python")]
    found = extract_from_dir(str(ROOT / "app"), method_map=method_map, keywords=KEYWORDS)
    return {message for _file, _line, message, _comments, _context in found}


def test_every_message_has_its_vietnamese_translation() -> None:
    with (LOCALE_DIR / "vi" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalogue = read_po(po, locale="vi")
    translated = {m.id if isinstance(m.id, str) else tuple(m.id): m for m in catalogue if m.id}
    used = _used_messages()
    assert len(used) > 150
    missing = [m for m in used if m not in translated]
    assert not missing, f"not in the Vietnamese catalogue: {missing}"
    empty = [
        m.id
        for m in translated.values()
        if m.fuzzy or not (m.string if isinstance(m.string, str) else m.string[0])
    ]
    assert not empty, f"untranslated or fuzzy: {empty}"


@pytest.mark.parametrize(
    ("query", "vi", "en"),
    [
        (
            '"open',
            "thiếu dấu ngoặc kép đóng (ở ký tự thứ 1)",
            "a quotation mark is not closed (at character 1)",
        ),
        ("(thu vien", "thiếu dấu ngoặc đơn đóng", "a parenthesis is not closed"),
        ("colour:red", "không có trường “colour:”", "unknown field “colour:”"),
        ("isbn:123", "“123” không phải ISBN hợp lệ", "“123” is not a valid ISBN"),
        ("year:2020..2010", "kết thúc trước khi bắt đầu", "ends before it starts"),
        ("thu AND", "cần một từ sau “AND”", "“AND” needs a word after it"),
    ],
)
def test_query_errors_read_in_the_page_language(query: str, vi: str, en: str) -> None:
    with pytest.raises(QuerySyntaxError) as raised:
        parse_query(query)
    error = raised.value
    assert vi in PageText("vi").query_error(error.detail, error.position)
    assert en in PageText("en").query_error(error.detail, error.position)


def test_page_language_choice() -> None:
    assert choose_language([], None) == ("vi", False)
    assert choose_language(["eng", "en"], None) == ("en", True)  # lang=eng filters, lang=en chooses
    assert choose_language(["eng"], "en") == ("en", False)
    assert choose_language([], "xx") == ("vi", False)
    text = PageText("vi")
    assert text.type_name("thesis") == "Luận văn, luận án" and PageText("en").type_name("thesis") == "Thesis"
    assert text.language_name("eng") == "Tiếng Anh" and text.language_name("xyz") == "xyz"
    assert text.html_lang("eng") == "en" and text.html_lang("vie") is None
    assert text.ngettext("%(num)d result", "%(num)d results", 3) == "3 kết quả"


@pytest.mark.asyncio
async def test_errors_are_pages_for_browsers_and_problems_for_api_clients(client: httpx.AsyncClient) -> None:  # noqa: F811
    api = await client.get("/search", params={"size": "many"})
    assert api.status_code == 422 and api.headers["content-type"] == "application/problem+json"
    browser = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    page = await client.get("/search", params={"size": "many"}, headers=browser)
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "<h1>Tham số không hợp lệ</h1>" in page.text and "size" in page.text
    missing = await client.get("/record/nope", headers=browser, params={"lang": "en"})
    assert missing.status_code == 404 and "<h1>Page not found</h1>" in missing.text
    assert missing.headers["content-language"] == "en"
    assert (await client.get("/record/nope")).headers["content-type"] == "application/problem+json"


@pytest.mark.asyncio
async def test_robots_and_sitemap(client: httpx.AsyncClient) -> None:  # noqa: F811
    robots = (await client.get("/robots.txt")).text
    assert "Disallow: /?" in robots and "Allow: /work/" in robots and "Sitemap: " in robots
    index = await client.get("/sitemap.xml")
    assert index.headers["content-type"] == "application/xml" and "/sitemap-1.xml" in index.text
    first = (await client.get("/sitemap-1.xml")).text
    health = (await client.get("/health")).json()
    assert first.count("<url>") == health["search"]["documents"]  # one URL per work
    assert first.count("/work/w") == first.count("<url>")
    assert (await client.get("/sitemap-2.xml")).status_code == 404


def _render_hit(hit: dict[str, object], lang: str) -> str:
    from app.web_support import TEMPLATES, member_label

    text = PageText(lang)
    context = {
        "t": text,
        "_": text.gettext,
        "ngettext": text.ngettext,
        "member_label": lambda member, code="": member_label(member, text, code),
        "members": {},
        "hit": hit,
    }
    return TEMPLATES.env.get_template("_hit.html").render(context)


def test_a_hit_shows_its_holders_once_search_hits_carry_them() -> None:
    hit: dict[str, object] = {"id": "hue-1", "member": "HUE", "title": "Digital libraries", "language": "eng",
                              "type": "book", "authors": [], "highlights": {}}  # fmt: skip
    plain = _render_hit(hit, "vi")
    assert 'lang="en"' in plain and "Sách" in plain and "Có tại" not in plain  # today's hits: no holdings
    hit["holdings_count"] = 2
    hit["holdings"] = [
        {"code": "HUE", "name_vi": "Đại học Huế", "name_en": "Hue University", "status": "member",
         "records": [{"record_id": "hue-1", "oai_identifier": "x", "opac_url": "http://opac.hue.example.vn/1"}]},
        {"code": "TVU", "name_vi": "Trường Đại học Trà Vinh", "name_en": None, "status": "member",
         "records": [{"record_id": "tvu-9", "oai_identifier": "y", "opac_url": None}]},
    ]  # fmt: skip
    held = _render_hit(hit, "vi")
    assert "Có tại 2 thư viện" in held
    assert '<a href="/go/hue-1">Đại học Huế</a>' in held  # link-outs are counted through /go
    assert '<a href="/record/tvu-9">Trường Đại học Trà Vinh</a>' in held
    english = _render_hit(hit, "en")
    assert "Held by 2 libraries" in english and "Hue University" in english
    assert '<span lang="vi">Trường Đại học Trà Vinh</span>' in english  # no English name: marked Vietnamese
