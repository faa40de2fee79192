"""A deterministic generator of realistic Vietnamese and English catalogue records for the demo.

The same member always gets the same records (every random choice is seeded by its code), so a second
``lienhop demo`` harvests nothing new. Some books and articles are held by several members under the
same ISBN or DOI, written differently by each (ISBN-13 with or without hyphens, ISBN-10), so the
"who holds it" lookup has something to show. A few records are stored in decomposed (NFD) Unicode on
purpose, and each member has a couple of deleted records.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TypedDict

from stdnum import ean as stdean
from stdnum import isbn as stdisbn

from .members import BY_CODE, DEMO_MEMBERS, DemoMember
from .vocabulary import (
    DOMAINS,
    FAMILY,
    FOREIGN,
    GIVEN,
    MIDDLE,
    PLACES,
    PLACES_EN,
    PROFILES,
    PUBLISHERS_EN,
    PUBLISHERS_VI,
)

KINDS = ("book", "thesis", "article", "report")


@dataclass(frozen=True)
class DemoRecord:
    """One record of a member's demo repository, before it is written as oai_dc or MARCXML."""

    member: str
    local_id: str
    identifier: str
    datestamp: datetime
    kind: str
    title: str
    language: str = "vie"
    deleted: bool = False
    subtitle: str | None = None
    authors: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    abstract: str | None = None
    publisher: str | None = None
    year: int | None = None
    isbn: str | None = None
    issn: str | None = None
    doi: str | None = None
    journal: str | None = None
    note: str | None = None

    @property
    def sets(self) -> tuple[str, ...]:
        return (f"type:{self.kind}",)


class _Extra(TypedDict, total=False):
    """The fields of a :class:`DemoRecord` that depend on its kind."""

    subtitle: str | None
    abstract: str | None
    publisher: str | None
    isbn: str | None
    issn: str | None
    doi: str | None
    journal: str | None
    note: str | None


def issn_with_check(seven: str) -> str:
    """An ISSN ``NNNN-NNNC`` with its mod-11 check character."""
    total = sum(int(d) * w for d, w in zip(seven, range(8, 1, -1), strict=True))
    check = (11 - total % 11) % 11
    return f"{seven[:4]}-{seven[4:]}{'X' if check == 10 else check}"


def isbn13_with_check(twelve: str) -> str:
    """The ISBN-13 (digits only) completing twelve digits with their check digit."""
    return twelve + stdean.calc_check_digit(twelve)


# (title, ISSN, DOI prefix or None)
JOURNALS: tuple[tuple[str, str, str | None], ...] = (
    ("Tạp chí Khoa học và Công nghệ Việt Nam", issn_with_check("1859479"), "10.31276/vjst"),
    ("Vietnam Journal of Science and Technology", issn_with_check("2525251"), "10.15625/2525-2518"),
    ("Tạp chí Khoa học Nông nghiệp Việt Nam", issn_with_check("1859000"), "10.31817/vjas"),
    ("Tạp chí Kinh tế và Phát triển", issn_with_check("1859001"), None),
    ("Tạp chí Khoa học Đại học Huế", issn_with_check("1859138"), "10.26459/hueuni"),
    ("Tạp chí Khoa học Trường Đại học Sư phạm TP. Hồ Chí Minh", issn_with_check("1859310"), "10.54607/hcmue"),
    ("Tạp chí Khoa học và Công nghệ Lâm nghiệp", issn_with_check("1859382"), None),
    ("Tạp chí Thông tin và Tư liệu", issn_with_check("1859218"), None),
    ("Vietnam Journal of Earth Sciences", issn_with_check("0866719"), "10.15625/0866-7187"),
)

EPOCH = datetime(2019, 1, 1, tzinfo=UTC)
LAST = datetime(2025, 10, 31, 23, 59, 59, tzinfo=UTC)


# ------------------------------------------------------------------ building blocks


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


def _ascii(text: str) -> str:
    """Vietnamese without diacritics, as some English-language records write names."""
    text = text.replace("Đ", "D").replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def _datestamp(rng: random.Random, year: int) -> datetime:
    start = max(EPOCH, datetime(year, 1, 1, tzinfo=UTC))
    span = int((LAST - start).total_seconds())
    return start + timedelta(seconds=rng.randrange(max(span, 1)))


def _year(rng: random.Random) -> int:
    # Catalogues hold more recent items than old ones.
    return min(2025, 1995 + int(rng.triangular(0, 31, 24)))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class _Work:
    """A book or article that several members hold; each member describes it a little differently."""

    kind: str
    title: str
    subtitle: str | None
    authors: tuple[str, ...]
    subjects: tuple[str, ...]
    year: int
    language: str
    publisher: str | None
    isbn13: str | None
    issn: str | None
    doi: str | None
    journal: str | None
    holders: tuple[str, ...]


