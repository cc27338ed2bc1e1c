"""sentence-transformers itself: the reference the ONNX path is checked against."""

from typing import Any

import numpy as np

from memctl.embeddings.model_files import source_dir


def reference_vectors(model: str, texts: list[str]) -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    st: Any = SentenceTransformer(str(source_dir(model)), device="cpu")
    return np.asarray(st.encode(texts, normalize_embeddings=True), dtype=np.float32)
