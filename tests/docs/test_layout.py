"""The README's map of the code and the layout blocks (README.md, docs/layout.md) name only paths
that exist, and docs/layout.md names every module and folder there is.

A newcomer picks the one file to change from these; a path that was moved or renamed would send
them to nothing. In a layout block each row starts with a folder and its text names paths under
that folder (``cli/render.py``, ``security/roles.sql``, ``prometheus/``); in the README's table
every backquoted path is from the repository's root (``<name>`` and ``NNNN_*`` stand for any).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP = {"__pycache__", "_build", ".pytest_cache", ".hypothesis"}
PATHLIKE = re.compile(r"(?<![\w./<-])((?:[\w<>*-]+/)*[\w<>*-]+(?:\.(?:py|sql|yml|md|sh|toml)|/))(?![\w/])")


def section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def layout_rows(text: str) -> dict[str, str]:
    """The first ``` block after '# Layout'/'## Layout': folder -> the text of its row."""
    block = re.search(r"^#{1,2} Layout\n.*?^```\n(.*?)^```", text, flags=re.S | re.M).group(1)
    rows: dict[str, str] = {}
    folder = None
    for line in block.splitlines():
        if line and not line[0].isspace():
            folder, _, rest = line.partition(" ")
            assert folder.endswith("/"), f"a layout row starts with a folder: {line!r}"
            rows[folder] = rest
        else:
            rows[folder] += " " + line.strip()
    return rows


def exists(path: str, base: Path = ROOT) -> bool:
    """A path, or any path a placeholder (<name>, NNNN_*) in it stands for."""
    pattern = re.sub(r"<[^>]*>", "*", path).replace("NNNN", "*")
    if "*" in pattern:
        return any(base.glob(pattern.rstrip("/")))
    return (base / path).exists()


def named_paths(text: str) -> list[str]:
    return [m.group(1) for m in PATHLIKE.finditer(text)]


README = (ROOT / "README.md").read_text(encoding="utf-8")
LAYOUT = (ROOT / "docs" / "layout.md").read_text(encoding="utf-8")


def test_every_path_in_the_readmes_code_map_exists():
    table = section(README, "The code: one file per concept")
    paths = [p for cell in re.findall(r"`([^`]+)`", table) for p in [cell] if "/" in p or re.search(r"\.\w+$", p)]
    paths = [p for p in paths if not p.startswith("phoenix.") and p != "phoenix_board.handlers"]
    assert len(paths) > 20
    missing = [p for p in paths if not exists(p)]
    assert not missing, f"README.md's code map names paths that do not exist: {missing}"


@pytest.mark.parametrize("name,text", [("README.md", README), ("docs/layout.md", LAYOUT)])
def test_every_path_in_a_layout_block_exists(name, text):
    rows = layout_rows(text)
    assert {"board/", "workers/", "harness/", "tests/"} <= set(rows)
    missing = [folder for folder in rows if not (ROOT / folder).is_dir()]
    for folder, words in rows.items():
        missing += [folder + p for p in named_paths(words) if not exists(p, ROOT / folder)]
    assert not missing, f"{name}'s layout names paths that do not exist: {missing}"


def parts(folder: Path) -> set[str]:
    """The modules (by name) and sub-folders (with a trailing /) a folder holds."""
    found = set()
    for child in folder.iterdir():
        if child.name in SKIP or child.name.startswith("."):
            continue
        if child.is_dir():
            found.add(child.name + "/")
        elif child.suffix == ".py" and child.name != "__init__.py":
            found.add(child.stem)
    return found


def test_the_layout_page_names_every_module_and_folder():
    rows = layout_rows(LAYOUT)
    top = {p.name + "/" for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")
           and p.name not in SKIP and not p.name.endswith(".egg-info") and any(p.iterdir())}
    assert not top - set(rows), f"docs/layout.md has no row for {sorted(top - set(rows))}"
    unnamed = []
    for folder, words in rows.items():
        for part in sorted(parts(ROOT / folder)):
            if part.endswith("/"):
                if f"{folder}{part}" in rows or re.search(rf"(?<![\w/]){re.escape(part)}", words):
                    continue
            elif re.search(rf"\b{re.escape(part)}\b", words):
                continue
            unnamed.append(folder + part)
    assert not unnamed, f"docs/layout.md does not name {unnamed}"
