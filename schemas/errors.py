"""The Lienhop error tree. Each class carries the HTTP status the API answers with.

Classes defined in another module are drawn with it in brackets: they are raised there, on a path that
this module (which imports nothing of ours) cannot see. ``tests/test_docs.py`` imports every
module and fails when a subclass of ``LienhopError`` is missing from this drawing.

LienhopError (500)
├── WorkMoved (301: a work merged into another; carries the surviving id)
├── NotFound (404)
├── Conflict (409)
│   ├── MemberExists
│   ├── NotEligible (an observer promoted before its years of observation)
│   └── UsageDatabaseExists [schemas.usage]
├── InvalidInput (422)
│   ├── QuerySyntaxError (400, with position)
│   ├── NotAListVerb [harvesters.oai.errors]
│   ├── NoStoredMetadata [harvesters.rederive]
│   ├── TooManyIdentifiers (413: a batch lookup over 1,000) [app.protocols.lookup]
│   └── CounterFormatError (a COUNTER report file that cannot be read) [schemas.usage]
├── Unauthorized (401) [app.errors]
├── Forbidden (403) [app.errors]
├── UnsupportedMediaType (415: a body of a media type the route does not take) [app.errors]
├── TooManyRequests (429, with Retry-After) [app.errors]
├── HarvestError (502)
│   ├── OAIError (carries the OAI-PMH error code)
│   │   ├── KnownOAIError (one class per code of the protocol) [harvesters.oai.errors]
│   │   │   ├── BadArgument [harvesters.oai.errors]
│   │   │   ├── BadResumptionToken [harvesters.oai.errors]
│   │   │   ├── BadVerb [harvesters.oai.errors]
│   │   │   ├── CannotDisseminateFormat [harvesters.oai.errors]
│   │   │   ├── IdDoesNotExist [harvesters.oai.errors]
│   │   │   ├── NoRecordsMatch [harvesters.oai.errors]
│   │   │   ├── NoMetadataFormats [harvesters.oai.errors]
│   │   │   └── NoSetHierarchy [harvesters.oai.errors]
│   │   └── UnknownOAIError (a code the protocol does not define) [harvesters.oai.errors]
│   ├── MalformedPage [harvesters.oai.errors]
│   ├── ResumptionTokenLoop [harvesters.oai.errors]
│   ├── InvalidDatestamp [harvesters.oai.errors]
│   ├── ListOverrun (tokens past completeListSize) [harvesters.oai.errors]
│   ├── RefusedAddress (outbound policy) [harvesters.oai.errors]
│   ├── DeadlineExceeded [harvesters.oai.errors]
│   ├── RecordParseError [harvesters.records]
│   ├── MalformedXML [harvesters.xml]
│   ├── UnsafeXML (entity expansion, DTD, size cap)
│   └── MassDeletion (reconciliation refused) [harvesters.reconcile]
├── MarcImportError (422)
├── IndexingError [indexer.pipeline]
└── BackendUnavailable (503)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class LienhopError(Exception):
    """Root of every error Lienhop raises on purpose."""

    status: int = 500
    title: str = "Internal error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def to_problem(self) -> dict[str, object]:
        """An RFC 9457 problem document for this error."""
        return {"type": "about:blank", "title": self.title, "status": self.status, "detail": self.detail}


class WorkMoved(LienhopError):
    """A work merged into an older one: ``new_id`` is where its records are now."""

    status = 301
    title = "Work moved"

    def __init__(self, new_id: str) -> None:
        super().__init__(f"the work was merged into {new_id}")
        self.new_id = new_id

    def to_problem(self) -> dict[str, object]:
        problem = super().to_problem()
        problem["work_id"] = self.new_id
        return problem


class NotFound(LienhopError):
    status = 404
    title = "Not found"


class Conflict(LienhopError):
    status = 409
    title = "Conflict"


class MemberExists(Conflict):
    title = "Member already exists"


class NotEligible(Conflict):
    title = "Not eligible for full membership"


class InvalidInput(LienhopError):
    status = 422
    title = "Invalid input"


class QuerySyntaxError(InvalidInput):
    """A search query that cannot be parsed; ``position`` is the 0-based character offset."""

    status = 400
    title = "Query syntax error"

    def __init__(self, detail: str, position: int, query: str = "") -> None:
        super().__init__(f"{detail} at position {position}")
        self.position = position
        self.query = query

    def to_problem(self) -> dict[str, object]:
        problem = super().to_problem()
        problem["position"] = self.position
        return problem


class HarvestError(LienhopError):
    status = 502
    title = "Harvest failed"


class OAIError(HarvestError):
    """An OAI-PMH ``<error code="...">`` answer."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


class UnsafeXML(HarvestError):
    title = "Unsafe or oversized XML refused"


class MarcImportError(LienhopError):
    status = 422
    title = "MARC import failed"


class BackendUnavailable(LienhopError):
    status = 503
    title = "Search backend unavailable"


def validation_message(exc: ValidationError) -> str:
    """A pydantic ``ValidationError`` as one line: ``field: problem; field: problem``."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ())) or "value"
        parts.append(f"{where}: {error.get('msg', 'invalid').removeprefix('Value error, ')}")
    return "; ".join(parts)
