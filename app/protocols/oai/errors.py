"""OAI-PMH's own error conditions (section 3.6 of the protocol), one class per code.

OAIPMHError
├── BadArgument              badArgument (the request is not echoed back)
├── BadVerb                  badVerb (the request is not echoed back)
├── BadResumptionToken       badResumptionToken
├── CannotDisseminateFormat  cannotDisseminateFormat
├── IdDoesNotExist           idDoesNotExist
├── NoRecordsMatch           noRecordsMatch
├── NoMetadataFormats        noMetadataFormats
└── NoSetHierarchy           noSetHierarchy

They stand outside the ``LienhopError`` tree of ``schemas/errors.py`` on purpose: a provider answers
them inside a 200 response as ``<error code="...">`` (``xml.response_document``), never as a
problem+json document, so no HTTP status belongs to them and ``app/errors.py`` must never see one.
"""

from __future__ import annotations


class OAIPMHError(Exception):
    """An OAI-PMH error answer; ``echo_args`` says whether ``<request>`` may repeat the arguments."""

    code = "badArgument"
    echo_args = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadArgument(OAIPMHError):
    code = "badArgument"
    # OAI-PMH 3.2: after badVerb or badArgument only the base URL is given, without attributes
    echo_args = False


class BadVerb(OAIPMHError):
    code = "badVerb"
    echo_args = False


class BadResumptionToken(OAIPMHError):
    code = "badResumptionToken"


class CannotDisseminateFormat(OAIPMHError):
    code = "cannotDisseminateFormat"


class IdDoesNotExist(OAIPMHError):
    code = "idDoesNotExist"


class NoRecordsMatch(OAIPMHError):
    code = "noRecordsMatch"


class NoMetadataFormats(OAIPMHError):
    code = "noMetadataFormats"


class NoSetHierarchy(OAIPMHError):
    code = "noSetHierarchy"
