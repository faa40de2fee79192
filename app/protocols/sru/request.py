"""An SRU request read from its parameters (SRU 1.1/1.2 and 2.0), or the diagnostic that refuses it.

SRU 1.x names the operation (``operation=explain|searchRetrieve``) and the version; SRU 2.0 has no
``operation``: a request with a ``query`` is a searchRetrieve, one without an explain. Without a
``version``, a request naming an ``operation`` is read as 1.2, otherwise as 2.0. A parameter SRU
does not define is diagnostic 8 (``x-`` extensions are ignored, as the standard says).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from . import diagnostics as d
from .diagnostics import SruDiagnostic

VERSIONS = ("1.1", "1.2", "2.0")
DEFAULT_RECORDS = 10
MAX_RECORDS = 100
#: Record schemas: accepted names -> (short name, identifier)
SCHEMAS = {
    "dc": "dc",
    "info:srw/schema/1/dc-v1.1": "dc",
    "info:srw/schema/1/dc-schema": "dc",
    "oai_dc": "dc",
    "marcxml": "marcxml",
    "marc21": "marcxml",
    "info:srw/schema/1/marcxml-v1.1": "marcxml",
    "http://www.loc.gov/marc21/slim": "marcxml",
}
SCHEMA_IDS = {"dc": "info:srw/schema/1/dc-v1.1", "marcxml": "info:srw/schema/1/marcxml-v1.1"}
_KNOWN = {
    "operation", "version", "query", "startRecord", "maximumRecords", "recordPacking", "recordSchema",
    "recordXPath", "resultSetTTL", "sortKeys", "stylesheet", "extraRequestData", "recordXMLEscaping",
    "httpAccept", "queryType", "renderedBy", "responseType", "facetLimit", "facetStart", "facetSort",
    "facetCount", "lang",
}  # fmt: skip
_REFUSED = {
    "recordXPath": (d.XPATH_UNSUPPORTED, "XPath retrieval unsupported"),
    "sortKeys": (d.SORT_UNSUPPORTED, "Use sortBy in the query (CQL 1.2)"),
    "stylesheet": (d.STYLESHEETS_UNSUPPORTED, "Stylesheets not supported"),
}


@dataclass
class SruRequest:
    operation: str = "explain"
    version: str = "1.2"
    query: str = ""
    start: int = 1
    maximum: int = DEFAULT_RECORDS
    schema: str = "dc"
    packing: str = "xml"  # "xml" or "string": SRU 1.2's recordPacking, 2.0's recordXMLEscaping

    def echo(self) -> dict[str, str]:
        """What ``echoedSearchRetrieveRequest`` repeats."""
        if self.operation != "searchRetrieve":
            return {}
        return {
            "version": self.version,
            "query": self.query,
            "startRecord": str(self.start),
            "maximumRecords": str(self.maximum),
            ("recordXMLEscaping" if self.version == "2.0" else "recordPacking"): self.packing,
            "recordSchema": SCHEMA_IDS[self.schema],
        }


def version_of(params: dict[str, str]) -> str:
    """The version to answer in (also for a diagnostic about the request itself)."""
    version = params.get("version")
    if version is not None and version in VERSIONS:
        return version
    return "1.2" if "operation" in params or version else "2.0"


def read_request(pairs: Iterable[tuple[str, str]]) -> tuple[SruRequest, SruDiagnostic | None]:
    """The request, and the fatal diagnostic about it if there is one (the request as far as read)."""
    params: dict[str, str] = {}
    request = SruRequest()
    try:
        for name, value in pairs:
            if name in params:
                raise SruDiagnostic(d.UNSUPPORTED_PARAMETER_VALUE, name, f"{name} given more than once")
            params[name] = value
        request.version = version_of(params)
        request.operation = params.get("operation") or ("searchRetrieve" if "query" in params else "explain")
        _read(request, params)
    except SruDiagnostic as diagnostic:
        return request, diagnostic
    return request, None


def _read(request: SruRequest, params: dict[str, str]) -> None:
    given = params.get("version")
    if given is not None and given not in VERSIONS:
        raise SruDiagnostic(
            d.UNSUPPORTED_VERSION, "2.0", f"Unsupported version {given!r} (1.1, 1.2 and 2.0 are)"
        )
    if request.operation not in ("explain", "searchRetrieve"):
        raise SruDiagnostic(
            d.UNSUPPORTED_OPERATION, request.operation, f"Unsupported operation {request.operation!r}"
        )
    for name in params:
        if name not in _KNOWN and not name.startswith("x-"):
            raise SruDiagnostic(d.UNSUPPORTED_PARAMETER, name, f"Unsupported parameter {name}")
    for name, (number, message) in _REFUSED.items():
        if params.get(name):
            raise SruDiagnostic(number, name, message)
    query_type = params.get("queryType", "cql")
    if query_type != "cql":
        raise SruDiagnostic(d.UNSUPPORTED_PARAMETER_VALUE, "queryType", "queryType cql only")
    packing_name = "recordXMLEscaping" if request.version == "2.0" else "recordPacking"
    packing = params.get(packing_name, "xml")
    if packing not in ("xml", "string"):
        raise SruDiagnostic(d.UNSUPPORTED_PACKING, packing, f"{packing_name} xml or string")
    if request.version == "2.0" and params.get("recordPacking", "packed") not in ("packed", "unpacked"):
        raise SruDiagnostic(
            d.UNSUPPORTED_PARAMETER_VALUE, "recordPacking", "recordPacking packed or unpacked"
        )
    request.packing = packing
    if request.operation == "explain":
        return
    if "query" not in params or not params["query"].strip():
        raise SruDiagnostic(d.MANDATORY_PARAMETER, "query", "Mandatory parameter not supplied: query")
    request.query = params["query"]
    request.start = _integer(params, "startRecord", 1, minimum=1)
    request.maximum = min(_integer(params, "maximumRecords", DEFAULT_RECORDS, minimum=0), MAX_RECORDS)
    schema = params.get("recordSchema", "dc")
    if schema.lower() not in SCHEMAS:
        raise SruDiagnostic(d.UNKNOWN_SCHEMA, schema, f"Unknown schema {schema!r} (dc or marcxml)")
    request.schema = SCHEMAS[schema.lower()]


def _integer(params: dict[str, str], name: str, default: int, minimum: int) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    if not text.isdigit() or int(text) < minimum or len(text) > 9:
        raise SruDiagnostic(d.UNSUPPORTED_PARAMETER_VALUE, name, f"{name} must be an integer >= {minimum}")
    return int(text)
