"""The import graph of core/: no module reaches back to one that imports it, directly or round a circle."""
import ast
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "core"


def _imported(path: Path, modules: set[str]) -> set[str]:
    """The core modules a file imports anywhere in it (function-level imports count: they are still a dependency),
    except under `if TYPE_CHECKING:`, which never runs."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "core":
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("core."):
            names.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            names |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("core.")}
    return (names & modules) - {path.stem}


def import_graph(folder: Path = CORE) -> dict[str, set[str]]:
    files = {p.stem: p for p in folder.glob("*.py")}
    return {name: _imported(path, set(files)) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Circles, each as the path that closes it (a -> b -> a): at least one in every tangle, none without one."""
    found, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        for target in sorted(graph[node]):
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


def test_cycles_are_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_among_core_modules():
    graph = import_graph()
    assert {"rundir", "data", "data_report", "events"} <= set(graph)
    assert cycles(graph) == []


def test_the_run_directory_and_the_data_report_sit_low():
    graph = import_graph()
    assert graph["rundir"] == {"artefacts", "config"}  # anything may read a run; its files depend on nothing else
    assert graph["artefacts"] == set()
    assert "data" not in graph["data_report"]
