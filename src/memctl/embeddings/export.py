"""One-off export of a sentence-transformers model to ONNX (mean pooling and L2
normalisation inside the graph), so searches run with onnxruntime instead of torch.

Needs torch and transformers (installed with sentence-transformers); takes ~5 s once.
"""

import os
import shutil
import tempfile
from pathlib import Path

from memctl.embeddings.model_files import ONNX_NAME, prepared_dir, source_dir
from memctl.embeddings.telemetry import no_runtime_telemetry

__all__ = ["ONNX_NAME", "export_onnx"]


def export_onnx(model: str) -> Path:
    """Export ``model`` to its cache folder (atomically; concurrent exports are harmless)."""
    import warnings

    no_runtime_telemetry()  # torch's exporter may load onnxruntime
    import torch
    import transformers
    from transformers import AutoModel, AutoTokenizer

    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    warnings.filterwarnings("ignore")

    source = source_dir(model)
    target = prepared_dir(model)
    target.mkdir(parents=True, exist_ok=True)

    class Pooled(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    encoder = AutoModel.from_pretrained(str(source))
    encoder.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    sample = tokenizer(["memctl", "export sample sentence"], return_tensors="pt", padding=True)
    inputs = ("input_ids", "attention_mask", "token_type_ids")
    dynamic = {name: {0: "batch", 1: "seq"} for name in inputs}
    dynamic["embedding"] = {0: "batch"}
    fd, tmp = tempfile.mkstemp(dir=target, suffix=".onnx.tmp")
    os.close(fd)
    try:
        with torch.no_grad():
            torch.onnx.export(
                Pooled(encoder),
                (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
                tmp,
                input_names=list(inputs),
                output_names=["embedding"],
                dynamic_axes=dynamic,
                opset_version=17,
                dynamo=False,
            )
        os.replace(tmp, target / ONNX_NAME)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    shutil.copyfile(source / "tokenizer.json", target / "tokenizer.json")
    return target / ONNX_NAME
