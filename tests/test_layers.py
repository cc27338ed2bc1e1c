"""The import graph keeps its layers: lower layers never import higher ones, nothing
imports in a cycle, and a few rules that keep each concern in one room.

Imports are read with ``ast`` from every module under ``src/memctl`` (function-level
imports included: a lazy import is still a dependency; ``if TYPE_CHECKING:`` imports
are not, since they never run).
"""

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "memctl"

# A module may import its own component, or a component of a lower rank (never one of
# the same rank: search and transfer are independent of each other).
RANKS = {
    "memctl": 0,  # the package itself: __version__
    "errors": 0,
    "limits": 1,
    "clock": 2,
    "paths": 2,
    "progress": 2,
    "models": 3,
    "output": 3,
    "warm": 3,  # the warm server's socket, client side: hooks, search, doctor, stats
    "store": 4,
    "embeddings": 4,
    "lifecycle": 5,
    "search": 6,
    "transfer": 6,
    "stats": 7,  # reports on search's health too
    "daemon": 8,
    "api": 8,  # the operations every transport shares (docs/api.md)
    "hooks": 9,
    "server": 10,  # the MCP tools: api/ and the hooks' fence for recalled text
    "project": 10,  # init and doctor: they look at every part of a set-up
    "commands": 11,
    "cli": 12,
    "__main__": 13,
}
# What hooks may use from the store: opening it and the query filter. Every change a
# hook makes goes through lifecycle/ (as a command's does).
HOOKS_FROM_STORE = {
    "memctl.store": {"open_database", "Database"},
    "memctl.store.memories": {"Filters"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {
        module_name(path): ast.parse(path.read_text(), str(path))
        for path in sorted(PACKAGE.rglob("*.py"))
    }


MODULES = modules()


def is_package(name: str) -> bool:
    return (SRC / name.replace(".", "/") / "__init__.py").is_file()


def resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` reads from."""
    if not node.level:
        return node.module or ""
    base = module if is_package(module) else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    return f"{base}.{node.module}" if node.module else base


def runtime_nodes(tree: ast.Module) -> list[ast.AST]:
    """Every node except those under ``if TYPE_CHECKING:``."""
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
        for stmt in node.body
        for inner in ast.walk(stmt)
    }
    return [node for node in ast.walk(tree) if id(node) not in typing_only]


def imports(module: str, tree: ast.Module) -> list[tuple[str, str | None, str | None]]:
    """(imported module, imported name or None, alias or None) for every memctl import;
    ``from memctl.store import vectors`` counts as an import of ``memctl.store.vectors``."""
    found: list[tuple[str, str | None, str | None]] = []
    for node in runtime_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "memctl":
                    found.append((alias.name, None, alias.asname))
        elif isinstance(node, ast.ImportFrom):
            source = resolve(module, node)
            if source.split(".")[0] != "memctl":
                continue
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                if sub in MODULES:
                    found.append((sub, None, alias.asname))
                else:
                    found.append((source, alias.name, alias.asname))
    return found


def component(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


GRAPH: dict[str, set[str]] = {
    module: {target for target, _, _ in imports(module, tree) if target != module}
    for module, tree in MODULES.items()
}


def test_every_component_has_a_rank() -> None:
    assert {component(m) for m in MODULES} <= set(RANKS)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_reaches_up_or_sideways(module: str) -> None:
    mine = component(module)
    wrong = [
        target
        for target in sorted(GRAPH[module])
        if component(target) != mine and RANKS[component(target)] >= RANKS[mine]
    ]
    assert not wrong, f"{module} ({mine}) imports {wrong}"


def test_no_cycles() -> None:
    """Tarjan's strongly connected components over the module graph."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH.get(node, ()):
            if target not in MODULES:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            members = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                members.append(member)
                if member == node:
                    break
            if len(members) > 1:
                cycles.append(sorted(members))

    for module in sorted(MODULES):
        if module not in index:
            visit(module)
    assert not cycles, f"import cycles: {cycles}"


def test_hooks_change_memories_only_through_lifecycle() -> None:
    wrong = []
    for module, tree in MODULES.items():
        if component(module) != "hooks":
            continue
        for target, name, _ in imports(module, tree):
            if component(target) != "store":
                continue
            if name is None or name not in HOOKS_FROM_STORE.get(target, set()):
                wrong.append(f"{module}: {target}{'.' + name if name else ''}")
    assert not wrong, wrong


LOG_WRITERS = {"record", "count_occurrence"}


def log_writes(tree: ast.Module, module: str) -> list[str]:
    """The lifecycle-log writers ``module`` uses (``log.record``, or imported by name)."""
    aliases = {
        alias or "log"
        for target, name, alias in imports(module, tree)
        if target == "memctl.store.log" and name is None
    }
    used = [
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in aliases
        and node.attr in LOG_WRITERS
    ]
    used += [
        name
        for target, name, _ in imports(module, tree)
        if target == "memctl.store.log" and name in LOG_WRITERS
    ]
    return used


def test_only_runs_writes_the_lifecycle_log() -> None:
    """``lifecycle.runs`` is the one place a lifecycle action is recorded (and where the
    events of ``memctl serve`` come from); others may read the log."""
    writers = sorted(m for m, tree in MODULES.items() if log_writes(tree, m))
    assert writers == ["memctl.lifecycle.runs"]


def test_aliases_mean_one_module_each() -> None:
    """``sql`` is the store module of the importer's own job (``lifecycle/decay.py``:
    ``from memctl.store import decay as sql``); every other alias names one module
    everywhere, and no module is imported as ``store`` (it is also a function)."""
    meaning: dict[str, set[str]] = defaultdict(set)
    wrong = []
    for module, tree in MODULES.items():
        for target, name, alias in imports(module, tree):
            if alias is None:
                continue
            imported = target if name is None else f"{target}.{name}"
            if alias == "sql":
                own = {module.split(".")[-1], module.split(".")[-2]}
                if component(imported) != "store" or imported.split(".")[-1] not in own:
                    wrong.append(f"{module}: {imported} as sql")
            elif alias == "store":
                wrong.append(f"{module}: {imported} as store")
            else:
                meaning[alias].add(imported)
    wrong += [f"{alias} means {sorted(m)}" for alias, m in meaning.items() if len(m) > 1]
    assert not wrong, wrong


def test_modules_stay_small() -> None:
    """A module over ~400 lines is doing several jobs: split it by job."""
    big = {
        module_name(path): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > 400
    }
    assert not big, big
