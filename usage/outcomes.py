"""What a SUSHI answer means for one member's month: load it, record it, retry it now, or later.

The codes are COUNTER's (Code of Practice R5.1, appendix F); the states are Lienhop's:

=============  ===============================================  ===========================================
state          codes                                            what happens
=============  ===============================================  ===========================================
ok             none, or only warnings (3040, 3050, 3060-3063)   the month's rows replace the stored ones
no_usage       3030                                             the month is replaced by nothing: zero use
not_ready      3031                                             recorded; the next harvest asks again
queued         1011 (after the in-run retries)                  recorded; the next harvest asks again
unauthorized   2000, 2010, 2011, 2020, 2030                     recorded; this member's other months of the
                                                                database are not asked in this run
unsupported    3000, 3010; 3032 without rows                    recorded; not asked again by default (rows
                                                                stored earlier stay)
error          anything else, transport failures, 5xx           recorded; the next harvest asks again
=============  ===============================================  ===========================================

Codes 1000, 1010, 1011 and 1020 (and HTTP 429/5xx) are retried inside the run with backoff first.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.usage import HarvestState

from .counter import CounterReport, SushiException

RETRY_NOW = frozenset({1000, 1010, 1011, 1020})
UNAUTHORIZED = frozenset({2000, 2010, 2011, 2020, 2030})
UNSUPPORTED = frozenset({3000, 3010})
NO_USAGE = 3030
NOT_READY = 3031
NO_LONGER = 3032
#: Warnings and informational codes that come with usable data.
NOTES = frozenset({3032, 3040, 3050, 3060, 3061, 3062, 3063, 3080})
#: States after which a default harvest does not ask for the month again.
DONE = frozenset({"ok", "no_usage", "unsupported"})


@dataclass(frozen=True)
class Verdict:
    state: HarvestState
    code: int | None = None
    message: str = ""
    retry_now: bool = False


def _is_note(exc: SushiException) -> bool:
    """A warning that comes with usable data (the codes with their own state are judged before)."""
    if exc.code is not None and (exc.code in NOTES or exc.code < 1000):
        return True
    return exc.severity.lower() in {"info", "warning", "debug"}  # R5's severities; R5.1 has none


def judge(report: CounterReport | None, http_status: int) -> Verdict:
    """The verdict on one answer (``report`` is None when the body was not COUNTER at all)."""
    if report is None:
        if http_status == 429 or http_status >= 500:
            return Verdict("error", None, f"HTTP {http_status}", retry_now=True)
        return Verdict("error", None, f"HTTP {http_status}: the answer is not a COUNTER report")
    exceptions = report.exceptions
    codes = {e.code for e in exceptions}
    text = "; ".join(str(e) for e in exceptions)
    for code_set, state in ((UNAUTHORIZED, "unauthorized"), (UNSUPPORTED, "unsupported")):
        if hit := sorted(c for c in codes if c in code_set):
            return Verdict(state, hit[0], text)  # type: ignore[arg-type]
    if hit := sorted(c for c in codes if c in RETRY_NOW):
        return Verdict("queued" if hit[0] == 1011 else "error", hit[0], text, retry_now=True)
    if report.rows:
        return Verdict("ok", None, text)
    if NOT_READY in codes:
        return Verdict("not_ready", NOT_READY, text)
    if NO_USAGE in codes:
        return Verdict("no_usage", NO_USAGE, text)
    if NO_LONGER in codes:  # the vendor purged the month: keep what was loaded before
        return Verdict("unsupported", NO_LONGER, text)
    blocking = [e for e in exceptions if not _is_note(e)]
    if blocking:
        return Verdict("error", blocking[0].code, text)
    if not report.report_id:
        return Verdict("error", None, f"HTTP {http_status}: an answer with neither report nor exception")
    if http_status >= 400:
        return Verdict("error", None, f"HTTP {http_status}" + (f": {text}" if text else ""))
    # a valid header with no items and no exception: the vendor counted nothing
    return Verdict("ok", None, text)
