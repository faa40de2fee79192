"""COinS in the result page: one ``Z3988`` span per hit, an OpenURL context object Zotero reads, which
our own resolver resolves back to the hit's work."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
from lxml import html


def test_each_hit_carries_a_context_object_that_resolves_back(lienhop_url: str) -> None:
    with httpx.Client(base_url=lienhop_url, timeout=60) as http:
        page = http.get("/", params={"q": "thư viện", "lang": "en"})
        assert page.status_code == 200
        tree = html.fromstring(page.text)
        hits = tree.xpath("//li[contains(@class, 'hit')]")
        spans = tree.xpath("//li[contains(@class, 'hit')]/span[@class='Z3988']")
        assert hits and len(spans) == len(hits)

        for hit, span in zip(hits, spans, strict=True):
            context = parse_qs(span.get("title"))
            assert context["ctx_ver"] == ["Z39.88-2004"]
            assert context["rft_val_fmt"][0].startswith("info:ofi/fmt:kev:mtx:")
            work_link = hit.xpath(".//h3/a/@href")[0]
            assert any(i.endswith(work_link) for i in context["rft_id"]), context["rft_id"]
            title = next(
                v[0]
                for k, v in context.items()
                if k in ("rft.btitle", "rft.atitle", "rft.title", "rft.jtitle")
            )
            assert title.split(":")[0].strip() in hit.text_content()

            answer = http.get(f"/openurl?{span.get('title')}", headers={"Accept": "application/json"}).json()
            work_id = work_link.rsplit("/", 1)[1]
            assert any(w["work_id"] == work_id for w in answer["works"]), (context, answer["resolved_by"])
