"""The OpenURL 1.0 resolver (``GET /openurl``): a citation in (Z39.88-2004 KEV, or 0.1 style), the works
of the union catalogue it names and the members holding them out, as a page or as JSON."""
