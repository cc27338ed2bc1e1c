"""A project's memctl set-up (docs/setup.md): ``init`` (``setup.py``) makes it,
``doctor`` (``doctor.py``) checks it. One check per line, each ``ok``, ``warn`` (worth
knowing, not a problem) or ``fail`` (a problem: doctor exits 1). The checks change
nothing: the database is opened without migrating, and hooks are timed against a copy
of it."""
