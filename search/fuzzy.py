"""Typo tolerance: how many slips a word may have, which indexed words it may have meant, and the
corrected query every backend runs when the query as typed finds too little (``search.semantics``).

The engines match the slipped words themselves (tantivy's fuzzy term queries, the fuzzy queries of
Elasticsearch/OpenSearch, both Damerau: a swap of two neighbours is one edit). What is decided here,
in Python and so identically for every backend: the edit budget of each word, the indexed words a word
unknown to the index may have meant (its ranking alternatives), the words left optional because
nothing in the index is near them, and the corrected query's ranking.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from rapidfuzz.distance import OSA

from .query_ast import And, Node, Not, Or, ParsedQuery, Term

#: The query as typed finds fewer hits than this: words are also matched within their edit budget.
FEW_HITS = 5
#: Ranking alternatives kept per unknown word (closest first, then most frequent in the index).
MAX_ALTERNATIVES = 3
#: Ranking terms of a corrected query (every backend ranks by at most 8 terms).
MAX_RANKED = 8
#: Letters a slip can put into a folded word (folded text holds no diacritics; digits are not slipped
#: into words often enough to pay for the look-ups).
ALPHABET = "abcdefghijklmnopqrstuvwxyz"
#: Longer words are searched by prefix in the vocabulary for two-edit neighbours (``_far_neighbours``).
_FAR_SCAN = 5000


def edit_budget(token: str) -> int:
    """How many edits a folded word may be from an indexed word it is matched with.

    Most folded Vietnamese syllables have 2 to 4 letters (``so``, ``thu``, ``cua``) and none more than 7
    (``nghieng``). One edit forgives one slip of the finger in any of them, including the two-letter
    ones, whose slips (``so`` -> ``os``, ``thu`` -> ``th``) are exactly what phone typing produces; the
    other words of the query keep such a short word from matching half the catalogue, and the exact
    and folded matches still rank first. Two edits in a syllable of 4 to 7 letters would turn it into
    a dozen other syllables (``nghiep`` -> ``nghe``, ``nghia``, ``nghiem``, ``ngheo``): a flood, not a
    correction. Only words longer than any syllable (``algorithms``, ``programming``, names run
    together) get two. A single letter or digit is never corrected.
    """
    n = len(token)
    if n < 2:
        return 0
    return 1 if n < 8 else 2


def damerau(a: str, b: str, limit: int = 2) -> int:
    """Optimal-string-alignment distance (a swap of neighbours is one edit), or ``limit + 1`` beyond it.

    The distance the engines' automata use with transpositions on.
    """
    return int(OSA.distance(a, b, score_cutoff=limit))


def edits1(word: str) -> set[str]:
    """Every string one edit (Damerau) away from ``word`` over ``ALPHABET``."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {left + right[1:] for left, right in splits if right}
    out |= {left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1}
    out |= {left + c + right[1:] for left, right in splits if right for c in ALPHABET}
    out |= {left + c + right for left, right in splits for c in ALPHABET}
    out.discard(word)
    out.discard("")
    return out


class Lexicon(Protocol):
    """What corrections need of a backend: its folded vocabulary (``text_folded``)."""

    async def frequencies(self, words: Sequence[str]) -> dict[str, int]: ...

    async def vocabulary(
        self, folded_prefix: str, limit: int, near: tuple[str, int] | None = None
    ) -> list[tuple[str, int]]: ...


@dataclass(frozen=True)
class Slip:
    """A typed folded word and the indexed words it may have meant (closest, then most frequent)."""

    token: str
    known: bool  # the index holds the word as typed
    candidates: tuple[str, ...]


async def neighbours(lexicon: Lexicon, tokens: Iterable[str]) -> dict[str, Slip]:
    """The ``Slip`` of every distinct token with an edit budget."""
    wanted = [t for t in dict.fromkeys(tokens) if edit_budget(t) > 0]
    if not wanted:
        return {}
    variants = {t: edits1(t) for t in wanted}
    asked = sorted(set(wanted).union(*variants.values()))
    long = [t for t in wanted if edit_budget(t) > 1]
    # Neither look-up needs the other's answer: asked side by side, a search node works on them at once.
    scans = asyncio.gather(*(_far_neighbours(lexicon, t) for t in long))
    df, scanned = await asyncio.gather(lexicon.frequencies(asked), scans)
    far = dict(zip(long, scanned, strict=True))
    slips: dict[str, Slip] = {}
    for token in wanted:
        found = {w: (1, n) for w in variants[token] if (n := df.get(w, 0)) > 0}
        for word, n in far.get(token, ()):
            found.setdefault(word, (damerau(token, word), n))
        ranked = sorted(found, key=lambda w: (found[w][0], -found[w][1], w))
        slips[token] = Slip(token, df.get(token, 0) > 0, tuple(ranked))
    return slips


