"""Tests for the repository's layers: which package may import which (docs/architecture.md).

Libraries (the campaign library, the ads library, storage, messaging and the shared server
modules) are imported by processes, never the other way round; a process never imports
another process; Spark jobs and servers never import the launcher or the command line. A
change that breaks a layer fails here, naming the module and the import.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOP = ("servers", "clients", "spark", "deploy")
PROCESSES = (
    "servers.adserving",
    "servers.feedback",
    "servers.admanager",
    "servers.campaign_service",
)
# FORBIDDEN_TOP: each top-level package and the top-level packages it must never import.
FORBIDDEN_TOP = {
    "servers": ("clients", "deploy", "spark"),
    "spark": ("clients", "deploy"),
    "deploy": ("clients",),
}


def _module(path: Path) -> str:
    """_module is the dotted name of a source file under the repository."""
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> Iterator[tuple[str, str]]:
    """_imports yields (importer, imported) for every first-party absolute import."""
    for top in TOP:
        for path in sorted((REPO / top).rglob("*.py")):
            importer = _module(path)
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                else:
                    continue
                for name in names:
                    if name.split(".")[0] in TOP:
                        yield importer, name


def _within(name: str, package: str) -> bool:
    """_within: name is package itself or inside it."""
    return name == package or name.startswith(package + ".")


def _process(name: str) -> str | None:
    """_process is the process package name belongs to, or None for a library module."""
    return next((p for p in PROCESSES if _within(name, p)), None)


IMPORTS = sorted(set(_imports()))


def test_the_scan_sees_the_platform() -> None:
    """The scan finds the imports it is meant to judge (an empty scan would pass anything)."""
    assert ("servers.adserving.server", "servers.runtime") in IMPORTS
    assert any(_within(imported, "servers.campaigns") for _, imported in IMPORTS)


@pytest.mark.parametrize("process", PROCESSES)
def test_a_process_imports_no_other_process(process: str) -> None:
    """A server's package imports libraries, never another server's package."""
    crossing = [
        (importer, imported)
        for importer, imported in IMPORTS
        if _process(importer) == process and _process(imported) not in (None, process)
    ]
    assert crossing == []


def test_libraries_import_no_process() -> None:
    """The shared libraries stand alone: nothing under servers/ outside a process imports one."""
    crossing = [
        (importer, imported)
        for importer, imported in IMPORTS
        if _within(importer, "servers") and _process(importer) is None and _process(imported)
    ]
    assert crossing == []


def test_spark_and_clients_use_libraries_not_processes() -> None:
    """Spark jobs and the command line reach servers through libraries and the wire."""
    crossing = [
        (importer, imported)
        for importer, imported in IMPORTS
        if importer.split(".")[0] in ("spark", "clients") and _process(imported)
    ]
    assert crossing == []


@pytest.mark.parametrize("top", sorted(FORBIDDEN_TOP))
def test_lower_layers_never_import_higher_ones(top: str) -> None:
    """servers ← spark ← deploy ← clients: no import points up, so there is no cycle."""
    upward = [
        (importer, imported)
        for importer, imported in IMPORTS
        if importer.split(".")[0] == top and imported.split(".")[0] in FORBIDDEN_TOP[top]
    ]
    assert upward == []
