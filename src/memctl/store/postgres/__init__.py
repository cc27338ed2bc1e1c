"""The PostgreSQL engine: a shared hub for many machines (docs/storage.md, "Two engines").

``connection``: psycopg, libpq URLs, transactions, error mapping, parameters;
``dialect``: the SQL fragments PostgreSQL spells differently; ``vectors``: pgvector;
``keyword``: full-text search; ``upkeep``: ids, locks, VACUUM. Nothing here is imported
unless a ``postgresql://`` URL is used.
"""
