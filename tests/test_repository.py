"""The repository is self-contained: test data inside it, design facts cited from docs/."""

import hashlib
import re
from pathlib import Path

from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("src", "tests", "scripts")
DOC_CITATION = re.compile(r"docs/([\w.-]+\.md)")


def test_fixtures_are_present_and_byte_identical() -> None:
    sums = (FIXTURES / "SHA256SUMS").read_text().splitlines()
    assert len(sums) == 11
    for line in sums:
        digest, name = line.split(maxsplit=1)
        assert hashlib.sha256((FIXTURES / name).read_bytes()).hexdigest() == digest, name


def _texts() -> list[tuple[Path, str]]:
    files = [ROOT / "pyproject.toml", ROOT / "README.md"]
    for folder in SOURCES:
        files += [p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".yaml", ".sh")]
    return [(p, p.read_text()) for p in files if p != Path(__file__)]


def test_code_cites_docs_not_the_spec() -> None:
    """Users don't have SPEC.md: comments cite docs/ in this repository."""
    offenders = [str(p) for p, text in _texts() if re.search(r"SPEC (section|§)|§\d", text)]
    assert offenders == []


def test_every_cited_design_note_exists() -> None:
    cited = {name for _, text in _texts() for name in DOC_CITATION.findall(text)}
    assert cited, "no docs/ citations found"
    missing = sorted(name for name in cited if not (ROOT / "docs" / name).is_file())
    assert missing == []
