"""The library world's own protocols, beside each other: the OAI-PMH provider of the union catalogue
(``oai/``), exports of a record in bibliographic formats (``exports/``) and the OpenSearch description
(``opensearch.py``). Each answers in its own protocol's form; problem+json only where the protocol has
none of its own."""
