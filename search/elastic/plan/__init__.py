"""How one search is asked of the engine: the plan (``build``), its cheaper hits lookups (``tiers``,
``candidates``) and the code that sends it and certifies the pages those lookups give (``run``)."""
