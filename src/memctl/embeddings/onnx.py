"""The runtime embedder: the exported ONNX graph with onnxruntime and tokenizers.

Cold start (imports + session + one sentence) is ~0.3 s against ~5 s for torch, and the
vectors equal sentence-transformers' (cosine 1.0000; tested)."""

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Search multiplies small matrices (at most 200 x 384 by 384 x 100, search.ranking):
# OpenBLAS's worker threads cost more to wake than such a product takes (10 ms against
# 0.4 ms single-threaded, measured on a busy 2-core machine). Set before numpy loads
# OpenBLAS; ONNX Runtime has its own threads. An explicit setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from memctl.embeddings.export import ONNX_NAME, export_onnx
from memctl.embeddings.model_files import (
    EXPORT_TAKES,
    is_prepared,
    max_seq_length,
    model_id,
    prepared_dir,
    source_dir,
)
from memctl.embeddings.telemetry import no_runtime_telemetry

BATCH = 32


class OnnxEmbedder:
    def __init__(self, onnx_path: Path, tokenizer_path: Path, max_tokens: int, model: str) -> None:
        no_runtime_telemetry()
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = min(4, os.cpu_count() or 1)
        # ORT's workers spin for a while after each run by default, taking the cores
        # that a search's parallel SQLite queries need (hybrid search at 100k: 65 ms
        # spinning, measured below without)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self._session: Any = onnxruntime.InferenceSession(
            str(onnx_path), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer: Any = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.enable_padding()
        self.dim = int(self._session.get_outputs()[0].shape[1] or 384)
        self.model_id = model_id(model, self.dim)

    @classmethod
    def load(cls, model: str, on_prepare: Callable[[str], None] | None = None) -> "OnnxEmbedder":
        """Load the prepared export, exporting it first if this machine has none yet;
        ``on_prepare`` is told, before and after, since that export stalls for seconds."""
        folder = prepared_dir(model)
        if not is_prepared(model):
            prepare(model, on_prepare)
        return cls(
            folder / ONNX_NAME, folder / "tokenizer.json", max_seq_length(source_dir(model)), model
        )

    def embed_array(self, texts: list[str]) -> np.ndarray:
        out = []
        for start in range(0, len(texts), BATCH):
            encodings = self._tokenizer.encode_batch(texts[start : start + BATCH])
            feed = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
            }
            out.append(self._session.run(None, feed)[0].astype(np.float32))
        return np.concatenate(out) if out else np.zeros((0, self.dim), dtype=np.float32)

    def embed(self, texts: list[str]) -> list[bytes]:
        return [row.tobytes() for row in self.embed_array(texts)]


def prepare(model: str, on_prepare: Callable[[str], None] | None = None) -> Path:
    """Export ``model`` to ONNX now, saying so through ``on_prepare`` (one line before,
    one after with the time it took); the exported file."""
    say = on_prepare or (lambda text: None)
    say(
        f"preparing the embedding model {model} on this machine: a one-off ONNX "
        f"export into {prepared_dir(model).parent}, {EXPORT_TAKES} "
        "(`memctl model prepare` does it ahead of time)"
    )
    started = time.perf_counter()
    path = export_onnx(model)
    say(
        f"model prepared in {time.perf_counter() - started:.1f} s; "
        "later uses load it in under a second"
    )
    return path