@cache
def shared_works() -> tuple[_Work, ...]:
    """Books and articles held by several members (the same ISBN, ISSN or DOI)."""
    rng = random.Random("lienhop-demo:shared")
    codes = [m.code for m in DEMO_MEMBERS]
    works: list[_Work] = []
    # The first work is held by five members, so the demo lookup always has a rich answer.
    fixed_holders = ("NASATI", "VNUHCM", "HUE", "TVU", "VNUA")
    for n in range(45):
        domain = rng.choice(list(DOMAINS))
        subject_vi, subject_en, topics_vi, topics_en = DOMAINS[domain]
        english = rng.random() < 0.25
        holders = fixed_holders if n == 0 else tuple(sorted(rng.sample(codes, rng.randint(2, 5))))
        subtitle: str | None
        if n == 0:
            title, subtitle, english, subject_vi = (
                "Thư viện số: lý thuyết và thực tiễn",
                "Giáo trình dùng cho sinh viên ngành Thông tin - Thư viện",
                False,
                "Thư viện học",
            )
        elif english:
            title, subtitle = _cap(rng.choice(topics_en)), "theory and practice"
        else:
            title = _cap(rng.choice(topics_vi))
            subtitle = rng.choice(("giáo trình", "sách chuyên khảo", None))
        if n % 5 == 4:  # every fifth shared work is a journal article with a DOI
            journal, issn, prefix = rng.choice([j for j in JOURNALS if j[2]])
            year = _year(rng)
            works.append(
                _Work(
                    "article",
                    title,
                    None,
                    (_person(rng), _person(rng)),
                    (subject_en if english else subject_vi,),
                    year,
                    "eng" if english else "vie",
                    None,
                    None,
                    issn,
                    f"{prefix}.{year}.{rng.randint(100, 999)}",
                    journal,
                    holders,
                )
            )
            continue
        if english:
            twelve = rng.choice(("9780", "9781", "9783")) + f"{rng.randrange(10**8):08d}"
            publisher = rng.choice(PUBLISHERS_EN)
        else:
            twelve = f"978604{rng.randrange(10**6):06d}"
            publisher = rng.choice(PUBLISHERS_VI)
        authors = (_person(rng), _person(rng)) if rng.random() < 0.4 else (_person(rng),)
        works.append(
            _Work(
                "book",
                title,
                subtitle,
                authors,
                (subject_en if english else subject_vi,),
                _year(rng),
                "eng" if english else "vie",
                publisher,
                isbn13_with_check(twelve),
                None,
                None,
                None,
                holders,
            )
        )
    return tuple(works)


def _isbn_as_written(rng: random.Random, isbn13: str) -> str:
    """The ISBN as one member's cataloguer wrote it: hyphenated, compact, or as ISBN-10."""
    style = rng.random()
    if style < 0.45:
        return stdisbn.format(isbn13)
    if style < 0.75:
        return isbn13
    return stdisbn.format(stdisbn.to_isbn10(isbn13)) if isbn13.startswith("978") else isbn13


def _from_work(rng: random.Random, member: DemoMember, n: int, work: _Work) -> DemoRecord:
    local_id = f"{member.code.lower()}{n:06d}"
    return DemoRecord(
        member=member.code,
        local_id=local_id,
        identifier=f"oai:{member.host}:{local_id}",
        datestamp=_datestamp(rng, work.year),
        kind=work.kind,
        title=work.title,
        subtitle=work.subtitle,
        authors=work.authors,
        subjects=work.subjects,
        publisher=work.publisher,
        year=work.year,
        language=work.language,
        isbn=_isbn_as_written(rng, work.isbn13) if work.isbn13 else None,
        issn=work.issn,
        doi=work.doi.upper() if work.doi and rng.random() < 0.3 else work.doi,
        journal=work.journal,
    )


