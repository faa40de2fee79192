"""What the citation formats (RIS, BibTeX, CSL-JSON) read of a record alike: the full title, names
split into family and given parts, a two-letter language tag."""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import pycountry

from schemas.record import Record

# Vietnamese family names, in NFC. A name written without a comma ("Nguyễn Văn An") puts the family
# name first when it is Vietnamese and last otherwise ("John Smith"); a name with a comma is already
# "Family, Given" (as MARC 100 and most DC creators write it).
_FAMILY_NAMES = (
    "Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Trương Đinh Lâm Mai "
    "Trịnh Đoàn Lương Cao Tạ Hà Tô Chu Quách Châu Thái Kiều Vương La Đào Triệu Văn Từ Lục Hứa Khổng "
    "Tăng Âu Giang Thân Tống Mạc Hầu Lưu Diệp Nghiêm Viên Thạch Đàm Quan Nông Lò Phùng Doãn Kim"
)
VIETNAMESE_FAMILY_NAMES = frozenset(_FAMILY_NAMES.split())


def full_title(record: Record) -> str | None:
    """Title and subtitle as one string ("Title: subtitle")."""
    if record.title and record.subtitle:
        return f"{record.title}: {record.subtitle}"
    return record.title or record.subtitle


def split_name(name: str) -> tuple[str, str | None]:
    """(family, given) of a personal name; given is ``None`` for a one-word name or an organisation."""
    text = " ".join(unicodedata.normalize("NFC", name).split())
    if "," in text:
        family, _, given = text.partition(",")
        return family.strip(), given.strip() or None
    words = text.split(" ")
    if len(words) == 1:
        return text, None
    if words[0] in VIETNAMESE_FAMILY_NAMES:
        return words[0], " ".join(words[1:])
    return words[-1], " ".join(words[:-1])


def inverted_name(name: str) -> str:
    """ "Family, Given" (what RIS and BibTeX expect)."""
    family, given = split_name(name)
    return f"{family}, {given}" if given else family


@cache
def language_tag(code: str | None) -> str | None:
    """ISO 639-1 where one exists ("vie" -> "vi"), else the ISO 639-3 code."""
    if not code:
        return None
    language = pycountry.languages.get(alpha_3=code)
    return getattr(language, "alpha_2", None) or code


def ascii_fold(text: str) -> str:
    """Letters without diacritics (đ -> d), for keys that must be ASCII."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).encode("ascii", "ignore").decode()


def one_line(text: str) -> str:
    """Line breaks and runs of spaces as one space (line-based formats cannot hold a break)."""
    return re.sub(r"\s+", " ", text).strip()
