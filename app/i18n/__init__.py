"""The pages' one message catalogue: Vietnamese by default, English on request.

Message ids are English (gettext's habit, so an untranslated id still reads as a sentence); the
Vietnamese catalogue is ``locale/vi/LC_MESSAGES/messages.po``, read with Babel when first needed and
compiled in memory, so no binary ``.mo`` file is kept in the repository. English needs no catalogue.
``babel.cfg`` beside this file says how to extract and update the messages with ``pybabel``.

Every label a page shows goes through here: interface text, facet names, and the values behind codes
(record types, languages, member statuses, harvest schedules), and the query errors of the search.
"""

from __future__ import annotations

import re
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
COOKIE = "lienhop_lang"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"


def N_(message: str) -> str:
    """Marks a message for the catalogue without translating it (translated where it is shown)."""
    return message


#: Record types (``schemas.record.RECORD_TYPES``): the facet values and the type of each hit.
TYPE_NAMES = {
    "book": N_("Book"),
    "thesis": N_("Thesis"),
    "article": N_("Article"),
    "report": N_("Report"),
    "conference": N_("Conference paper"),
    "journal": N_("Journal"),
    "dataset": N_("Dataset"),
    "other": N_("Other"),
}

#: Languages of the records (ISO 639-3) the consortium's members catalogue most; others show their code.
LANGUAGE_NAMES = {
    "vie": N_("Vietnamese"),
    "eng": N_("English"),
    "fra": N_("French"),
    "rus": N_("Russian"),
    "zho": N_("Chinese"),
    "deu": N_("German"),
    "jpn": N_("Japanese"),
    "kor": N_("Korean"),
    "spa": N_("Spanish"),
    "lao": N_("Lao"),
    "khm": N_("Khmer"),
    "tha": N_("Thai"),
    "mul": N_("Multiple languages"),
    "und": N_("Undetermined"),
}

#: ISO 639-3 -> the BCP 47 tag of an HTML ``lang`` attribute.
HTML_LANG = {
    "vie": "vi", "eng": "en", "fra": "fr", "rus": "ru", "zho": "zh", "deu": "de", "jpn": "ja",
    "kor": "ko", "spa": "es", "lao": "lo", "khm": "km", "tha": "th",
}  # fmt: skip

FACET_NAMES = {
    "member": N_("Library"),
    "type": N_("Type"),
    "language": N_("Language"),
    "subject": N_("Subject"),
    "year": N_("Year"),
}

SORT_NAMES = {
    "relevance": N_("Relevance"),
    "year_desc": N_("Newest first"),
    "year_asc": N_("Oldest first"),
    "title": N_("Title (A–Z)"),
}

STATUS_NAMES = {"member": N_("Member"), "observer": N_("Observer")}

SCHEDULE_NAMES = {
    "hourly": N_("Hourly"),
    "daily": N_("Daily"),
    "weekly": N_("Weekly"),
    "manual": N_("Manual"),
}

RUN_KINDS = {"harvest": N_("Harvest"), "import": N_("Import")}

#: Why a record joined its work (``schemas.work.JoinedBy``: ``isbn:<value>``, ``doi:<value>``,
#: ``issn:<value>``, ``title``, ``curator``), in words a researcher reads on the work page.
JOIN_REASONS = {
    "isbn": N_("joined by the same ISBN %(value)s"),
    "issn": N_("joined by the same ISSN %(value)s"),
    "doi": N_("joined by the same DOI %(value)s"),
    "title": N_("joined by the same title, author and year"),
    "curator": N_("joined by a curator"),
}

#: The search's query errors (``search/query.py``), matched on their English detail.
QUERY_ERRORS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), message)
    for pattern, message in (
        (r"^unclosed quote$", N_("a quotation mark is not closed")),
        (r"^unclosed parenthesis$", N_("a parenthesis is not closed")),
        (r"^unmatched '\)'$", N_("a closing parenthesis has no opening one")),
        (r"^empty parentheses$", N_("the parentheses are empty")),
        (r"^unknown field '(?P<field>[^']*):'", N_("unknown field “%(field)s:”")),
        (r"^'(?P<word>[^']*)' needs a term after it$", N_("“%(word)s” needs a word after it")),
        (r"^'(?P<word>[^']*)' needs a term before it$", N_("“%(word)s” needs a word before it")),
        (r"^field '(?P<field>[^']*):' needs a value$", N_("the field “%(field)s:” needs a value")),
        (r"^field '(?P<field>[^']*):' has no searchable words$", N_("the field “%(field)s:” has no words to search")),  # noqa: E501
        (r"^query nested more than", N_("the query is nested too deeply")),
        (r"^'\*' is only allowed at the end", N_("“*” may only end a word")),
        (r"^'\*' needs a few letters", N_("“*” needs a few letters before it")),
        (r"^invalid ISBN '(?P<value>[^']*)'", N_("“%(value)s” is not a valid ISBN")),
        (r"^invalid ISSN '(?P<value>[^']*)'", N_("“%(value)s” is not a valid ISSN")),
        (r"^invalid DOI '(?P<value>[^']*)'", N_("“%(value)s” is not a valid DOI")),
        (r"^unknown type '(?P<value>[^']*)'", N_("“%(value)s” is not a known type")),
        (r"^bad year range '(?P<value>[^']*)'", N_("the year range “%(value)s” ends before it starts")),
        (r"^bad year '(?P<value>[^']*)'", N_("“%(value)s” is not a year (use 2015, 2015..2020, ..2000 or 2015..)")),  # noqa: E501
        (r"^unexpected value$", N_("unexpected value")),
    )
)  # fmt: skip

