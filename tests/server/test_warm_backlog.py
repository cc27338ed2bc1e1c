"""The warm path embeds, after answering a hook, what hooks left in the embedding backlog
(docs/serve.md): the next pre-task's search then has nothing to embed first."""

from pathlib import Path

import pytest

from memctl.api.context import Models
from memctl.embeddings import DEFAULT_MODEL
from memctl.hooks.call import resolve_call
from memctl.hooks.input import HookInput
from memctl.server.contexts import Served
from memctl.server.warm import Warm
from memctl.store import open_database
from memctl.store.backend import backend_of
from tests.conftest import cli


def pending(db_path: Path, model_id: str) -> int:
    db = open_database(db_path, create=False)
    try:
        return backend_of(db).vectors.pending_count(db, model_id)
    finally:
        db.close()


@pytest.mark.model
def test_a_hook_on_the_warm_path_leaves_the_backlog_embedded(db_path: Path) -> None:
    assert cli("store", "knowledge/auth/jwt", "refresh tokens rotate on every use").exit_code == 0
    payload = {"session_id": "s-1", "hook_event_name": "Stop", "last_assistant_message": "done"}
    call = resolve_call("post-task", HookInput(dict(payload), {}))
    models = Models()
    warm = Warm(Served(call.db_path, call.policies_path, models))
    model = models.get(DEFAULT_MODEL)
    assert model is not None
    assert pending(db_path, model.model_id) >= 1  # store never waits for the model
    answer = warm.run_hook(
        {"hook": "post-task", "flags": {}, "payload": payload, "call": call.to_dict()}
    )
    assert answer["exit"] == 0, answer
    warm.drain()
    assert pending(db_path, model.model_id) == 0
    warm.served.pool.close()


@pytest.mark.model
def test_the_task_log_is_not_embedded_again_after_each_prompt(db_path: Path) -> None:
    """Back-to-back prompts waited for the server to embed the session's task log
    again after each one; once the log is past the model's 256 tokens its vector is
    remembered, and only the prompt's current-task note is embedded."""
    payload = {"session_id": "s-1", "hook_event_name": "UserPromptSubmit"}
    call = resolve_call("pre-task", HookInput(dict(payload), {}))
    models = Models()
    warm = Warm(Served(call.db_path, call.policies_path, models))
    model = models.get(DEFAULT_MODEL)
    assert model is not None

    def prompt(n: int) -> None:
        text = f"prompt {n}: " + "rotate the refresh tokens of the login flow " * 12
        answer = warm.run_hook(
            {
                "hook": "pre-task",
                "flags": {},
                "payload": {**payload, "prompt": text, "task_id": f"task-{n}"},
                "call": call.to_dict(),
            }
        )
        assert answer["exit"] == 0, answer
        warm.drain()

    for n in range(4):  # the log passes 256 tokens
        prompt(n)
    before = model.computed  # type: ignore[attr-defined]
    prompt(4)
    # the prompt's query and its current-task note; not the task log
    assert model.computed - before == 2  # type: ignore[attr-defined]
    assert pending(db_path, model.model_id) == 0
    warm.served.pool.close()