async def _far_neighbours(lexicon: Lexicon, token: str) -> list[tuple[str, int]]:
    # Two edits cannot be enumerated (tens of thousands of strings): long words are rarely slipped in
    # their first two letters, so the words sharing them are scanned.
    budget = edit_budget(token)
    scanned = await lexicon.vocabulary(token[:2], _FAR_SCAN, near=(token, budget))
    return [(w, n) for w, n in scanned if w != token and damerau(token, w, budget) <= budget]


@dataclass(frozen=True)
class Correction:
    """The corrected query, and the alternatives of each word unknown to the index."""

    query: ParsedQuery
    alternatives: dict[str, tuple[str, ...]]  # unknown typed word -> indexed words, best first
    dropped: frozenset[str]  # words nothing in the index is near: left optional

    @property
    def slipped(self) -> bool:
        """Whether a word of the query is unknown to the index."""
        return bool(self.alternatives or self.dropped)


def fuzzable(term: Term) -> list[int]:
    """Positions of ``term``'s tokens that may be matched within their edit budget.

    Not a quoted phrase (quoting asks for those words), nor the prefix of ``comput*``.
    """
    if term.phrase:
        return []
    last = len(term.folded) - 1
    return [i for i, t in enumerate(term.folded) if not (term.prefix and i == last) and edit_budget(t) > 0]


def _letters(term: Term) -> list[int]:
    """Positions of single letters (or digits) of an unquoted term, its prefix aside."""
    last = len(term.folded) - 1
    return [
        i
        for i, t in enumerate(term.folded)
        if len(t) == 1 and not term.phrase and not (term.prefix and i == last)
    ]


def meant_run(typed: Sequence[str], titles: Iterable[Sequence[str]]) -> tuple[str, ...] | None:
    """The run of title words the typed folded words most likely meant, read from ``titles`` (the folded
    words of the first hits of the corrected search, best first): consecutive words each within its
    edit budget of a typed word (a lone letter: one edit), the run found in most titles, then the one
    found first. ``None`` when no title has one, or a title holds the words as typed (then they were
    meant: a rare title, not a slip).

    This is where the index's word pairs and longer runs correct a slip that made another real word
    (``nong nghiep hien dia`` -> ``hien dai``), which the vocabulary alone cannot tell.
    """
    n = len(typed)
    if n < 2:
        return None
    budgets = [max(1, edit_budget(t)) for t in typed]
    seen: dict[tuple[str, ...], list[int]] = {}
    for rank, words in enumerate(titles):
        found: set[tuple[str, ...]] = set()
        for start in range(len(words) - n + 1):
            run = tuple(words[start : start + n])
            if run not in found and all(
                damerau(t, w, b) <= b for t, w, b in zip(typed, run, budgets, strict=True)
            ):
                found.add(run)
        for run in found:
            seen.setdefault(run, [0, rank])[0] += 1
    if not seen or tuple(typed) in seen:
        return None
    return min(seen, key=lambda r: (-seen[r][0], seen[r][1], r))


def in_titles(query: ParsedQuery) -> ParsedQuery:
    """``query`` (a corrected one) matched and ranked in titles alone: what ``meant_run`` reads comes
    from titles, and titles are short, so this costs a fraction of the whole query."""

    def titled(node: Node) -> Node:
        if isinstance(node, Term):
            return replace(node, field="title") if node.field == "any" else node
        if isinstance(node, And | Or):
            return type(node)(tuple(titled(item) for item in node.items))
        return node

    terms = tuple(replace(t, field="title") if t.field == "any" else t for t in query.positive_terms)
    return replace(query, root=titled(query.root), positive_terms=terms)


def with_run(correction: Correction, term: Term, run: tuple[str, ...]) -> Correction:
    """``correction`` ranking first by ``run``, the words ``term`` meant (``meant_run``)."""
    meant = Term(term.field, (), run, prefix=term.prefix)
    query = correction.query
    terms = (meant, *(t for t in query.positive_terms if t != meant))[:MAX_RANKED]
    alternatives = {**correction.alternatives}
    for typed, word in zip(term.folded, run, strict=True):
        if typed != word:
            alternatives[typed] = (word, *(w for w in alternatives.get(typed, ()) if w != word))
    return replace(correction, query=replace(query, positive_terms=terms), alternatives=alternatives)


