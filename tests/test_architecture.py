"""The code's shape, checked: no import cycle between the modules of nstcore and demo_app, counting imports made
inside functions (they hide a cycle from a top-level check, they do not remove it), and demo_app never imports
torch, not even lazily."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nstcore", "demo_app")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module of ours that ``name`` imports, anywhere in the file (packages' __init__ left out: a submodule
    reading its package's names is how Python packages work, not a cycle of ours)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            targets = [stem] + [f"{stem}.{alias.name}" for alias in node.names]
        for target in targets:
            if target in modules and not modules[target].name == "__init__.py" and target != name:
                found.add(target)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_function_level_imports_included() -> None:
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_check_finds_a_cycle_hidden_in_a_function(tmp_path) -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
    # and the parser sees an import inside a function
    (tmp_path / "m.py").write_text("def f():\n    from .other import thing\n")
    fake = {"pkg.m": tmp_path / "m.py", "pkg.other": tmp_path / "other.py"}
    assert _imports("pkg.m", tmp_path / "m.py", fake) == {"pkg.other"}


def test_demo_app_never_imports_torch() -> None:
    for name, path in _modules().items():
        if not name.startswith("demo_app"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "torch" for a in node.names), name
            elif isinstance(node, ast.ImportFrom) and not node.level:
                assert (node.module or "").split(".")[0] != "torch", name


def test_every_private_upstream_name_we_use_still_exists() -> None:
    """demo_app/upstream.py lists each private name of Panel/Bokeh/param/Dask in use, with why; an upgrade that
    removes one fails here, by name, instead of somewhere in a page."""
    from demo_app.upstream import PRIVATE_NAMES, PrivateName, missing

    assert missing() == []
    gone = (
        PrivateName("panel.widgets:FileDropper", "_no_such_name", "x.py", "test"),
        PrivateName("bokeh.server.contexts:BokehSessionContext", "_no_such_attribute", "x.py", "test", "init"),
        PrivateName("no_such_module", "x", "x.py", "test"),
    )
    assert len(missing(gone)) == 3
    # and the list covers every private name the code reaches into (by its spelling in the source)
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "demo_app").rglob("*.py"))
    for entry in PRIVATE_NAMES:
        assert entry.name in source and (ROOT / "demo_app" / entry.where).exists(), entry


def test_nstcore_never_prints_and_the_cli_speaks_in_one_place() -> None:
    """The engine hands progress over as snapshots; the command line's lines go through cli/shared.say only."""
    for name, path in _modules().items():
        if not name.startswith("nstcore"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "print", f"{name} line {node.lineno}"
            if isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr") and name != "nstcore.cli.shared":
                assert not (isinstance(node.value, ast.Name) and node.value.id == "sys"), f"{name} line {node.lineno}"


def test_modules_stay_under_400_lines() -> None:
    long = {
        name: n for name, path in _modules().items() if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}, long


def test_functions_stay_under_60_lines() -> None:
    """One job per function: none in nstcore or demo_app is longer than 60 lines (docstring included)."""
    long = {}
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > 60:
                    long[f"{name}.{node.name}"] = lines
    assert long == {}, long
