"""What an OAI-PMH exchange can go wrong with: one class per protocol error code, and the client's own.

HarvestError (schemas.errors)
├── OAIError (schemas.errors; carries the OAI-PMH error code)
│   ├── BadArgument              badArgument
│   ├── BadResumptionToken       badResumptionToken
│   ├── BadVerb                  badVerb
│   ├── CannotDisseminateFormat  cannotDisseminateFormat
│   ├── IdDoesNotExist           idDoesNotExist
│   ├── NoRecordsMatch           noRecordsMatch
│   ├── NoMetadataFormats        noMetadataFormats
│   ├── NoSetHierarchy           noSetHierarchy
│   └── UnknownOAIError          any other code, kept as the repository sent it
├── MalformedPage (with the bytes that could not be read)
├── ResumptionTokenLoop
├── ListOverrun               tokens running on past the declared completeListSize
├── InvalidDatestamp
├── RefusedAddress            a URL or redirect the outbound policy refuses (never retried)
└── DeadlineExceeded          a page or a run past its deadline
InvalidInput (schemas.errors)
└── NotAListVerb
"""

from __future__ import annotations

from schemas.errors import HarvestError, InvalidInput, OAIError


class KnownOAIError(OAIError):
    """An error code OAI-PMH 2.0 defines: the code is the class's."""

    code = ""

    def __init__(self, detail: str = "") -> None:
        super().__init__(self.code, detail)


class BadArgument(KnownOAIError):
    code = "badArgument"


class BadResumptionToken(KnownOAIError):
    code = "badResumptionToken"


class BadVerb(KnownOAIError):
    code = "badVerb"


class CannotDisseminateFormat(KnownOAIError):
    code = "cannotDisseminateFormat"


class IdDoesNotExist(KnownOAIError):
    code = "idDoesNotExist"


class NoRecordsMatch(KnownOAIError):
    """Never raised to callers of the list verbs: there it means an empty, successful list."""

    code = "noRecordsMatch"


class NoMetadataFormats(KnownOAIError):
    code = "noMetadataFormats"


class NoSetHierarchy(KnownOAIError):
    code = "noSetHierarchy"


class UnknownOAIError(OAIError):
    """A code OAI-PMH 2.0 does not define (or none at all), kept as the repository sent it."""

    code = "unknown"

    def __init__(self, code: str = "", detail: str = "") -> None:
        super().__init__(code or type(self).code, detail)


OAI_ERRORS: dict[str, type[KnownOAIError]] = {
    cls.code: cls
    for cls in (
        BadArgument,
        BadResumptionToken,
        BadVerb,
        CannotDisseminateFormat,
        IdDoesNotExist,
        NoRecordsMatch,
        NoMetadataFormats,
        NoSetHierarchy,
    )
}


def oai_error(code: str, message: str = "") -> OAIError:
    """The exception for an OAI-PMH error code (:class:`UnknownOAIError` for codes outside the protocol)."""
    cls = OAI_ERRORS.get(code)
    if cls is None:
        return UnknownOAIError(code, message)
    return cls(message)


class MalformedPage(HarvestError):
    """A response that could not be read (malformed or unsafe XML, or too large), with its bytes."""

    title = "Unreadable OAI-PMH response"

    def __init__(self, detail: str, raw: bytes = b"", unsafe: bool = False) -> None:
        super().__init__(detail)
        self.raw = raw
        self.unsafe = unsafe


class ResumptionTokenLoop(HarvestError):
    title = "Resumption token loop"


class ListOverrun(HarvestError):
    """A listing that goes on well past the ``completeListSize`` it declared (endless tokens)."""

    title = "Listing past its declared size"


class RefusedAddress(HarvestError):
    """A URL the outbound policy refuses (scheme, or an address that is not public); it cannot heal,
    so it is never retried."""

    title = "Outbound request refused"


class DeadlineExceeded(HarvestError):
    title = "Deadline exceeded"


class InvalidDatestamp(HarvestError):
    """A datestamp that is not one of OAI-PMH's forms (a record's, or a ``from`` to send again)."""

    title = "Invalid OAI-PMH datestamp"


class NotAListVerb(InvalidInput):
    """A list request (:meth:`OAIClient.list_page`) asked with a verb that does not list."""

    title = "Not an OAI-PMH list verb"
