"""Write the reference vectors the test suite checks memctl's ONNX runtime against.

    .venv/bin/python scripts/reference_vectors.py [--check]

sentence-transformers (torch) embeds a few texts with the packaged all-MiniLM-L6-v2;
the vectors go to tests/fixtures/embeddings/all-MiniLM-L6-v2.json. The suite compares
the ONNX export's vectors with these instead of importing torch itself: loading
sentence-transformers took 5-9 s quiet and 48-56 s on a loaded 2-core machine, for the
same comparison. ``--check`` recomputes them and compares with the stored file (cosine
per text), which is also what ``memctl model prepare --check`` does live.
"""

import argparse
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from memctl.embeddings import DEFAULT_MODEL  # noqa: E402
from memctl.embeddings.reference import reference_vectors  # noqa: E402

TARGET = ROOT / "tests" / "fixtures" / "embeddings" / f"{DEFAULT_MODEL}.json"
TEXTS = [
    "memctl keeps agent memory healthy",
    "JWT refresh token rotation",
    "Pods crash-looping after OOM kills: raise the memory limit in the chart",
    "x " * 400,  # past the model's 256-token window: truncation must match too
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the stored file")
    args = parser.parse_args()
    import sentence_transformers
    import torch

    vectors = reference_vectors(DEFAULT_MODEL, TEXTS)
    if args.check:
        stored = orjson.loads(TARGET.read_bytes())
        for text, old, new in zip(stored["texts"], stored["vectors"], vectors, strict=True):
            cosine = sum(a * b for a, b in zip(old, new.tolist(), strict=True))
            print(f"{cosine:.6f}  {text[:50]!r}")
        return 0
    document = {
        "model": DEFAULT_MODEL,
        "made_by": f"sentence-transformers {sentence_transformers.__version__}, "
        f"torch {torch.__version__}, normalize_embeddings=True (scripts/reference_vectors.py)",
        "texts": TEXTS,
        "vectors": [[round(float(x), 7) for x in row] for row in vectors],
    }
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_bytes(orjson.dumps(document) + b"\n")
    print(f"wrote {len(TEXTS)} vectors to {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
