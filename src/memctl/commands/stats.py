"""Commands of this area (filled in by its issue)."""

import typer

app = typer.Typer()
