"""Embeddings. This module stays light: the model stack (onnxruntime, tokenizers, numpy;
torch only to export) is imported by ``get_embedder`` and only by commands that need
vectors (docs/embeddings.md)."""

from collections.abc import Callable
from typing import Protocol

from memctl.embeddings.model_files import DEFAULT_MODEL

__all__ = ["DEFAULT_MODEL", "Embedder", "get_embedder"]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors (as raw little-endian bytes)."""

    model_id: str  # recorded with every vector; vectors of different ids are never compared
    dim: int

    def embed(self, texts: list[str]) -> list[bytes]: ...


def get_embedder(model: str, on_prepare: Callable[[str], None] | None = None) -> Embedder | None:
    """The runtime embedder for the policies' ``embedding.model``; None for ``none``.
    If the model is not prepared on this machine it is exported first (seconds, once):
    ``on_prepare`` receives a line saying so before and after (commands put it on stderr)."""
    if model == "none":
        return None
    from memctl.embeddings.onnx import OnnxEmbedder

    return OnnxEmbedder.load(model, on_prepare)
