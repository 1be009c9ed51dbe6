"""The layout shows the architecture (issue 19): core's packages by concern, each importing only the
layers below it; the doors (pages, api) reach core through a few modules and hold no engine; SQL
lives in the storage layer alone."""
from __future__ import annotations

import ast
import importlib.util
import re
from pathlib import Path

import pytest

from core.storage.embedded import PROJECT_ROOT

# Bottom to top: a module may import its own layer and those below it, never one above.
LAYERS = ["leaves", "files", "rows", "storage", "access", "importing", "doors"]
LEAVES = {"core.errors", "core.fields", "core.progress"}
DOORS = ["pages", "api"]
MOST_CORE_MODULES_PER_DOOR_FILE = 5


def python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (PROJECT_ROOT / folder).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, runtime_only: bool = True) -> set[str]:
    """The project modules a file imports ('from core import importing' names core.importing);
    runtime_only leaves out imports under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text())
    skipped = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped |= {id(child) for child in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if importlib.util.find_spec(node.module) and _is_module(candidate)
                          else node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name.split(".")[0] in ("core", "api", "pages")}


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def layer_of(module: str) -> str:
    if module in LEAVES:
        return "leaves"
    parts = module.split(".")
    if parts[0] in DOORS or module in ("core.cli", "core.__main__", "core"):
        return "doors"
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "doors"


CORE_FILES = [p for p in python_files("core")]


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: module_name(p))
def test_core_modules_import_only_their_layer_and_those_below(path):
    here = LAYERS.index(layer_of(module_name(path)))
    upward = {m for m in imported_modules(path) if m.startswith("core") and LAYERS.index(layer_of(m)) > here}
    assert not upward, f"{module_name(path)} ({LAYERS[here]}) imports a layer above it: {sorted(upward)}"


DOOR_FILES = python_files(*DOORS)


@pytest.mark.parametrize("path", DOOR_FILES, ids=lambda p: module_name(p))
def test_each_page_and_route_file_imports_at_most_five_core_modules_and_holds_no_engine(path):
    used = {m for m in imported_modules(path) if m.startswith("core")}
    assert len(used) <= MOST_CORE_MODULES_PER_DOOR_FILE, sorted(used)
    assert not [m for m in used if m.startswith("core.storage")], "a door reaches storage directly"
    text = path.read_text()
    assert "sqlalchemy" not in text and "Engine" not in text, "a door holds an engine"
    assert not re.search(r"(?<!importing)\.connect\(", text), "a door opens a connection"


STATEMENTS = re.compile(r"\bsa\.text\(|\.execute\(|\.cursor\(|\bcopy\(\"COPY")


@pytest.mark.parametrize("path", [p for p in python_files("core", *DOORS) if "storage" not in p.parts],
                         ids=lambda p: module_name(p))
def test_no_sql_outside_the_storage_layer(path):
    assert not STATEMENTS.search(path.read_text()), f"{module_name(path)} runs SQL"