def _own(rng: random.Random, member: DemoMember, n: int) -> DemoRecord:
    domains, weights = PROFILES.get(member.code, (tuple(DOMAINS), (3, 3, 3, 1)))
    kind = rng.choices(KINDS, weights=weights)[0]
    domain = rng.choice(domains)
    subject_vi, subject_en, topics_vi, topics_en = DOMAINS[domain]
    english = rng.random() < (0.35 if kind == "article" else 0.12)
    year = _year(rng)
    local_id = f"{member.code.lower()}{n:06d}"
    authors: tuple[str, ...] = (_person(rng),)
    subjects: tuple[str, ...] = (subject_en,) if english else (subject_vi,)
    other = DOMAINS[rng.choice(list(DOMAINS))]
    if rng.random() < 0.4:
        subjects += (other[1],) if english else (other[0],)
    title_vi = f"{_cap(rng.choice(topics_vi))} tại {rng.choice(PLACES)}"
    title_en = f"{_cap(rng.choice(topics_en))} in {rng.choice(PLACES_EN)}"
    fields: _Extra = {}
    if kind == "thesis":
        level = "Luận án tiến sĩ" if rng.random() < 0.15 else "Luận văn thạc sĩ"
        title = f"Nghiên cứu {title_vi[0].lower()}{title_vi[1:]}"
        if rng.random() < 0.3:
            title = f"{level}: {title}"
        fields = {
            "note": f"{level} {subject_vi} – {member.name_vi}",
            "publisher": member.name_vi,
            "abstract": f"Luận văn trình bày kết quả nghiên cứu về "
            f"{title_vi[0].lower()}{title_vi[1:]}. "
            f"Tác giả đề xuất giải pháp và đánh giá thực nghiệm trên dữ liệu thu thập "
            f"giai đoạn {year - 2}-{year}.",
        }
        english = False
        subjects = (subject_vi,)
    elif kind == "article":
        journal, issn, prefix = rng.choice(JOURNALS)
        title = title_en if english else title_vi
        authors += (_person(rng),) if rng.random() < 0.7 else ()
        if english:
            authors = tuple(_ascii(a) for a in authors)
            authors += (rng.choice(FOREIGN),) if rng.random() < 0.2 else ()
        doi = f"{prefix}.{year}.{member.code.lower()}{n:04d}" if prefix and rng.random() < 0.7 else None
        fields = {
            "journal": journal,
            "issn": issn,
            "doi": doi,
            "abstract": (
                f"This paper studies {title_en[0].lower()}{title_en[1:]}."
                if english
                else f"Bài báo nghiên cứu {title_vi[0].lower()}{title_vi[1:]}."
            ),
        }
    elif kind == "report":
        scope = rng.choice(("cấp Bộ", "cấp tỉnh", "cấp cơ sở", "cấp Nhà nước"))
        title = f"Báo cáo tổng kết đề tài khoa học và công nghệ {scope}: {title_vi}"
        authors += (_person(rng),)
        fields = {"publisher": member.name_vi, "note": f"Mã số đề tài: {member.code}-{year}-{n:03d}"}
        english = False
        subjects = (subject_vi,)
    else:
        title = title_en if english else _cap(rng.choice(topics_vi))
        twelve = (
            (rng.choice(("9780", "9781")) + f"{rng.randrange(10**8):08d}")
            if english
            else (f"978604{rng.randrange(10**6):06d}")
        )
        fields = {
            "publisher": rng.choice(PUBLISHERS_EN if english else PUBLISHERS_VI),
            "isbn": _isbn_as_written(rng, isbn13_with_check(twelve)),
            "subtitle": None if english else rng.choice(("giáo trình", "sách tham khảo", None)),
        }
    return DemoRecord(
        member=member.code,
        local_id=local_id,
        identifier=f"oai:{member.host}:{local_id}",
        datestamp=_datestamp(rng, year),
        kind=kind,
        title=title,
        authors=authors,
        subjects=subjects,
        year=year,
        language="eng" if english else "vie",
        **fields,
    )


def _nfd(record: DemoRecord) -> DemoRecord:
    """The same record in decomposed Unicode, as some cataloguing tools export it."""
    return replace(
        record,
        title=unicodedata.normalize("NFD", record.title),
        authors=tuple(unicodedata.normalize("NFD", a) for a in record.authors),
        subjects=tuple(unicodedata.normalize("NFD", s) for s in record.subjects),
    )


@cache
def generate(code: str, count: int | None = None) -> tuple[DemoRecord, ...]:
    """Every record of a demo member's repository, in datestamp order (deterministic).

    ``count`` overrides the member's usual size (tests use small repositories); shared works always
    come first so even a small repository shows holdings at other members.
    """
    member = BY_CODE[code]
    rng = random.Random(f"lienhop-demo:{code}")
    total = member.records if count is None else count
    out: list[DemoRecord] = []
    for work in shared_works():
        if code in work.holders and len(out) < total:
            out.append(_from_work(rng, member, len(out) + 1, work))
    while len(out) < total:
        out.append(_own(rng, member, len(out) + 1))
    for i in range(len(out)):
        if rng.random() < 0.07:
            out[i] = _nfd(out[i])
    # Two withdrawn items per member: the repository keeps their tombstones (deletedRecord persistent).
    for i in (len(out) - 3, len(out) - 7):
        if 0 <= i < len(out) and i >= sum(code in w.holders for w in shared_works()):
            out[i] = DemoRecord(
                member=code,
                local_id=out[i].local_id,
                identifier=out[i].identifier,
                datestamp=LAST - timedelta(days=i % 30),
                kind=out[i].kind,
                title="",
                deleted=True,
            )
    return tuple(sorted(out, key=lambda r: (r.datestamp, r.identifier)))
