"""Search: rank memories for a query (``ranking``: keyword + vector fusion), decide what
a hook injects (``relevance``), and keep their vectors current (``backlog``: the
embedding backlog)."""
