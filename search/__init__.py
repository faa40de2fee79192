"""Search: the query language, Vietnamese text analysis, and the backends behind one protocol."""