#: Letters of Vietnamese that English text never has: data without a language code (subjects, names,
#: publishers) that has one of them is marked ``lang="vi"`` in an English page.
VIETNAMESE_LETTERS = re.compile(
    "[ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹàáèéìíòóùúýãõĩũ]", re.IGNORECASE
)

#: Titles of error pages by HTTP status.
ERROR_TITLES = {
    400: N_("The query cannot be read"),
    401: N_("Sign-in required"),
    404: N_("Page not found"),
    409: N_("Conflict"),
    422: N_("Invalid parameter"),
    503: N_("Search is unavailable for a moment"),
}


@cache
def translations(lang: str) -> NullTranslations:
    """The catalogue of ``lang`` (English: the ids themselves)."""
    if lang == "en":
        return NullTranslations()
    with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=lang)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out, as msgfmt does
    compiled.seek(0)
    return Translations(fp=compiled, domain="messages")


def choose_language(query: list[str], cookie: str | None) -> tuple[str, bool]:
    """The page language from ``?lang=vi|en`` (which the cookie then remembers) or the cookie.

    ``lang`` also filters records by ISO 639-3 language (``lang=eng``): only the two-letter interface
    values choose the page language. Returns the language and whether the query chose it.
    """
    for value in query:
        if value in LANGUAGES:
            return value, True
    if cookie in LANGUAGES:
        return str(cookie), False
    return DEFAULT_LANGUAGE, False


class PageText:
    """Translation for one page: ``_``, ``ngettext`` and the labels of coded values."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self._t = translations(self.lang)

    def gettext(self, msgid: str, /, **values: Any) -> str:
        text = self._t.gettext(msgid)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, count: int, /, **values: Any) -> str:
        values.setdefault("num", count)
        return self._t.ngettext(singular, plural, count) % values

    def label(self, table: dict[str, str], code: str | None) -> str:
        """The translated name of ``code`` in ``table``, or the code itself when it has none."""
        if code is None:
            return ""
        known = table.get(code)
        return self.gettext(known) if known else code

    def type_name(self, code: str | None) -> str:
        return self.label(TYPE_NAMES, code)

    def language_name(self, code: str | None) -> str:
        return self.label(LANGUAGE_NAMES, code)

    def schedule_name(self, code: str | None) -> str:
        return self.label(SCHEDULE_NAMES, code or "manual")

    def status_name(self, code: str | None) -> str:
        return self.label(STATUS_NAMES, code)

    def run_kind(self, code: str | None) -> str:
        return self.label(RUN_KINDS, code)

    def join_reason(self, joined_by: str | None) -> str:
        """Why a record belongs to its work (``isbn:978…`` -> "joined by the same ISBN 978…"); empty for
        the record the work's explanation starts from, the label itself for a reason without words."""
        if not joined_by:
            return ""
        kind, _, value = joined_by.partition(":")
        message = JOIN_REASONS.get(kind)
        if message is None:
            return joined_by
        return self.gettext(message, value=value) if value else self.gettext(message)

    def html_lang(self, iso639_3: str | None, text: str | None = None) -> str | None:
        """The ``lang`` attribute for content in ``iso639_3`` when it differs from the page's language;
        without a code, Vietnamese ``text`` in an English page is marked as such."""
        tag = HTML_LANG.get(iso639_3 or "")
        if tag is None and text and VIETNAMESE_LETTERS.search(text):
            tag = "vi"
        return tag if tag and tag != self.lang else None

    def query_error(self, detail: str, position: int | None) -> str:
        """A query error of the search in this language, with where it is."""
        bare = re.sub(r" at position \d+$", "", detail)
        message = None
        for pattern, text in QUERY_ERRORS:
            found = pattern.search(bare)
            if found:
                message = self.gettext(text, **found.groupdict())
                break
        message = message or self.gettext("the query has a mistake")
        if position is None:
            return message
        return self.gettext("%(message)s (at character %(position)s)", message=message, position=position + 1)

    def error_title(self, status: int) -> str:
        title = ERROR_TITLES.get(status)
        if title:
            return self.gettext(title)
        return self.gettext("Something went wrong")
