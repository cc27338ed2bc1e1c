"""The operation layer (docs/api.md): one function per memory operation — store, recall,
list, search, forget, restore, stats — shared by every transport: the command line's
``--json``, the MCP tools (``memctl mcp``) and the HTTP API of ``memctl serve``.

``operations`` takes a resolved :class:`~memctl.api.context.Context` and plain
arguments and returns results whose ``to_dict()`` is the ``--json`` document;
``arguments`` describes what each operation takes over the wire (JSON Schema) and
checks a JSON arguments object against it. Nothing here is imported at package import:
``store`` and ``recall`` stay light.
"""
