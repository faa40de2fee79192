"""What the user is told about a slipped query: the corrected query and the did-you-mean suggestion.

Both are the query with each slipped word replaced by the indexed word it most likely meant, spelled
the way the index spells it most often (with its diacritics: ``nong ngheip`` -> ``nông nghiệp``).
Which word was meant is read from the documents themselves: the titles of the first hits of the
corrected search (``fuzzy.meant_run``: the index's word pairs and longer runs) and its first hit.
Pure functions over what every backend returns, so every backend tells the same.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

from schemas.search import IndexDocument

from .analysis import fold, tokens
from .fuzzy import Correction
from .query_ast import ParsedQuery
from .semantics import apply_corrections


def document_words(doc: IndexDocument) -> list[str]:
    """The exact (NFC lower-case) words of what a hit shows: title, subtitle, authors, abstract."""
    parts = [doc.title, doc.subtitle, *doc.authors, doc.abstract]
    return tokens(" ".join(p for p in parts if p))


def chosen_words(parsed: ParsedQuery, correction: Correction, top: IndexDocument | None) -> dict[str, str]:
    """Typed folded word -> the folded indexed word meant, for the words matched only by correction
    (``""`` for a word left out).

    A word with alternatives (unknown to the index, or another real word by ``fuzzy.meant_run``) takes
    the first of them that ``top`` (the first hit) holds, else the first.
    """
    held = set(fold(w) for w in document_words(top)) if top is not None else set()
    out: dict[str, str] = {}
    for term in parsed.positive_terms:
        for token in term.folded:
            if token in out:
                continue
            options = correction.alternatives.get(token)
            if options:
                out[token] = next((w for w in options if w in held), options[0])
            elif token in correction.dropped:
                out[token] = ""  # matched nothing, left out
    return out


def spellings(docs: Iterable[IndexDocument]) -> dict[str, str]:
    """Folded word -> its most frequent exact spelling in ``docs`` (ties: code-point order)."""
    counts: Counter[str] = Counter()
    for doc in docs:
        counts.update(document_words(doc))
    best: dict[str, tuple[int, str]] = {}
    for word, n in counts.items():
        key = fold(word)
        if key not in best or (-n, word) < (-best[key][0], best[key][1]):
            best[key] = (n, word)
    return {key: word for key, (_, word) in best.items()}


def respelled(parsed: ParsedQuery, chosen: dict[str, str], docs: Sequence[IndexDocument]) -> str | None:
    """The query with ``chosen`` words put in, every word typed without diacritics spelled as the
    documents spell it; ``None`` when nothing was corrected."""
    if not chosen:
        return None
    spelled = spellings(docs)
    replace: dict[str, str] = {}
    for term in parsed.positive_terms:
        for exact, folded in zip(term.exact, term.folded, strict=True):
            target = chosen.get(folded, folded)
            if target != folded or exact == folded:  # corrected, or typed without diacritics
                replace[folded] = spelled.get(target, target)
    text = " ".join(apply_corrections(parsed.text, replace).split())
    text = _CLOSE.sub(")", _OPEN.sub("(", text))  # where a word left out was
    return unicodedata.normalize("NFC", text) or None


_OPEN = re.compile(r"\(\s+")
_CLOSE = re.compile(r"\s+\)")
