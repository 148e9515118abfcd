"""Tests that the repository's own contract stays true as the code moves (docs/design.md).

Every "docs/design.md rule N" or "docs/design.md §N" cited anywhere in the repository names a
rule or section that docs/design.md has, and every repository path that docs/design.md and
docs/architecture.md name (in backticks, or as a relative link) exists. A rule renumbered or
a module moved without its docs fails here, naming the citation or the path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DESIGN = REPO / "docs" / "design.md"
PICTURES = (DESIGN, REPO / "docs" / "architecture.md")
SKIPPED_DIRS = {
    ".git",
    ".venv",
    ".run",
    ".tools",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "node_modules",
    "generated",
    "data",
}
CITING_SUFFIXES = {".py", ".md", ".proto", ".js", ".html", ".css", ".sh", ".toml", ".lua"}
# A citation: "docs/design.md rule 6", "docs/design.md rules 6, 7", "docs/design.md §3, §4".
RULES = re.compile(r"docs/design\.md,?\s+rules?\s+(\d+(?:\s*(?:,|and|&|\u2013|-)\s*\d+)*)")
SECTIONS = re.compile(r"docs/design\.md,?\s+((?:§|section\s+)\d+(?:\s*(?:,|and)\s*§?\d+)*)")
RULE_HEADING = re.compile(r"^### Rule (\d+) — ", re.MULTILINE)
SECTION_HEADING = re.compile(r"^## §(\d+) ", re.MULTILINE)
# A repository path in backticks: starts at a top-level entry, no placeholders.
TOP_LEVEL = (
    "servers/",
    "clients/",
    "spark/",
    "deploy/",
    "tests/",
    "protos/",
    "generated/",
    "docs/",
    ".ci/",
)
BACKTICKED = re.compile(r"`([A-Za-z0-9_.*/-]+)`")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _citing_files() -> Iterator[Path]:
    """_citing_files yields every source and documentation file a citation may live in."""
    for path in REPO.rglob("*"):
        relative = path.relative_to(REPO).parts
        if any(part in SKIPPED_DIRS or part.endswith(".egg-info") for part in relative):
            continue
        if path.is_file() and path.suffix in CITING_SUFFIXES:
            yield path


def _numbers(text: str) -> list[int]:
    return [int(number) for number in re.findall(r"\d+", text)]


def _citations() -> Iterator[tuple[str, str, int]]:
    """_citations yields (where, "rule" or "§", number) for every citation of the design."""
    for path in _citing_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for kind, pattern in (("rule", RULES), ("§", SECTIONS)):
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                where = f"{path.relative_to(REPO)}:{line}"
                for number in _numbers(match.group(1)):
                    yield where, kind, number


def _named_paths(doc: Path) -> Iterator[str]:
    """_named_paths yields the repository paths doc names in backticks or relative links."""
    text = doc.read_text(encoding="utf-8")
    for match in BACKTICKED.finditer(text):
        name = match.group(1)
        if name.startswith(TOP_LEVEL) or name in {"README.md", "pyproject.toml"}:
            yield name
    for match in LINK.finditer(text):
        target = match.group(1)
        if "://" not in target:
            yield str((doc.parent / target).resolve().relative_to(REPO))


def _exists(name: str) -> bool:
    if "*" in name:
        return any(REPO.glob(name))
    return (REPO / name.rstrip("/")).exists()


def test_design_numbers_its_rules_and_sections_in_order() -> None:
    """The design's rules and sections are numbered 1..N, each once, in order."""
    text = DESIGN.read_text(encoding="utf-8")
    rules = [int(n) for n in RULE_HEADING.findall(text)]
    sections = [int(n) for n in SECTION_HEADING.findall(text)]
    assert rules == list(range(1, len(rules) + 1)) and rules
    assert sections == list(range(1, len(sections) + 1)) and sections


def test_every_citation_names_a_rule_or_section_the_design_has() -> None:
    """A comment citing docs/design.md rule N or §N names one that exists."""
    text = DESIGN.read_text(encoding="utf-8")
    known = {
        "rule": {int(n) for n in RULE_HEADING.findall(text)},
        "§": {int(n) for n in SECTION_HEADING.findall(text)},
    }
    missing = [
        f"{where}: {kind} {number}"
        for where, kind, number in _citations()
        if number not in known[kind]
    ]
    assert missing == []


def test_the_citation_patterns_read_every_form_the_code_uses() -> None:
    """The patterns read single, listed and section citations (a guard on the test itself)."""
    sample = (
        "(docs/design.md rule 8) (docs/design.md rules 6, 7) (docs/design.md §3, §4) "
        "(docs/design.md section 3)"
    )
    rules = [n for m in RULES.finditer(sample) for n in _numbers(m.group(1))]
    sections = [n for m in SECTIONS.finditer(sample) for n in _numbers(m.group(1))]
    assert rules == [8, 6, 7]
    assert sections == [3, 4, 3]


@pytest.mark.parametrize("doc", PICTURES, ids=lambda doc: doc.name)
def test_every_path_the_docs_name_exists(doc: Path) -> None:
    """Every file or folder design.md and architecture.md point a reader to is there."""
    missing = sorted({name for name in _named_paths(doc) if not _exists(name)})
    assert missing == []


# OUTSIDE: a citation of a contract the repository does not hold ("DESIGN rule 6").
OUTSIDE = re.compile(r"\bDESIGN(?:\.md|'s)?,?\s+(?:rules?\s+\d|§\d|section\s+\d|invariant)")


def test_no_citation_points_outside_the_repository() -> None:
    """Every rule a comment cites is read in docs/design.md, not in a file the repo lacks."""
    outside = [
        f"{path.relative_to(REPO)}:{text.count(chr(10), 0, match.start()) + 1}"
        for path in _citing_files()
        if path.name != "test_docs.py"
        for text in [path.read_text(encoding="utf-8", errors="replace")]
        for match in OUTSIDE.finditer(text)
    ]
    assert outside == []
