"""Every reference to the documentation resolves: from code, SQL, alert rules, Grafana dashboards,
configuration, tests, the README and the pages themselves.

A reference names a page as ``docs/<path>.md`` (or ``docs/<path>.md#<anchor>``); the file must
exist and the anchor must be one of its headings' anchors (GitHub's and MyST's, which agree). Links
between pages and from the README are checked the same way. An alert's ``runbook_url`` names its
runbook page in the built site (``…/operations/runbooks/<alert>.html``), so that page's source must
exist. What the README used to hold moved to docs/, so a reference to a README section
(``README "Section"``) is an error: it would send a reader to a page that no longer has it.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP_DIRS = {".git", ".venv", "_build", "__pycache__", "node_modules", ".pytest_cache", ".hypothesis", ".phoenix"}
TEXT_SUFFIXES = {".py", ".sql", ".yml", ".yaml", ".json", ".md", ".toml", ".cfg", ".ini", ".txt", ".example", ".sh",
                 ".conf", ".tmpl", ""}
REFERENCE = re.compile(r"(?<![\w/.])docs/([\w./-]+?\.md)(?:#([\w-]+))?")
MD_LINK = re.compile(r"\]\((?!https?:|mailto:)([^)\s#]*\.md)?(?:#([\w-]+))?\)")
README_SECTION = re.compile(r"README(?:'s)?\s*(?:§|\"|\(#|#|section)")


def files() -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        if any(part in SKIP_DIRS or part.endswith(".egg-info") for part in path.relative_to(ROOT).parts):
            continue
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name in {"Dockerfile", "run"}):
            found.append(path)
    return sorted(found)


@functools.cache
def anchors(page: Path) -> frozenset[str]:
    """The anchors of a Markdown page's headings, as GitHub and MyST (myst_heading_anchors) make them."""
    text = re.sub(r"^```.*?^```", "", page.read_text(encoding="utf-8"), flags=re.S | re.M)
    slugs = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        n, candidate = 0, slug
        while candidate in slugs:  # a repeated heading gets -1, -2, …
            n += 1
            candidate = f"{slug}-{n}"
        slugs.add(candidate)
    return frozenset(slugs)


def check(page: Path, anchor: str | None, where: str) -> str | None:
    if not page.is_file():
        return f"{where}: {page.relative_to(ROOT) if page.is_relative_to(ROOT) else page} does not exist"
    if anchor and anchor not in anchors(page):
        return f"{where}: {page.relative_to(ROOT)} has no heading #{anchor}"
    return None


FILES = files()


def test_every_docs_reference_resolves():
    broken, seen = [], 0
    for path in FILES:
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            for m in REFERENCE.finditer(line):
                seen += 1
                problem = check(ROOT / "docs" / m.group(1), m.group(2), f"{path.relative_to(ROOT)}:{number}")
                if problem:
                    broken.append(problem)
    assert not broken, "\n".join(broken)
    assert seen > 50, "code, SQL and tests point at the docs pages that explain them"


@pytest.mark.parametrize("page", [p for p in FILES if p.suffix == ".md" and (p.name == "README.md" and p.parent == ROOT
                                                                              or ROOT / "docs" in p.parents)],
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_markdown_link_resolves(page):
    broken = []
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        for m in MD_LINK.finditer(line):
            target = (page.parent / m.group(1)).resolve() if m.group(1) else page
            problem = check(target, m.group(2), f"{page.relative_to(ROOT)}:{number}")
            if problem:
                broken.append(problem)
    assert not broken, "\n".join(broken)


# Released migrations are never edited: migrate records their checksums and refuses a changed file,
# so their comments keep naming the README sections they were written against.
RELEASED = ROOT / "sql" / "migrations"


def test_no_reference_to_a_readme_section():
    stale = []
    for path in FILES:
        if path == ROOT / "README.md" or RELEASED in path.parents:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if README_SECTION.search(line) and path != Path(__file__):
                stale.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert not stale, "these point at README sections that moved to docs/:\n" + "\n".join(stale)


def runbook_urls() -> dict[str, str]:
    """Each alert of the rule file with its runbook_url (read as text: one rule per `- alert:` item)."""
    rules = (ROOT / "metrics/prometheus/alerts.yml").read_text().split("- alert: ")[1:]
    return {rule.split()[0]: re.search(r"runbook_url: '([^']*)'", rule).group(1) for rule in rules}


def test_every_runbook_url_names_a_runbook_page():
    urls = runbook_urls()
    assert urls
    broken = []
    for alert, url in urls.items():
        m = re.fullmatch(r"\{\{ \$externalLabels\.runbook_base_url \}\}/(operations/runbooks/[\w-]+)\.html", url)
        if not m or not (ROOT / "docs" / f"{m.group(1)}.md").is_file():
            broken.append(f"{alert}: {url}")
    assert not broken, "runbook_url without a runbook page:\n" + "\n".join(broken)


def test_every_runbook_page_has_its_alert():
    alerts = {name.lower() for name in runbook_urls()}
    pages = {p.stem for p in (ROOT / "docs/operations/runbooks").glob("*.md")}
    assert pages == alerts, \
        f"pages without an alert: {sorted(pages - alerts)}; alerts without a page: {sorted(alerts - pages)}"
