"""OAI-PMH 2.0, provider side: the protocol once (``provider``, ``arguments``, ``xml``, ``tokens``,
``errors``) and the union catalogue as a repository (``catalogue``, ``catalogue_reads``, ``router``).
The demo members' repositories (``app/demo/oai_provider.py``) answer through the same provider."""
