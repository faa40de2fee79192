"""SRU 1.2 and 2.0 at ``/sru``: ``explain`` and ``searchRetrieve`` with CQL, one record per work, in
Dublin Core or MARCXML, and the standard's diagnostics for everything it cannot do."""
