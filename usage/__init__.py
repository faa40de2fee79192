"""Vendor usage: the shared databases' COUNTER R5 reports, harvested through SUSHI or imported from files,
and the consortium's usage report built from them.

Steps, one module each: ``tables`` (the store's usage tables), ``registry`` (databases, costs,
credentials), ``counter`` (reading COUNTER JSON and tabular reports), ``sushi`` (the HTTP client),
``loading`` (replacing a month's rows), ``harvest`` (the run over databases, members, reports, months),
``report`` (the yearly figures) and ``render`` (CSV, the SVG chart and the page's words).

Lienhop's own usage: ``events`` (counting by COUNTER's rules, written in batches off the request
path), ``own`` (the monthly COUNTER metrics), ``platform`` (the Platform Report PR/PR_P1 and SUSHI
exceptions served at ``/sushi/r5``); and ``scorecard`` with ``scorecard_render`` (the member scorecard).
Imports point one way: ``app -> usage -> store -> schemas``.
"""
