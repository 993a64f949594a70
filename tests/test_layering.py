"""The import graph of core/: no circle, no import running upward between its groups, and no gradio anywhere in it."""
import ast
import pkgutil
from pathlib import Path

import core

CORE = Path(__file__).resolve().parent.parent / "core"

# Lower groups never import higher ones. "base" is the top-level modules (config, errors, hardware, models, the typed
# artefacts) and tasks/, the seam every layer asks about the kind of target. serving and engine are not peers: the
# training job writes its validation predictions the way serving does (spreadsheet-safe cells), never the reverse.
LAYERS = ("base", "data", "runs", "serving", "engine", "publish")
ENTRY_POINTS = {"core.__main__", "core.train.__main__"}  # the CLI and the training job's command: they may use everything


def core_modules() -> dict[str, Path]:
    """Every module of core/, by dotted name, found the way Python finds them (sub-packages included)."""
    found = {"core": CORE / "__init__.py"}
    for info in pkgutil.walk_packages(core.__path__, "core."):
        path = Path(info.module_finder.path) / (info.name.rsplit(".", 1)[-1])
        found[info.name] = path / "__init__.py" if info.ispkg else path.with_suffix(".py")
    return found


def _imported(name: str, path: Path, modules: set[str]) -> set[str]:
    """The core modules a file imports anywhere in it (function-level imports count: they are still a dependency),
    except under `if TYPE_CHECKING:`, which never runs. `from core.x import y` counts y when y is a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "core":
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    # A module of a package may import the package itself (tasks/multi_label.py takes `TaskKind` from tasks/, whose
    # __init__ then registers it): that is the package's own business, not a circle between modules.
    return {n for n in names & modules if n != name and not name.startswith(n + ".")}


def import_graph() -> dict[str, set[str]]:
    modules = core_modules()
    return {name: _imported(name, path, set(modules)) - {"core"} for name, path in modules.items()}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "base"


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Circles, each as the path that closes it (a -> b -> a): at least one in every tangle, none without one."""
    found, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        for target in sorted(graph.get(node, ())):
            if target in path:
                circle = path[path.index(target):]
                if frozenset(circle) not in done:
                    done.add(frozenset(circle))
                    found.append(circle + [target])
            elif target not in finished:
                visit(target, path + [target])
        finished.add(node)

    finished: set[str] = set()
    for start in sorted(graph):
        if start not in finished:
            visit(start, [start])
    return found


def upward(graph: dict[str, set[str]]) -> list[str]:
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    return sorted(f"{source} ({layer_of(source)}) -> {target} ({layer_of(target)})"
                  for source, targets in graph.items() if source not in ENTRY_POINTS
                  for target in targets if rank[layer_of(target)] > rank[layer_of(source)])


def test_cycles_are_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_upward_imports_are_found():
    graph = {"core.data.loading": {"core.runs.rundir", "core.config"}, "core.runs.rundir": {"core.config"},
             "core.__main__": {"core.publish.hub"}}
    assert upward(graph) == ["core.data.loading (data) -> core.runs.rundir (runs)"]


def test_every_sub_package_is_walked():
    modules = core_modules()
    assert {"core.runs.rundir", "core.data.columns", "core.data.report", "core.runs.events", "core.engine.job",
            "core.serving.predict", "core.publish.hub", "core.tasks.multi_label"} <= set(modules)
    assert {layer_of(name) for name in modules} == set(LAYERS)


def test_no_import_circle_among_core_modules():
    assert cycles(import_graph()) == []


def test_no_import_runs_upward_between_groups():
    assert upward(import_graph()) == []


def test_the_run_directory_and_the_data_report_sit_low():
    graph = import_graph()
    assert graph["core.runs.rundir"] == {"core.artefacts", "core.config"}  # anything may read a run
    assert graph["core.artefacts"] == set()
    assert "core.data.columns" not in graph["core.data.report"]


def test_core_never_imports_gradio():
    for name, path in core_modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not {n for n in imported if n.split(".")[0] == "gradio"}, name
