"""The Elasticsearch 8 / OpenSearch search backend, split by step of the work.

* ``mapping``: what an index is (settings, mappings, names) and the stored form of a document;
* ``compile``: the query AST and a request -> query DSL (matching, ranking, sort, facets, autocomplete);
* ``plan``: a search as separate requests of one ``_msearch``; ``plan.run`` sends them; the cheaper
  hits lookups, built and certified, in ``plan.tiers`` and ``plan.candidates``;
* ``results``: the answers -> ``BackendResult``;
* ``client``: the client library of each engine, engine detection, error mapping, raw requests;
* ``backend``: ``ElasticBackend``, the ``SearchBackend`` protocol on top of them.
"""

from .backend import ElasticBackend
from .client import detect_engine

__all__ = ["ElasticBackend", "detect_engine"]
