"""Exports of a record in the library and reference-manager formats: MARCXML and MARC 21 (``marc``),
Dublin Core (``dc``), RIS, BibTeX and CSL-JSON; chosen by ``?format=`` or ``Accept`` (``formats``)."""
