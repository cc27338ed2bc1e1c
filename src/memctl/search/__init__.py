"""Search: rank memories for a query (``ranking``: keyword + vector fusion) and keep
their vectors current (``backlog``: the embedding backlog)."""
