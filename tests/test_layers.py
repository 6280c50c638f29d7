"""The packages stand in layers: core/ imports nothing of ours, validators/ and storage/ stand on core/
alone, intake/ on all of them. Every import counts, inside functions and TYPE_CHECKING blocks too."""

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


def imported_modules(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file, relative ones resolved."""
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
    return found


def arrows_against_layers(root: Path) -> list[str]:
    """Each import under ``root`` that points down the wrong way (or at tests, bench or scripts)."""
    wrong = []
    for layer, allowed in MAY_IMPORT.items():
        for path in sorted((root / layer).rglob("*.py")):
            module = ".".join(path.relative_to(root).with_suffix("").parts)
            for line, name in imported_modules(path, module):
                top = name.split(".")[0]
                if top in OURS and top not in allowed:
                    wrong.append(f"{path.relative_to(root)}:{line}: {layer} → {name}")
    return wrong


def test_every_import_follows_the_layers():
    assert arrows_against_layers(REPO) == []


def test_each_layer_is_a_package_the_check_reads():
    for layer in MAY_IMPORT:
        assert (REPO / layer / "__init__.py").is_file(), layer


def test_an_arrow_against_the_layers_is_caught(tmp_path):
    for layer in MAY_IMPORT:
        (tmp_path / layer).mkdir()
        (tmp_path / layer / "__init__.py").write_text("")
    (tmp_path / "core" / "errors.py").write_text("import os\n\ndef f():\n    from intake import config\n")
    (tmp_path / "storage" / "db.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from validators.results import Outcome\n"
        "from core.errors import X\nfrom . import models\n")
    (tmp_path / "validators" / "checks.py").write_text("from ..intake import config\nimport storage.records\n")
    (tmp_path / "intake" / "task.py").write_text("import core, storage, validators\nfrom tests import media\n")
    assert arrows_against_layers(tmp_path) == [
        "core/errors.py:4: core → intake",
        "validators/checks.py:1: validators → intake",
        "validators/checks.py:2: validators → storage.records",
        "storage/db.py:3: storage → validators.results",
        "intake/task.py:2: intake → tests",
    ]
