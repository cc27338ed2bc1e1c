"""Backups and migration: ``memctl export`` / ``memctl import`` (README: export and import).

- ``memctl_format``: memctl's JSON Lines / JSON export, version 1 (writer and reader)
- ``claude_flow``: claude-flow v3 ``memory.db``, v3 JSON export, v2 ``memory-store.json``
- ``detect``: which format a file is in (``--from`` forces one)
- ``exporter`` / ``importer``: the two operations over ``memctl.store.transfer``
"""
