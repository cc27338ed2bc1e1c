"""Long-lived servers over the operation layer (``memctl.api``): the MCP tool set
(``mcp_tools``), served on stdio by ``memctl mcp`` and, later, over HTTP by ``memctl
serve`` (docs/mcp.md)."""
