"""ONNX Runtime's telemetry, switched off before the runtime loads (a leaf module: the
package ``__init__`` imports the runtime lazily, and the runtime modules import this)."""

import os


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
