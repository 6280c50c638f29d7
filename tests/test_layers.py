"""The packages stand in layers, and intake/'s rooms keep to theirs. Every import counts, inside functions and
TYPE_CHECKING blocks too.

- core/ imports nothing of ours; validators/ and storage/ stand on core/ alone; intake/ on all of them.
- In intake/: the pipeline imports no source (intake.inbox, intake.mail), and nothing that stands on it
  (review, report, desk, cli); the sources import neither the review actions, the report nor the desk.
- No module imports, however indirectly, a module that imports it back.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

OURS = {"core", "validators", "storage", "intake", "tests", "bench", "scripts"}
MAY_IMPORT = {
    "core": {"core"},
    "validators": {"core", "validators"},
    "storage": {"core", "storage"},
    "intake": {"core", "validators", "storage", "intake"},
}
# Rooms of intake/ and the rooms each may not import.
MAY_NOT = {
    "intake.pipeline": {"intake.inbox", "intake.mail", "intake.review", "intake.report", "intake.desk", "intake.cli"},
    "intake.inbox": {"intake.review", "intake.report", "intake.desk", "intake.cli"},
    "intake.mail": {"intake.review", "intake.report", "intake.desk", "intake.cli"},
}


def imported_modules(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, absolute name) of every import in the file, relative ones resolved; ``from a import b`` gives
    both ``a`` and ``a.b`` (b may be a module)."""
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            found += [(node.lineno, f"{name}.{alias.name}") for alias in node.names]
    return found


def modules_of(root: Path) -> dict[str, Path]:
    """Every module of our four packages by dotted name (a package by its own name)."""
    found = {}
    for layer in MAY_IMPORT:
        for path in sorted((root / layer).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def arrows_against_layers(root: Path) -> list[str]:
    """Each import under ``root`` that points down the wrong way (or at tests, bench or scripts), or from a room
    of intake/ into one it may not import."""
    wrong = []
    for module, path in modules_of(root).items():
        layer = module.split(".")[0]
        room = ".".join(module.split(".")[:2])
        for line, name in imported_modules(path, module if path.name != "__init__.py" else f"{module}.__init__"):
            top = name.split(".")[0]
            if top in OURS and top not in MAY_IMPORT[layer]:
                wrong.append(f"{path.relative_to(root)}:{line}: {layer} → {name}")
            elif any(name == other or name.startswith(other + ".") for other in MAY_NOT.get(room, ())):
                wrong.append(f"{path.relative_to(root)}:{line}: {room} → {name}")
    return sorted(set(wrong))


def import_cycles(root: Path) -> list[list[str]]:
    """Groups of modules that import each other, directly or through others (Tarjan's strongly connected
    components of the import graph)."""
    modules = modules_of(root)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for _, name in imported_modules(path, module if path.name != "__init__.py" else f"{module}.__init__"):
            parts = name.split(".")
            while parts and ".".join(parts) not in modules:
                parts.pop()
            target = ".".join(parts)
            # A module's own package (its __init__) is not an import back.
            if parts and target != module and not module.startswith(target + "."):
                targets.add(target)
        graph[module] = targets
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


def test_every_import_follows_the_layers_and_the_rooms():
    assert arrows_against_layers(REPO) == []


def test_no_module_imports_itself_back():
    assert import_cycles(REPO) == []


def test_each_layer_and_room_is_a_package_that_says_its_job():
    for layer in MAY_IMPORT:
        assert (REPO / layer / "__init__.py").is_file(), layer
    for room in ("inbox", "mail", "pipeline", "review", "report", "service", "cli", "desk"):
        init = REPO / "intake" / room / "__init__.py"
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), room
    assert sorted(p.name for p in (REPO / "intake").glob("*.py")) == ["__init__.py", "__main__.py", "config.py",
                                                                       "labels.py"]


def test_an_arrow_against_the_layers_or_rooms_is_caught(tmp_path):
    for layer in MAY_IMPORT:
        (tmp_path / layer).mkdir()
        (tmp_path / layer / "__init__.py").write_text("")
    for room in ("pipeline", "inbox", "report"):
        (tmp_path / "intake" / room).mkdir()
        (tmp_path / "intake" / room / "__init__.py").write_text("")
    (tmp_path / "core" / "errors.py").write_text("import os\n\ndef f():\n    from intake import config\n")
    (tmp_path / "storage" / "db.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from validators.results import Outcome\n"
        "from core.errors import X\nfrom . import models\n")
    (tmp_path / "validators" / "checks.py").write_text("from ..intake import config\nimport storage.records\n")
    (tmp_path / "intake" / "pipeline" / "stages.py").write_text("import core, storage, validators\n"
                                                                "from tests import media\n"
                                                                "from intake.inbox import folder\n")
    (tmp_path / "intake" / "inbox" / "folder.py").write_text("def f():\n    from ..report import build\n")
    assert arrows_against_layers(tmp_path) == [
        "core/errors.py:4: core → intake",
        "core/errors.py:4: core → intake.config",
        "intake/inbox/folder.py:2: intake.inbox → intake.report",
        "intake/inbox/folder.py:2: intake.inbox → intake.report.build",
        "intake/pipeline/stages.py:2: intake → tests",
        "intake/pipeline/stages.py:2: intake → tests.media",
        "intake/pipeline/stages.py:3: intake.pipeline → intake.inbox",
        "intake/pipeline/stages.py:3: intake.pipeline → intake.inbox.folder",
        "storage/db.py:3: storage → validators.results",
        "storage/db.py:3: storage → validators.results.Outcome",
        "validators/checks.py:1: validators → intake",
        "validators/checks.py:1: validators → intake.config",
        "validators/checks.py:2: validators → storage.records",
    ]


def test_a_cycle_is_caught(tmp_path):
    for layer in MAY_IMPORT:
        (tmp_path / layer).mkdir()
        (tmp_path / layer / "__init__.py").write_text("")
    (tmp_path / "intake" / "a.py").write_text("from intake import b\n")
    (tmp_path / "intake" / "b.py").write_text("def f():\n    from intake.c import x\n")
    (tmp_path / "intake" / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                              "    from intake.a import y\n")
    (tmp_path / "intake" / "d.py").write_text("import intake.a\n")
    assert import_cycles(tmp_path) == [["intake.a", "intake.b", "intake.c"]]
