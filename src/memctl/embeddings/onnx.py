"""The runtime embedder: the exported ONNX graph with onnxruntime and tokenizers.

Cold start (imports + session + one sentence) is ~0.3 s against ~5 s for torch, and the
vectors equal sentence-transformers' (cosine 1.0000; tested)."""

import os
import threading
import time
from collections import OrderedDict
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
# Vectors of texts cut at the model's limit, remembered by their token ids, for a
# long-lived process (``memctl serve``): the session's task log, which every prompt
# appends to, is cut at 256 tokens, so once it is that long its vector stops changing;
# yet the server embedded it again after every warm pre-task (most of the 115-300 ms it
# spent embedding the two notes a prompt leaves). Only cut texts: a shorter text is
# cheap to embed and changes whenever its text does (and a repeated search query is
# not served from memory, so benchmarks time the real work). 2,048 vectors are 3 MB.
REMEMBERED = 2048
PAD_ID = 0  # tokenizers' enable_padding() default, which batches were padded with before


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
        # batches are padded in ``_run`` (as enable_padding() did): unpadded ids name a text
        self._tokenizer.no_padding()
        self._remembered: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # a server embeds on several threads
        self.computed = 0  # texts run through the model (the others were remembered)
        self._max_tokens = max_tokens
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
        """Vectors of ``texts``: texts cut at the model's limit whose tokens were embedded
        lately are taken from memory, the others run through the model in batches."""
        encodings = self._tokenizer.encode_batch(texts)
        keys = [
            np.array(e.ids, dtype=np.int64).tobytes() if len(e.ids) >= self._max_tokens else b""
            for e in encodings
        ]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo = []
        with self._lock:
            for n, key in enumerate(keys):
                vector = self._remembered.get(key) if key else None
                if vector is None:
                    todo.append(n)
                else:
                    self._remembered.move_to_end(key)
                    out[n] = vector
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            vectors = self._run([encodings[n] for n in batch])
            with self._lock:
                self.computed += len(batch)
                for n, vector in zip(batch, vectors, strict=True):
                    out[n] = vector
                    if keys[n]:
                        self._remembered[keys[n]] = vector
                        self._remembered.move_to_end(keys[n])
                while len(self._remembered) > REMEMBERED:
                    self._remembered.popitem(last=False)
        return out

    def _run(self, encodings: list[Any]) -> np.ndarray:
        """One batch through the model, padded to its longest text on the right."""
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), PAD_ID, dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            types[row, : len(e.ids)] = e.type_ids
            mask[row, : len(e.ids)] = e.attention_mask
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return np.asarray(self._session.run(None, feed)[0], dtype=np.float32)

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
