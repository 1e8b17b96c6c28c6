"""Sphinx configuration of the Phoenix Board documentation (MyST Markdown pages, furo theme).

Build: ``sphinx-build -W --keep-going -b html docs <out>``; tests/docs/test_docs_build.py does that,
warnings as errors, so a broken link or anchor fails CI.
"""

from __future__ import annotations

import sys
from pathlib import Path

# the one helper module that turns the typer app into the click command sphinx-click documents
sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "Phoenix Board"
author = "Phoenix Board contributors"
copyright = "Phoenix Board contributors"  # noqa: A001 - Sphinx's setting name

extensions = ["myst_parser", "sphinx_click", "cli_reference"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store"]
root_doc = "index"

# headings get GitHub's anchors, so links written for GitHub (page.md#section) work in the site too
myst_heading_anchors = 4
myst_enable_extensions = ["deflist"]

html_theme = "furo"
html_title = "Phoenix Board"
# the pages are read on GitHub too: no "view source" copies in the built site
html_copy_source = False
html_show_sourcelink = False
