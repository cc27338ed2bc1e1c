"""Retrieval quality with the real model, on the eval's four hand-written stores
(tests/data/search_eval; scripts/eval_search.py runs the whole evaluation, large store
included). Floors sit a little under the figures measured there (docs/search.md), so a
ranking regression fails here."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from memctl.embeddings import DEFAULT_MODEL, get_embedder
from memctl.lifecycle.policies import PACKAGED_POLICIES, load_policies

pytestmark = pytest.mark.model

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "eval_search.py"
# measured on these stores: hybrid recall@5 0.947, MRR@10 0.848, per kind equal to or
# above the better single mode; pre-task silent on every no-answer query, 92 % of what
# it injects right, 53 % of queries answered
FLOORS = {"recall@5": 0.93, "mrr@10": 0.83}
PER_KIND_SLACK = 0.02  # hybrid's recall@5 per kind vs the better single mode: one query


class Memo:
    """The real model with its vectors remembered: the same query is embedded once,
    though each is searched in three modes and two limits (the suite's time budget)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.model_id, self.dim = model.model_id, model.dim
        self.seen: dict[str, bytes] = {}

    def embed(self, texts: list[str]) -> list[bytes]:
        missing = [t for t in dict.fromkeys(texts) if t not in self.seen]
        if missing:
            self.seen.update(zip(missing, self.model.embed(missing), strict=True))
        return [self.seen[t] for t in texts]


def eval_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("eval_search", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["eval_search"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    ev = eval_module()
    data = ev.load_data()
    policies = load_policies(PACKAGED_POLICIES)
    assert ev.check_data(data, policies) == []
    model = get_embedder(DEFAULT_MODEL)
    assert model is not None
    embedder = Memo(model)
    folder = tmp_path_factory.mktemp("eval")
    runs: list[Any] = []
    pre_task = []
    for name, items in data.memories.items():
        db, by_path, _ = ev.build_store(folder / f"{name}.db", items, policies, embedder)
        queries = [q for q in data.queries if q.store == name]
        runs += ev.evaluate_store(name, db, by_path, queries, embedder, ev.MODES)
        pre_task.append(ev.evaluate_pre_task(db, by_path, queries, embedder))
        db.close()
    merged = {run.mode: run for run in ev.merge_runs(runs, "small")}
    return {"ev": ev, "runs": merged, "pre_task": ev.pre_task_figures(ev.add_counts(pre_task))}


def figures(evaluation: dict[str, Any], mode: str, kind: str = "all") -> dict[str, float]:
    run = evaluation["runs"][mode]
    rows = [m for q, m in run.per_query if kind == "all" or q.kind == kind]
    result: dict[str, float] = evaluation["ev"].mean_metrics(rows)
    return result


def test_default_mode_meets_its_floors(evaluation: dict[str, Any]) -> None:
    hybrid = figures(evaluation, "hybrid")
    for name, floor in FLOORS.items():
        assert hybrid[name] >= floor, (name, hybrid)


def test_hybrid_is_as_good_as_the_better_mode_on_every_kind(evaluation: dict[str, Any]) -> None:
    for kind in ("paraphrase", "keyword", "multi"):
        hybrid = figures(evaluation, "hybrid", kind)["recall@5"]
        best = max(figures(evaluation, m, kind)["recall@5"] for m in ("semantic", "keyword"))
        assert hybrid >= best - PER_KIND_SLACK, (kind, hybrid, best)


def test_ranking_does_not_depend_on_the_limit(evaluation: dict[str, Any]) -> None:
    for run in evaluation["runs"].values():
        assert run.k_stable == len(run.per_query), run.mode


def test_pre_task_stays_silent_without_an_answer_and_injects_right_ones(
    evaluation: dict[str, Any],
) -> None:
    pre_task = evaluation["pre_task"]
    assert pre_task["silent on no-answer"] >= 0.9
    assert pre_task["precision"] >= 0.85
    assert pre_task["answered"] >= 0.45
