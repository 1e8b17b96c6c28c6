"""One home per extension point (issue 14): every list in Python is derived from its one
definition. Pure Python: no database, no broker."""

from __future__ import annotations

import ast
import subprocess
import sys
import typing
from pathlib import Path

from phoenix_board.board import federation, hormones, models
from phoenix_board.metrics import definitions
from phoenix_board.workers import messages

REPO = Path(__file__).resolve().parents[2]


def test_the_hormone_names_have_one_home():
    assert hormones.HORMONES == ("dopamine", "oxytocin", "adrenaline", "cortisol")
    assert tuple(hormones.BASELINES) == hormones.HORMONES
    assert tuple(models.Hormones.model_fields) == hormones.HORMONES
    assert typing.get_args(messages.CascadeMessage.model_fields["hormone"].annotation) == hormones.HORMONES
    assert federation.HORMONES is definitions.LABEL_VALUES["hormone"] is hormones.HORMONES


def test_no_python_module_spells_the_four_names_out_again():
    """A tuple or Literal of all four names outside board/hormones.py is a second home."""
    names = set(hormones.HORMONES)
    found = []
    for folder in ("board", "workers", "scheduler", "metrics", "phoenix_board"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path == REPO / "board" / "hormones.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Tuple | ast.List | ast.Set):
                    values = {e.value for e in node.elts if isinstance(e, ast.Constant)}
                    if names <= values:
                        found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not found, found


def test_label_values_come_from_the_enums():
    assert definitions.LABEL_VALUES["status"] == tuple(s.value for s in models.TaskStatus)
    assert {"waiting", "cancelled"} <= set(definitions.STATUSES)
    names = [m.name for m in definitions.METRICS]
    assert len(names) == len(set(names)) and all(n.startswith("phoenix_") for n in names)
    for metric in definitions.METRICS:  # bounded labels only: never a task, an agent, or Prometheus' own
        assert not {"task", "agent", "job", "instance"} & set(metric.labels), metric.name


def test_the_sender_is_a_leaf_that_the_beat_may_import():
    """workers/sending.py imports neither Celery nor another workers module, so the scheduler uses
    it and nothing else of the workers."""
    code = ("import sys, phoenix_board.workers.sending; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('celery', 'kombu', 'billiard')"
            " or m.startswith('phoenix_board.workers.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['phoenix_board.workers.sending']"
    for path in sorted((REPO / "scheduler").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module} | {
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        from_workers = {m for m in imported if m.startswith("phoenix_board.workers")}
        named = {f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                 and n.module == "phoenix_board.workers" for a in n.names}
        assert from_workers <= {"phoenix_board.workers"} and named <= {"phoenix_board.workers.sending"}, path.name


def test_every_metric_defined_is_named_in_the_docs():
    pages = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    text = "\n".join(p.read_text(encoding="utf-8") for p in pages if p.exists())
    assert [m.name for m in definitions.METRICS if m.name not in text] == []
