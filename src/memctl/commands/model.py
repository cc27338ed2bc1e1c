"""model prepare: make the fast embedding runtime ready (ONNX export), optionally verify it."""

from typing import Annotated

import typer

from memctl.commands.common import Settings, command

group = typer.Typer(help="Prepare and check the embedding model.", no_args_is_help=True)
app = typer.Typer()  # no top-level commands: `memctl model ...` is a group
groups = [("model", group)]


@command(group, "prepare")
def prepare_cmd(
    settings: Settings,
    check: Annotated[
        bool, typer.Option("--check", help="Compare with sentence-transformers.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Export again even if prepared.")] = False,
) -> None:
    """Export the policies' embedding model to ONNX once (offline), so searches start fast.

    Example: memctl model prepare --check
    """
    from memctl.embeddings.model_files import ONNX_NAME, is_prepared, prepared_dir
    from memctl.embeddings.onnx import OnnxEmbedder, prepare

    model = settings.policies.embedding_model
    if model == "none":
        settings.out.line("embedding.model is 'none': nothing to prepare")
        return
    target = prepared_dir(model) / ONNX_NAME
    if force or not is_prepared(model):
        prepare(model, settings.announce)
    result: dict[str, object] = {"model": model, "path": str(target)}
    if check:
        from memctl.embeddings.reference import reference_vectors

        texts = [
            "memctl keeps agent memory healthy",
            "JWT refresh token rotation",
            "Kubernetes pod crash loop back-off after OOM",
        ]
        fast = OnnxEmbedder.load(model).embed_array(texts)
        ref = reference_vectors(model, texts)
        result["min_cosine"] = round(float((fast * ref).sum(axis=1).min()), 6)
    if settings.json:
        settings.out.document(result)
    else:
        settings.out.line(f"prepared {model}: {target}")
        if check:
            settings.out.line(f"cosine vs sentence-transformers (min): {result['min_cosine']}")
