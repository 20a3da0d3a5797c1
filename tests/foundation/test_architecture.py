"""The shape docs/architecture.md promises: one name per class, and packages whose imports run one way."""

from __future__ import annotations

import ast
import collections
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = {"cdk_stream_fn": ROOT / "cdk_stream_fn", "stream_fn": ROOT / "runtime" / "stream_fn"}


def _modules(package: str) -> dict[str, pathlib.Path]:
    base = PACKAGES[package]
    modules = {}
    for path in sorted(base.rglob("*.py")):
        parts = path.relative_to(base.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_time_imports(module: str, path: pathlib.Path, known: set[str]) -> set[str]:
    """The package's modules that `module` imports when it is imported (not in functions, not for typing)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.If) and _is_type_checking(node):
                visit(node.orelse)
            elif isinstance(node, (ast.If, ast.Try)):
                visit(node.body)
                visit(node.orelse)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = module.split(".")
                    anchor = anchor if is_package else anchor[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)

    visit(ast.parse(path.read_text()).body)
    return {name for name in found if name in known and name != module}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_two_modules_define_a_class_of_the_same_name(package: str) -> None:
    homes: dict[str, list[str]] = collections.defaultdict(list)
    for module, path in _modules(package).items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                homes[node.name].append(module)

    assert {name: where for name, where in homes.items() if len(set(where)) > 1} == {}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_cycle_at_import_time(package: str) -> None:
    modules = _modules(package)
    known = set(modules)
    graph = {module: _import_time_imports(module, path, known) for module, path in modules.items()}
    # A package's __init__ importing its own submodules is how packages re-export; it is not a cycle
    # unless a submodule imports the package back, which the edges below still show.
    packages = {module for module, path in modules.items() if path.name == "__init__.py"}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def walk(module: str, trail: list[str]) -> None:
        state[module] = 1
        for imported in sorted(graph[module]):
            if module in packages and imported.startswith(module + "."):
                continue
            if state.get(imported) == 1:
                cycles.append(trail[trail.index(imported) :] + [imported])
            elif imported not in state:
                walk(imported, trail + [imported])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])

    assert cycles == []
