"""SRU diagnostics (``info:srw/diagnostic/1/N``), the protocol's own error form.

SruDiagnostic
└── one instance per condition, by number (the standard's list: loc.gov/standards/sru/diagnostics)

Like the OAI-PMH errors of ``app/protocols/oai/errors.py``, they stand outside the ``LienhopError``
tree on purpose: SRU answers them inside a 200 response as ``<diagnostics>`` (``xml.py``), never as a
problem+json document, so no HTTP status belongs to them and ``app/errors.py`` must never see one.
"""

from __future__ import annotations

PREFIX = "info:srw/diagnostic/1/"

GENERAL = 1
UNSUPPORTED_OPERATION = 4
UNSUPPORTED_VERSION = 5
UNSUPPORTED_PARAMETER_VALUE = 6
MANDATORY_PARAMETER = 7
UNSUPPORTED_PARAMETER = 8
QUERY_SYNTAX = 10
UNSUPPORTED_INDEX = 16
UNSUPPORTED_RELATION = 19
UNSUPPORTED_RELATION_MODIFIER = 20
EMPTY_TERM = 27
MASKING_UNSUPPORTED = 28
INVALID_TERM = 36
UNSUPPORTED_BOOLEAN = 37
UNSUPPORTED_BOOLEAN_MODIFIER = 46
FIRST_RECORD_OUT_OF_RANGE = 61
UNKNOWN_SCHEMA = 66
UNSUPPORTED_PACKING = 71
XPATH_UNSUPPORTED = 72
SORT_UNSUPPORTED = 80
STYLESHEETS_UNSUPPORTED = 110

MESSAGES = {
    GENERAL: "General system error",
    UNSUPPORTED_OPERATION: "Unsupported operation",
    UNSUPPORTED_VERSION: "Unsupported version",
    UNSUPPORTED_PARAMETER_VALUE: "Unsupported parameter value",
    MANDATORY_PARAMETER: "Mandatory parameter not supplied",
    UNSUPPORTED_PARAMETER: "Unsupported parameter",
    QUERY_SYNTAX: "Query syntax error",
    UNSUPPORTED_INDEX: "Unsupported index",
    UNSUPPORTED_RELATION: "Unsupported relation",
    UNSUPPORTED_RELATION_MODIFIER: "Unsupported relation modifier",
    EMPTY_TERM: "Empty term unsupported",
    MASKING_UNSUPPORTED: "Masking character not supported",
    INVALID_TERM: "Term in invalid format for index or relation",
    UNSUPPORTED_BOOLEAN: "Unsupported boolean operator",
    UNSUPPORTED_BOOLEAN_MODIFIER: "Unsupported boolean modifier",
    FIRST_RECORD_OUT_OF_RANGE: "First record position out of range",
    UNKNOWN_SCHEMA: "Unknown schema for retrieval",
    UNSUPPORTED_PACKING: "Record packing unsupported",
    XPATH_UNSUPPORTED: "XPath retrieval unsupported",
    SORT_UNSUPPORTED: "Sort not supported",
    STYLESHEETS_UNSUPPORTED: "Stylesheets not supported",
}


class SruDiagnostic(Exception):
    """A diagnostic: its number, ``details`` (the standard's: the offending index, relation,
    parameter...) and a message for people."""

    def __init__(self, number: int, details: str | None = None, message: str | None = None) -> None:
        self.number = number
        self.details = details
        self.message = message or MESSAGES.get(number, "Diagnostic")
        super().__init__(f"{self.uri}: {self.message}" + (f" ({details})" if details else ""))

    @property
    def uri(self) -> str:
        return f"{PREFIX}{self.number}"
