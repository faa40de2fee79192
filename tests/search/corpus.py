"""The conformance corpus: realistic Vietnamese and English records of four consortium members.

Pairs built on purpose: ``củng cố`` / ``cũng có`` (same folded tokens), a title holding the phrase
``khoa học máy tính`` against titles with the syllables scattered, a record stored decomposed (NFD),
``khóa học`` against ``khoa học``, an ISBN-13 reachable by its ISBN-10, a record without year, and
works held by several members (``k01`` by five), so member filters and facets count works.
"""

from __future__ import annotations

import unicodedata

from schemas.search import IndexDocument

from .support import make_doc

NFD_TITLE = unicodedata.normalize("NFD", "Thư viện số và quản lý thông tin")

CORPUS: list[IndexDocument] = [
    make_doc(
        "c01",
        "Củng cố kiến thức toán học lớp 12",
        authors=["Nguyễn Văn An"],
        subjects=["Toán học", "Giáo dục phổ thông"],
        year=2018,
        member="hanoi-nl",
        publisher="Nhà xuất bản Giáo dục",
    ),
    make_doc(
        "c02",
        "Những điều cũng có thể xảy ra",
        authors=["Trần Thị Bình"],
        subjects=["Văn học"],
        year=2019,
        member="hcm-lib",
        abstract="Tập truyện ngắn về đời sống đô thị.",
    ),
    make_doc(
        "c03",
        "Giải pháp củng cố nền kinh tế số",
        authors=["Lê Minh Châu"],
        subjects=["Kinh tế học"],
        year=2021,
        member="vnu",
        type="thesis",
    ),
    make_doc(
        "k01",
        "Khoa học máy tính",
        subtitle="nhập môn",
        authors=["Nguyễn Văn Bình"],
        subjects=["Khoa học máy tính", "Tin học"],
        year=2020,
        member=["vnu", "hust", "ctu", "hanoi-nl", "hcm-lib"],  # one work held by five members
        type="book",
        isbn=["978-604-0-00000-2"],
    ),
    make_doc(
        "k02",
        "Máy học và khoa học dữ liệu trong tính toán",
        authors=["Phạm Quốc Dũng"],
        subjects=["Khoa học dữ liệu"],
        year=2022,
        member="hust",
        type="thesis",
    ),
    make_doc(
        "k03",
        "Giáo trình lập trình Python",
        authors=["Đỗ Thị Hạnh"],
        subjects=["Tin học"],
        abstract="Tài liệu dành cho sinh viên ngành khoa học máy tính năm thứ nhất.",
        year=2017,
        member="hust",
    ),
    make_doc(
        "k04",
        "Khóa học tiếng Anh cấp tốc",
        authors=["Vũ Thị Lan"],
        subjects=["Ngoại ngữ"],
        year=2015,
        member="hcm-lib",
    ),
    make_doc(
        "n01",
        NFD_TITLE,
        authors=[unicodedata.normalize("NFD", "Đặng Văn Đức")],
        subjects=["Thư viện học"],
        year=2016,
        member="vnu",
        abstract=unicodedata.normalize("NFD", "Nghiên cứu mô hình thư viện số tại các trường đại học."),
    ),
    make_doc(
        "n02",
        "Thư viện đại học trong kỷ nguyên số",
        authors=["Hoàng Thị Mai"],
        subjects=["Thư viện học"],
        year=2023,
        member="hanoi-nl",
        type="article",
        issn=["1859-3100"],
    ),
    make_doc(
        "n03",
        "Lịch sử Đà Nẵng",
        authors=["Nguyễn Thị Vân"],
        subjects=["Lịch sử", "Địa phương"],
        year=1998,
        member="hanoi-nl",
    ),
    make_doc(
        "n04",
        "Văn hóa dân gian Việt Nam",
        authors=["Nguyễn Văn An"],
        subjects=["Văn hóa"],
        year=2005,
        member="hcm-lib",
        publisher="Nhà xuất bản Văn hóa",
    ),
    make_doc(
        "n05",
        "Kinh tế Việt Nam sau đổi mới",
        authors=["Trần Văn Hùng"],
        subjects=["Kinh tế học"],
        year=2010,
        member="vnu",
        type="report",
    ),
    make_doc(
        "e01",
        "Introduction to Algorithms",
        authors=["Cormen, Thomas H.", "Leiserson, Charles E."],
        subjects=["Computer algorithms", "Computer programming"],
        year=2009,
        language="eng",
        member="hust",
        isbn=["9780262033848"],
        publisher="MIT Press",
    ),
    make_doc(
        "e02",
        "Deep learning",
        authors=["LeCun, Yann", "Bengio, Yoshua", "Hinton, Geoffrey"],
        subjects=["Machine learning"],
        year=2015,
        language="eng",
        type="article",
        member="vnu",
        issn=["0028-0836"],
        doi=["https://doi.org/10.1038/NATURE14539"],
        abstract="Deep learning allows computational models composed of multiple processing layers.",
    ),
    make_doc(
        "e03",
        "Computer science: an overview",
        authors=["Brookshear, J. Glenn"],
        subjects=["Computer science"],
        year=2012,
        language="eng",
        member=["hust", "vnu"],
    ),
    make_doc(
        "e04",
        "Computational linguistics for Vietnamese",
        authors=["Nguyen, Thi Minh Huyen"],
        subjects=["Computational linguistics", "Vietnamese language"],
        year=2020,
        language="eng",
        type="thesis",
        member="vnu",
    ),
    make_doc(
        "e05",
        "Python programming for data science",
        authors=["VanderPlas, Jake"],
        subjects=["Python (Computer program language)", "Computer programming"],
        year=2016,
        language="eng",
        member=["ctu", "hust"],
        isbn=["978-1-4919-1205-8"],
    ),
    make_doc(
        "e06",
        "The history of Vietnam",
        authors=["Nguyen, Van Bao"],
        subjects=["Lịch sử"],
        year=None,
        language="eng",
        member="ctu",
    ),
    make_doc(
        "e07",
        "Library science and digital libraries",
        authors=["Tran, Thi Mai"],
        subjects=["Library science"],
        year=2000,
        language="eng",
        member="ctu",
        type="article",
    ),
    make_doc(
        "v01",
        "Thuật toán và cấu trúc dữ liệu",
        authors=["Nguyễn Đức Nghĩa"],
        subjects=["Tin học", "Computer algorithms"],
        year=2013,
        member="hust",
    ),
    make_doc(
        "v02", "Cơ sở dữ liệu", authors=["Đỗ Trung Tuấn"], subjects=["Tin học"], year=2013, member="ctu"
    ),
    make_doc(
        "v03",
        "Máy tính và xã hội",
        authors=["Lê Văn Tâm"],
        subjects=["Xã hội học"],
        year=2008,
        member="ctu",
        type="report",
        language=None,
    ),
]
BY_ID = {d.id: d for d in CORPUS}
