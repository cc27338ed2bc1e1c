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
