"""Docs that cannot drift from the code they restate: generated parts are current, and every pointer
to a doc (a file, an #anchor, or "docs/x.md, Section") resolves to something that exists."""
from __future__ import annotations

import re
import subprocess

import pytest

from devtools import docs
from shared.config import REPO_ROOT

POINTER = re.compile(r"(?<![\w/.])(docs/[\w./-]+\.md)(?:#([\w-]+)|, ([A-Z][\w ]*[a-z]))?")
LINK = re.compile(r"\]\(((?!https?:|mailto:)[^)#\s]*)(?:#([^)\s]+))?\)")
SOURCES = ("README.md", "docs", "services", "shared", "ops", "devtools", "deploy", "bench", "scripts", "Makefile")


def tracked(*suffixes: str) -> list:
    names = subprocess.run(["git", "ls-files", *SOURCES], cwd=REPO_ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    return [REPO_ROOT / name for name in names if name.endswith(suffixes) or name == "Makefile"]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def headings(path) -> list[str]:
    return [line.lstrip("#").strip() for line in path.read_text(encoding="utf-8").splitlines()
            if re.match(r"#{1,6} ", line)]


def test_the_readme_event_table_is_generated_from_the_contracts():
    readme = docs.README.read_text(encoding="utf-8")
    assert docs.with_events_table(readme) == readme, "run: python -m devtools.docs"


def test_every_event_of_the_registry_is_in_the_readme():
    readme = docs.README.read_text(encoding="utf-8")
    missing = [event for event in docs.REGISTRY if f"`{event}`" not in readme]
    assert not missing


def pointers():
    for path in tracked(".py", ".md", ".js", ".yml", ".yaml", ".sh", ".toml"):
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in POINTER.finditer(text):
            yield path.relative_to(REPO_ROOT), match.group(1), match.group(2), match.group(3)
        if path.suffix == ".md":
            for match in LINK.finditer(text):
                target = match.group(1)
                if target:
                    resolved = (path.parent / target).resolve().relative_to(REPO_ROOT.resolve())
                    yield path.relative_to(REPO_ROOT), str(resolved), match.group(2), None
                elif match.group(2):
                    yield path.relative_to(REPO_ROOT), str(path.relative_to(REPO_ROOT)), match.group(2), None


def test_every_doc_pointer_resolves():
    broken = []
    for where, target, anchor, section in pointers():
        path = REPO_ROOT / target
        if not path.exists():
            broken.append(f"{where}: {target} does not exist")
            continue
        if path.suffix != ".md" or not (anchor or section):
            continue
        titles = headings(path)
        if anchor and anchor.lower() not in {slug(title) for title in titles}:
            broken.append(f"{where}: {target}#{anchor} names no heading")
        if section and not any(title.lower().startswith(section.lower()) for title in titles):
            broken.append(f"{where}: {target}, {section}: no such section")
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("heading, expected", [("ThongthinBrokerDown", "thongthinbrokerdown"),
                                               ("Lost replies and retried writes", "lost-replies-and-retried-writes"),
                                               ("`make test` on a busy machine", "make-test-on-a-busy-machine")])
def test_anchor_slugs_are_githubs(heading, expected):
    assert slug(heading) == expected