async def plan(parsed: ParsedQuery, lexicon: Lexicon) -> Correction | None:
    """The corrected query of ``parsed`` (``None`` when there is nothing to correct).

    Matching: every word of an unquoted positive term matches within its edit budget; a word with no
    indexed word within it is left out (optional). Ranking, in this order of strength: the documents
    matching the query as typed (``ParsedQuery.as_typed``), then the usual clauses of each term with
    its unknown words replaced by their alternatives (folded only: a correction has no diacritics to
    reward), plus the exact words that were typed right.
    """
    terms = [t for t in parsed.positive_terms if fuzzable(t)]
    if not terms:
        return None
    slips = await neighbours(lexicon, [t.folded[i] for t in terms for i in fuzzable(t)])
    dropped = frozenset(s.token for s in slips.values() if not s.known and not s.candidates)
    # A lone letter has no edit budget: the slip of a two-letter word (``so`` -> ``s``), or a stray key.
    dropped |= frozenset(t.folded[i] for t in terms for i in _letters(t))
    alternatives = {
        s.token: s.candidates[:MAX_ALTERNATIVES] for s in slips.values() if not s.known and s.candidates
    }
    if not slips:
        return None
    fuzzed: dict[Term, Term | None] = {t: _fuzzy(t, dropped) for t in terms}
    root = _rewrite(parsed.root, fuzzed)
    if root is None:
        return None
    ranking: list[Term] = []
    for term in parsed.positive_terms:
        ranking.extend(_ranking(term, alternatives, dropped) if term in fuzzed else [term])
    # Each word typed right on its own, last: the documents holding more of them come first among
    # those matched by correction (and give ``meant_run`` its titles).
    for term in terms:
        for token in term.folded:
            single = Term(term.field, (), (token,))
            if len(term.folded) > 1 and token in slips and slips[token].known and single not in ranking:
                ranking.append(single)
    query = ParsedQuery(
        root=root, text=parsed.text, positive_terms=tuple(ranking[:MAX_RANKED]), as_typed=parsed.root
    )
    return Correction(query, alternatives, dropped)


def narrowed(correction: Correction) -> Correction:
    """``correction`` matching the words it has no alternative for as typed (folded), not within their
    edit budget: only the words unknown to the index, and those the titles say were slipped into
    another real word (``with_run``), are still matched fuzzily.

    Matching every word fuzzily is what lets the first titles show which words were meant
    (``in_titles``, ``meant_run``); once that is known, the words typed right matched within an edit
    only flood the answer (``hoc`` also matches ``ho``, ``hoa``, ``hac`` ...: hundreds of thousands of
    documents, every one of them ranked and counted in the facets) with documents that rank below
    every document holding the word itself.
    """

    def narrow(node: Node) -> Node:
        if isinstance(node, Term) and node.fuzzy:
            budgets = tuple(
                b if t in correction.alternatives else 0 for t, b in zip(node.folded, node.fuzzy, strict=True)
            )
            return replace(node, fuzzy=budgets if any(budgets) else ())
        if isinstance(node, And | Or):
            return type(node)(tuple(narrow(item) for item in node.items))
        return node

    query = correction.query
    return replace(correction, query=replace(query, root=narrow(query.root)))


def _fuzzy(term: Term, dropped: frozenset[str]) -> Term | None:
    """``term`` matching within edit budgets, without its ``dropped`` words (``None``: none left)."""
    keep = [i for i, t in enumerate(term.folded) if t not in dropped]
    if not keep:
        return None
    positions = set(fuzzable(term))
    folded = tuple(term.folded[i] for i in keep)
    budgets = tuple(edit_budget(term.folded[i]) if i in positions else 0 for i in keep)
    return replace(term, exact=tuple(term.exact[i] for i in keep), folded=folded, fuzzy=budgets)


def _ranking(term: Term, alternatives: dict[str, tuple[str, ...]], dropped: frozenset[str]) -> list[Term]:
    """The ranking terms of a corrected term (``plan``)."""
    kept = [i for i, t in enumerate(term.folded) if t not in dropped]
    if not kept:
        return []
    slipped = [i for i in kept if term.folded[i] in alternatives]
    if not slipped:
        return [_sub(term, kept)]
    out: list[Term] = []
    rounds = max(len(alternatives[term.folded[i]]) for i in slipped)
    for k in range(rounds):
        folded = tuple(
            alternatives[t][min(k, len(alternatives[t]) - 1)] if t in alternatives else t
            for t in (term.folded[i] for i in kept)
        )
        candidate = Term(term.field, (), folded, prefix=term.prefix)
        if candidate not in out:
            out.append(candidate)
    right = [i for i in kept if i not in slipped]
    if right and any(term.exact[i] != term.folded[i] for i in right):
        out.append(_sub(term, right))  # the diacritics typed right still count
    return out


def _sub(term: Term, positions: Sequence[int]) -> Term:
    return Term(
        term.field,
        tuple(term.exact[i] for i in positions),
        tuple(term.folded[i] for i in positions),
        phrase=term.phrase,
        prefix=term.prefix and positions[-1] == len(term.folded) - 1,
    )


def _rewrite(node: Node, fuzzed: dict[Term, Term | None]) -> Node | None:
    """``node`` with its positive terms replaced (``None``: nothing left to match)."""
    if isinstance(node, Term):
        return fuzzed.get(node, node)
    if isinstance(node, And | Or):
        items = [r for item in node.items if (r := _rewrite(item, fuzzed)) is not None]
        if not items or (isinstance(node, And) and all(isinstance(i, Not) for i in items)):
            return None
        return items[0] if len(items) == 1 else type(node)(tuple(items))
    return node  # NOT, keywords and years stay as typed
