"""Embeddings. This module stays light: the model stack (onnxruntime, tokenizers, numpy;
torch only to export) is imported by ``get_embedder`` and only by commands that need
vectors (docs/embeddings.md)."""

import os
from collections.abc import Callable
from typing import Protocol

from memctl.embeddings.model_files import DEFAULT_MODEL

__all__ = ["DEFAULT_MODEL", "Embedder", "get_embedder"]


def no_runtime_telemetry() -> None:
    """Keep ONNX Runtime from writing outside memctl's folders; call before it loads.

    Its official wheels start Microsoft's 1DS telemetry when the runtime initializes:
    every model-using command wrote ``$HOME/.cache/Microsoft/DeveloperTools/.onnxruntime/``
    ``deviceid`` and ``onnxruntime.db`` (+ -wal/-shm, an ``events`` table) and left
    ``$TMPDIR/.ses``. ``ORT_DISABLE_TELEMETRY=1`` before initialization stops all three
    for the process (onnxruntime's Privacy.md, "Disabling Telemetry"; checked by
    tests/embeddings/test_no_stray_files.py). Set unconditionally: docs/reliability.md
    allows no writes there."""
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"


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
