"""The synthetic corpus of the search benchmarks: works held by one to five of 13 members, their records
and search documents, and a fixed mix of realistic requests.

Records are Vietnamese and English titles, authors, subjects and years from a fixed seed, streamed so
memory stays bounded at any size; about a third of the records are other members' copies of a work.
``bench/search.py``, ``api.py``, ``quality.py`` and the other benches draw from here, so their figures
describe the same data.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from indexer.documents import work_document  # noqa: E402
from schemas.record import Identifiers, Record  # noqa: E402
from schemas.search import IndexDocument, SearchFilters, SearchRequest  # noqa: E402
from search.analysis import fold  # noqa: E402

MEMBERS = ["hust", "vnu", "ctu", "hcmut", "neu", "hue", "dnu", "tnu", "vinhu", "hnue", "ftu", "ptit", "nlu"]
VI_TOPICS = [
    "khoa học máy tính", "công nghệ thông tin", "thư viện số", "cơ sở dữ liệu", "mạng máy tính",
    "kinh tế học", "quản lý tài chính", "nông nghiệp bền vững", "y học cổ truyền", "văn học Việt Nam",
    "lịch sử Việt Nam", "địa lý tự nhiên", "hóa học hữu cơ", "vật lý chất rắn", "toán học ứng dụng",
    "sinh học phân tử", "môi trường biển", "giáo dục đại học", "xã hội học", "pháp luật kinh doanh",
    "ngôn ngữ học", "văn hóa dân gian", "du lịch sinh thái", "kỹ thuật điện tử", "cơ khí chế tạo",
    "xây dựng cầu đường", "kiến trúc đô thị", "ngân hàng thương mại", "kế toán doanh nghiệp",
    "tâm lý học", "triết học", "trí tuệ nhân tạo", "học máy", "xử lý ảnh", "an toàn thông tin",
    "củng cố kiến thức", "thủy sản", "lâm nghiệp", "dược học", "điều dưỡng",
]  # fmt: skip
VI_HEADS = [
    "Giáo trình", "Nghiên cứu", "Cơ sở", "Nhập môn", "Tìm hiểu", "Ứng dụng", "Phát triển", "Quản lý",
    "Bài giảng", "Lập trình", "Phân tích", "Đánh giá",
]  # fmt: skip
VI_TAILS = [
    "", "", "ở Việt Nam", "hiện đại", "cơ bản", "nâng cao", "trong thời kỳ đổi mới", "tại Hà Nội",
    "vùng đồng bằng sông Cửu Long", "tại Đà Nẵng", "cho sinh viên", "tập 1", "tập 2",
]  # fmt: skip
EN_TOPICS = [
    "computer science", "data analysis", "machine learning", "deep learning", "digital libraries",
    "information retrieval", "rice production", "climate change", "public health", "software engineering",
    "database systems", "computer networks", "linear algebra", "organic chemistry", "marine ecology",
    "economic development", "Vietnamese history", "natural language processing", "algorithms", "python",
]  # fmt: skip
EN_HEADS = ["Introduction to", "Handbook of", "Advances in", "Principles of", "A survey of", "Essentials of"]
EN_TAILS = ["", "", "in Vietnam", "in the Mekong Delta", "for engineers", "second edition", "in practice"]
VI_FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ"]
VI_MIDDLE = ["Văn", "Thị", "Đức", "Minh", "Thanh", "Quốc", "Hữu", "Ngọc", "Thu", "Hồng"]
VI_GIVEN = [
    "An", "Bình", "Cường", "Dũng", "Hà", "Hải", "Hạnh", "Hòa", "Hùng", "Hương", "Lan", "Linh", "Long",
    "Mai", "Nam", "Nga", "Phương", "Quân", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Việt", "Yến",
]  # fmt: skip
EN_FAMILY = ["Smith", "Johnson", "Brown", "Miller", "Davis", "Wilson", "Taylor", "Moore", "Martin", "Clark"]
EN_GIVEN = ["John", "Mary", "David", "Sarah", "Michael", "Emma", "James", "Anna", "Robert", "Linda"]
PUBLISHERS = [
    "Nhà xuất bản Giáo dục",
    "NXB Khoa học và Kỹ thuật",
    "NXB Đại học Quốc gia",
    "Springer",
    "MIT Press",
]
ABSTRACT_WORDS = " ".join(VI_TOPICS + EN_TOPICS).split()


def _isbn13(rng: random.Random) -> str:
    digits = [9, 7, 8] + [rng.randrange(10) for _ in range(9)]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    return "".join(map(str, [*digits, check]))


def _work(work: int, seed: int) -> dict[str, Any]:
    """The bibliographic part of a record: every copy of one work shares it."""
    rng = random.Random(seed * 7_919 + work)
    vietnamese = rng.random() < 0.65
    if vietnamese:
        title = f"{rng.choice(VI_HEADS)} {rng.choice(VI_TOPICS)} {rng.choice(VI_TAILS)}".strip()
        authors = [
            f"{rng.choice(VI_FAMILY)} {rng.choice(VI_MIDDLE)} {rng.choice(VI_GIVEN)}"
            for _ in range(rng.choice((1, 1, 2, 3)))
        ]
        subjects = rng.sample(VI_TOPICS, rng.choice((1, 2, 3)))
    else:
        title = f"{rng.choice(EN_HEADS)} {rng.choice(EN_TOPICS)} {rng.choice(EN_TAILS)}".strip()
        authors = [f"{rng.choice(EN_FAMILY)}, {rng.choice(EN_GIVEN)}" for _ in range(rng.choice((1, 2)))]
        subjects = rng.sample(EN_TOPICS, rng.choice((1, 2)))
    kind = rng.choices(["book", "thesis", "article", "other"], [60, 15, 20, 5])[0]
    abstract = None
    if rng.random() < 0.5:
        abstract = " ".join(rng.choice(ABSTRACT_WORDS) for _ in range(rng.randint(20, 60)))
    year = None if rng.random() < 0.03 else min(2025, int(2025 - abs(rng.gauss(0, 15))))
    return {
        "title": title,
        "authors": authors,
        "subjects": subjects,
        "year": year,
        "language": "vie" if vietnamese else "eng",
        "type": kind,
        "abstract": abstract,
        "publisher": rng.choice(PUBLISHERS),
        "isbn": [_isbn13(rng)] if kind == "book" else [],
        "doi": [f"10.{rng.randint(1000, 9999)}/b{work}"] if kind == "article" else [],
    }


#: How many members hold a work, and how often: 1.54 records a work, so about a third of the records
#: are other members' copies of a work another member also holds.
HOLDERS = (1, 2, 3, 5)
HOLDER_WEIGHTS = (66, 22, 8, 4)


def work_sizes(records: int, seed: int = 20240601) -> list[int]:
    """The number of records of each work, in order, ``records`` in all (the last work may be cut)."""
    rng = random.Random(seed)
    sizes: list[int] = []
    left = records
    while left > 0:
        size = min(left, rng.choices(HOLDERS, HOLDER_WEIGHTS)[0])
        sizes.append(size)
        left -= size
    return sizes


def generate(records: int, seed: int = 20240601) -> Iterator[IndexDocument]:
    """The work documents of ``records`` records, deterministic for a seed, produced one at a time.

    Each copy is a ``Record`` of another member that describes the work a little differently (an
    abstract or subjects left out, the title typed without diacritics); the work's records are mapped
    by the indexer's own ``work_document``, so the bench indexes exactly what production would.
    """
    n = 0
    for work, size in enumerate(work_sizes(records, seed)):
        rng = random.Random(seed * 1_000_003 + work)
        base = _work(work, seed)
        ids = Identifiers(isbn=base.pop("isbn"), doi=base.pop("doi"))
        held: list[tuple[str, Record]] = []
        for member in rng.sample(MEMBERS, size):
            fields = dict(base)
            if held:  # another member's copy
                if rng.random() < 0.3:
                    fields["abstract"] = None
                if rng.random() < 0.2:
                    fields["subjects"] = []
                if rng.random() < 0.1:
                    fields["title"] = " ".join(fold(t) for t in str(base["title"]).split())
            record = Record(member=member, oai_identifier=f"oai:{member}:{n}", identifiers=ids, **fields)
            held.append((f"{member}:{n:08d}", record))
            n += 1
        yield work_document(f"w{work + 1}", work + 1, held)


def batched(docs: Iterator[IndexDocument], size: int) -> Iterator[list[IndexDocument]]:
    """Consecutive lists of ``size`` documents (the last may be shorter)."""
    batch: list[IndexDocument] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def query_mix(count: int = 1000, seed: int = 7) -> list[SearchRequest]:
    """A fixed mix of realistic requests: words with and without diacritics, phrases, prefixes,
    fielded queries, boolean operators, filters, browsing, and the three sorts."""
    rng = random.Random(seed)
    requests: list[SearchRequest] = []
    for _ in range(count):
        topic = rng.choice(VI_TOPICS) if rng.random() < 0.65 else rng.choice(EN_TOPICS)
        words = topic.split()
        if rng.random() < 0.3:
            words = [fold(w.lower()) for w in words]  # typed without diacritics
        pick = rng.random()
        filters = SearchFilters()
        if pick < 0.30:
            q = " ".join(words[: rng.choice((1, 2))])
        elif pick < 0.45:
            q = " ".join(words)
        elif pick < 0.55:
            q = f'"{" ".join(words[:2])}"'
        elif pick < 0.65:
            q = words[0][: max(2, len(words[0]) - 2)] + "*"
        elif pick < 0.72:
            q = f"title:({' '.join(words[:2])})"
        elif pick < 0.78:
            q = f"author:{fold(rng.choice(VI_FAMILY).lower())}"
        elif pick < 0.86:
            q = " ".join(words[:2])
            filters = SearchFilters(member=rng.sample(MEMBERS, rng.choice((1, 2))), year_from=2000)
        elif pick < 0.90:
            q = f"{words[0]} NOT lang:eng"
        elif pick < 0.95:
            q = f"{words[0]} OR {rng.choice(EN_TOPICS).split()[0]}"
        else:
            q = ""
        sort = rng.choices(["relevance", "year_desc", "title"], [80, 10, 10])[0]
        requests.append(SearchRequest(q=q, filters=filters, sort=sort, size=10))  # type: ignore[arg-type]
    return requests
